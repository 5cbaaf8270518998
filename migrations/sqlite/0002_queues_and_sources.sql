-- Pending subscriptions are the confirmation email's queue (rows with no confirmation_sent_at).
-- A claim sets confirmation_not_before to the lease's end: no other process takes the row until
-- then, and a process that dies mid-send leaves it to be sent again once the lease runs out. After
-- a temporary failure the same column holds the retry time.
ALTER TABLE subscriptions ADD COLUMN confirmation_not_before TEXT;
ALTER TABLE subscriptions ADD COLUMN confirmation_attempts INTEGER NOT NULL DEFAULT 0;

-- SHA-256 of an issue file as last added, so the content watcher can tell a changed file from one
-- it has already seen (a restart must not re-add, and so reset, an issue staff have scheduled).
ALTER TABLE issues ADD COLUMN source_digest TEXT;
CREATE INDEX issues_source_digest ON issues (source_digest);

-- The archive's and feeds' question — which issues are public now, and when did the latest
-- change — answered from this index alone: issue rows carry their rendered bodies in overflow
-- pages, and walking those for every feed request made a conditional GET cost milliseconds.
CREATE INDEX issues_archive ON issues (published_on, list_id, send_at, status, updated_at);
