-- Retention (issue 16): delivery rows and bounce and confirmation events are pruned after a
-- while; what each issue's numbers were is kept for ever in one row.

-- An issue's send as it ended, written before any of its delivery rows go. Once pruned_at is set
-- every number of the issue (counts, curve, errors) is read from here.
CREATE TABLE issue_summaries (
    issue_id      INTEGER PRIMARY KEY REFERENCES issues(id) ON DELETE CASCADE,
    queued        INTEGER NOT NULL,
    sending       INTEGER NOT NULL,
    sent          INTEGER NOT NULL,
    failed        INTEGER NOT NULL,
    bounced       INTEGER NOT NULL,
    skipped       INTEGER NOT NULL,
    curve         TEXT NOT NULL DEFAULT '[]',   -- JSON [{"minute","sent","failed"}]
    top_errors    TEXT NOT NULL DEFAULT '[]',   -- JSON [[error, count]]
    summarised_at TEXT NOT NULL,
    pruned_at     TEXT                          -- every delivery row of the issue is gone
);

-- The event log stays append-only, with one way out: the prune sets this bound inside its own
-- transaction, deletes bounce and confirmation events older than it, and clears it again before
-- committing. Staff actions, consent (subscription.*), erasures and sends are never deletable.
CREATE TABLE event_retention (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    prune_before TEXT
);
INSERT INTO event_retention (id, prune_before) VALUES (1, NULL);

DROP TRIGGER events_append_only_delete;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
WHEN NOT ((OLD.type LIKE 'bounce.%' OR OLD.type LIKE 'confirmation.%')
          AND OLD.at < COALESCE((SELECT prune_before FROM event_retention WHERE id = 1), ''))
BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only');
END;

-- The prune finds finished sends by when they ended.
CREATE INDEX issues_finished ON issues (status, finished_at);
