-- Security review (issue 14).
-- A bounce matched to a subscriber only by the address a report names is evidence for staff,
-- never a reason to change anyone's state.
ALTER TABLE bounces ADD COLUMN verified boolean NOT NULL DEFAULT true;

-- An editor's draft is not public on the archive and feeds until an owner schedules or sends it.
ALTER TABLE issues ADD COLUMN released boolean NOT NULL DEFAULT true;
