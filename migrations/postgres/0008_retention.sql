-- Retention (issue 16): delivery rows and bounce and confirmation events are pruned after a
-- while; what each issue's numbers were is kept for ever in one row.

-- An issue's send as it ended, written before any of its delivery rows go. Once pruned_at is set
-- every number of the issue (counts, curve, errors) is read from here.
CREATE TABLE issue_summaries (
    issue_id      bigint PRIMARY KEY REFERENCES issues(id) ON DELETE CASCADE,
    queued        bigint NOT NULL,
    sending       bigint NOT NULL,
    sent          bigint NOT NULL,
    failed        bigint NOT NULL,
    bounced       bigint NOT NULL,
    skipped       bigint NOT NULL,
    curve         jsonb NOT NULL DEFAULT '[]',
    top_errors    jsonb NOT NULL DEFAULT '[]',
    summarised_at timestamptz NOT NULL,
    pruned_at     timestamptz
);

-- The event log stays append-only, with one way out: the prune sets this bound inside its own
-- transaction, deletes bounce and confirmation events older than it, and clears it again before
-- committing. Staff actions, consent (subscription.*), erasures and sends are never deletable.
CREATE TABLE event_retention (
    id           integer PRIMARY KEY CHECK (id = 1),
    prune_before timestamptz
);
INSERT INTO event_retention (id, prune_before) VALUES (1, NULL);

CREATE FUNCTION events_prunable_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (OLD.type LIKE 'bounce.%' OR OLD.type LIKE 'confirmation.%')
       AND OLD.at < (SELECT prune_before FROM event_retention WHERE id = 1) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the event log is append-only';
END
$$;

DROP TRIGGER events_append_only_delete ON events;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_prunable_only();

-- The prune finds finished sends by when they ended.
CREATE INDEX issues_finished ON issues (status, finished_at);
