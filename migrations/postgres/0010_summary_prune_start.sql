-- Summaries are now written when a send finishes (its pages then read them instead of counting a
-- million rows), long before a prune. This marks when the prune began taking the rows: until
-- then the rows are whole and an issue's top errors are read from them (late bounces included).
ALTER TABLE issue_summaries ADD COLUMN prune_started_at timestamptz;
