-- Pending subscriptions are the confirmation email's queue (rows with no confirmation_sent_at).
-- A claim sets confirmation_not_before to the lease's end; after a temporary failure the same
-- column holds the retry time.
ALTER TABLE subscriptions ADD COLUMN confirmation_not_before timestamptz;
ALTER TABLE subscriptions ADD COLUMN confirmation_attempts bigint NOT NULL DEFAULT 0;

-- SHA-256 of an issue file as last added, so the content watcher can tell a changed file from one
-- it has already seen.
ALTER TABLE issues ADD COLUMN source_digest text;
CREATE INDEX issues_source_digest ON issues (source_digest);

-- The archive's and feeds' question — which issues are public now, and when did the latest
-- change — answered from this index alone.
CREATE INDEX issues_archive ON issues (published_on, list_id, send_at, status, updated_at);
