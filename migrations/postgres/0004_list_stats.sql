-- Subscriber counts per list, recomputed in the background.
CREATE TABLE list_stats (
    list_id      bigint PRIMARY KEY REFERENCES lists(id) ON DELETE CASCADE,
    pending      bigint NOT NULL,
    confirmed    bigint NOT NULL,
    unsubscribed bigint NOT NULL,
    bounced      bigint NOT NULL,
    complained   bigint NOT NULL,
    -- the newest event counted in: a newer one means the numbers may have moved
    as_of_event  bigint NOT NULL,
    counted_at   timestamptz NOT NULL
);

-- `issue status`: the rate over the last minute and the most frequent errors.
CREATE INDEX deliveries_sent_at ON deliveries (issue_id, sent_at) WHERE state = 'sent';
CREATE INDEX deliveries_errors ON deliveries (issue_id, last_error) WHERE last_error IS NOT NULL;

-- The dashboard's charts.
CREATE INDEX subscriptions_confirmed ON subscriptions (list_id, confirmed_at) WHERE confirmed_at IS NOT NULL;
CREATE INDEX subscriptions_unsubscribed ON subscriptions (list_id, unsubscribed_at) WHERE unsubscribed_at IS NOT NULL;
CREATE INDEX bounces_issue ON bounces (issue_id, kind);
DROP INDEX bounces_blocked_domain;
CREATE INDEX bounces_blocked_domain ON bounces (reason, receiving_domain, received_at);
CREATE INDEX events_type_at ON events (type, at);
