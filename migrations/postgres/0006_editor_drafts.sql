-- Security review (issue 14), follow-up: editors' drafts are not public until an owner schedules
-- or sends them (as on SQLite; on a new database there is nothing to change).
UPDATE issues SET released = false
WHERE status = 'draft'
  AND id IN (SELECT issue_id FROM events WHERE type = 'issue.created' AND (actor LIKE 'token:%' OR actor LIKE 'staff:%'));
