-- Several instances may share a database (PostgreSQL), so an import interrupted by its process
-- dying is told from one another instance is still running by who runs it and when it last
-- reported progress, not by "it was running when I started".
ALTER TABLE import_jobs ADD COLUMN owner TEXT;          -- host:pid of the process running it
ALTER TABLE import_jobs ADD COLUMN progress_at TEXT;    -- its last progress report
