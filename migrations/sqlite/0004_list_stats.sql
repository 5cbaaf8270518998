-- Subscriber counts per list, recomputed in the background (as listmonk's materialised view
-- is): the dashboard and the API read one small row per list instead of counting a million
-- subscriptions on every view.
CREATE TABLE list_stats (
    list_id      INTEGER PRIMARY KEY REFERENCES lists(id) ON DELETE CASCADE,
    pending      INTEGER NOT NULL,
    confirmed    INTEGER NOT NULL,
    unsubscribed INTEGER NOT NULL,
    bounced      INTEGER NOT NULL,
    complained   INTEGER NOT NULL,
    -- the newest event counted in: a newer one means the numbers may have moved
    as_of_event  INTEGER NOT NULL,
    counted_at   TEXT NOT NULL
);

-- `issue status`: the rate over the last minute and the most frequent errors, without reading
-- every delivery of the issue.
CREATE INDEX deliveries_sent_at ON deliveries (issue_id, sent_at) WHERE state = 'sent';
CREATE INDEX deliveries_errors ON deliveries (issue_id, last_error) WHERE last_error IS NOT NULL;

-- The dashboard's charts: subscribers over time, bounce and complaint rates per send, blocked
-- messages per receiving domain.
CREATE INDEX subscriptions_confirmed ON subscriptions (list_id, confirmed_at) WHERE confirmed_at IS NOT NULL;
CREATE INDEX subscriptions_unsubscribed ON subscriptions (list_id, unsubscribed_at) WHERE unsubscribed_at IS NOT NULL;
CREATE INDEX bounces_issue ON bounces (issue_id, kind);
DROP INDEX bounces_blocked_domain;
CREATE INDEX bounces_blocked_domain ON bounces (reason, receiving_domain, received_at);
CREATE INDEX events_type_at ON events (type, at);
