-- Staff: accounts with roles, API tokens, login sessions, and background import jobs.

CREATE TABLE staff (
    id             INTEGER PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,          -- EmailAddress::key(): one account per address, whatever its case
    password_hash  TEXT NOT NULL,                 -- argon2id PHC string
    role           TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    created_at     TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,           -- SHA-256 of the token, hex: the token is never stored
    role          TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    created_at    TEXT NOT NULL,
    last_used_at  TEXT,
    revoked_at    TEXT
);
-- One live token per name, so `token revoke NAME` names exactly one.
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE staff_sessions (
    id_hash     TEXT PRIMARY KEY,                 -- SHA-256 of the cookie value
    staff_id    INTEGER NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);

CREATE TABLE import_jobs (
    id           INTEGER PRIMARY KEY,
    list_id      INTEGER NOT NULL REFERENCES lists(id),
    actor        TEXT NOT NULL,
    confirmed    INTEGER NOT NULL DEFAULT 0,
    state        TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed')),
    bytes_total  INTEGER NOT NULL DEFAULT 0,
    bytes_read   INTEGER NOT NULL DEFAULT 0,
    rows         INTEGER NOT NULL DEFAULT 0,
    imported     INTEGER NOT NULL DEFAULT 0,
    updated      INTEGER NOT NULL DEFAULT 0,
    skipped      INTEGER NOT NULL DEFAULT 0,
    problems     TEXT NOT NULL DEFAULT '[]',      -- JSON array of {line, message}, capped
    error        TEXT,
    started_at   TEXT NOT NULL,
    finished_at  TEXT
);

