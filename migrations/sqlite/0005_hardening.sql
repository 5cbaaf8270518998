-- Security review (issue 14).
-- A bounce matched to a subscriber only by the address a report names (no signed VERP tag or
-- Message-ID of ours) is evidence for staff, never a reason to change anyone's state.
ALTER TABLE bounces ADD COLUMN verified INTEGER NOT NULL DEFAULT 1;

-- An editor's draft is not public on the archive and feeds until an owner schedules or sends
-- it; issues from the operator's own files (CLI, content folder) are. Existing issues keep
-- what they had.
ALTER TABLE issues ADD COLUMN released INTEGER NOT NULL DEFAULT 1;
