-- Security review (issue 14), follow-up: 0005 marked every existing issue released, including
-- drafts that editors wrote through the API or the admin pages. Those are not public until an
-- owner schedules or sends them, like the drafts written since.
UPDATE issues SET released = 0
WHERE status = 'draft'
  AND id IN (SELECT issue_id FROM events WHERE type = 'issue.created' AND (actor LIKE 'token:%' OR actor LIKE 'staff:%'));
