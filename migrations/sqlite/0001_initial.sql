-- Tidings schema, version 1.
-- Times are RFC 3339 UTC text (sortable as text, portable to PostgreSQL's timestamptz).
-- Sized for lists of 1,000,000+ subscribers: every index below serves a named query.

CREATE TABLE settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL
);

CREATE TABLE lists (
    id          INTEGER PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    language    TEXT NOT NULL,
    public      INTEGER NOT NULL DEFAULT 1 CHECK (public IN (0, 1)),
    created_at  TEXT NOT NULL
);

-- One row a person. `email` is the address as delivered (domain lower-cased, punycode);
-- `email_key` is it wholly lower-cased and is what makes two rows the same person.
CREATE TABLE subscribers (
    id           INTEGER PRIMARY KEY,
    email        TEXT NOT NULL,
    email_key    TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL DEFAULT '',
    attributes   TEXT NOT NULL DEFAULT '{}',   -- JSON object
    status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'bounced', 'complained')),
    soft_bounces INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- One row a person on a list, with the consent evidence that put them there.
CREATE TABLE subscriptions (
    list_id              INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    subscriber_id        INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    status               TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'unsubscribed')),
    consent_source       TEXT NOT NULL,        -- cli, import, form, api, admin
    consent_ip           TEXT,
    consent_user_agent   TEXT,
    consent_at           TEXT NOT NULL,
    confirmed_at         TEXT,
    unsubscribed_at      TEXT,
    -- NULL on a pending row: its confirmation email is still to be sent by the delivery engine.
    confirmation_sent_at TEXT,
    updated_at           TEXT NOT NULL,
    PRIMARY KEY (list_id, subscriber_id)
) WITHOUT ROWID;
-- The primary key is the table's own order: queueing a send and counting a list by status read
-- one list's range in subscriber order, with no second copy of the rows to keep up to date.
CREATE INDEX subscriptions_subscriber ON subscriptions (subscriber_id);
CREATE INDEX subscriptions_confirmation_due ON subscriptions (consent_at)
    WHERE status = 'pending' AND confirmation_sent_at IS NULL;

-- Addresses never to be mailed again, kept only as SHA-256 of the lower-cased address so that an
-- erased person's address is not held, yet a re-import or a new sign-up cannot bring it back.
CREATE TABLE suppressions (
    email_hash  TEXT PRIMARY KEY,
    reason      TEXT NOT NULL CHECK (reason IN ('erased', 'hard_bounce', 'complaint', 'manual')),
    created_at  TEXT NOT NULL
);

CREATE TABLE issues (
    id              INTEGER PRIMARY KEY,
    list_id         INTEGER NOT NULL REFERENCES lists(id),
    slug            TEXT NOT NULL UNIQUE,
    title           TEXT NOT NULL,
    subtitle        TEXT NOT NULL DEFAULT '',
    volume          INTEGER,
    number          INTEGER,
    published_on    TEXT NOT NULL,           -- date, YYYY-MM-DD
    language        TEXT NOT NULL,
    summary         TEXT NOT NULL DEFAULT '',
    source_path     TEXT,
    source_markdown TEXT NOT NULL,
    body_html       TEXT NOT NULL DEFAULT '', -- rendered once; personalised by substitution
    email_html      TEXT NOT NULL DEFAULT '',
    email_text      TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'draft'
                    CHECK (status IN ('draft', 'scheduled', 'sending', 'paused', 'sent', 'cancelled')),
    send_at         TEXT,
    queued_at       TEXT,
    started_at      TEXT,
    finished_at     TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX issues_list_published ON issues (list_id, published_on);
CREATE INDEX issues_due ON issues (status, send_at);

-- One row a recipient of an issue: the audience snapshot taken when the send is queued.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    issue_id        INTEGER NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    subscriber_id   INTEGER REFERENCES subscribers(id) ON DELETE SET NULL,
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'bounced', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    lease_owner     TEXT,
    lease_until     TEXT,
    last_error      TEXT,
    smtp_code       INTEGER,
    sent_at         TEXT,
    updated_at      TEXT NOT NULL,
    UNIQUE (issue_id, subscriber_id)
);
-- Workers claim due rows of one issue in id order; status counts group by state.
CREATE INDEX deliveries_claim ON deliveries (issue_id, state, next_attempt_at);
CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id);
CREATE INDEX deliveries_lease ON deliveries (lease_owner) WHERE state = 'sending';

-- Delivery processes announce themselves, so a dead one's leases are taken back at once.
CREATE TABLE instances (
    id           TEXT PRIMARY KEY,
    pid          INTEGER NOT NULL,
    hostname     TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);

CREATE TABLE bounces (
    id                INTEGER PRIMARY KEY,
    subscriber_id     INTEGER REFERENCES subscribers(id) ON DELETE CASCADE,
    issue_id          INTEGER REFERENCES issues(id) ON DELETE SET NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('hard', 'soft', 'complaint', 'auto_reply', 'not_bounce')),
    reason            TEXT NOT NULL DEFAULT 'other',
    source            TEXT NOT NULL,         -- verp, dsn, arf, heuristic, smtp, webhook:<provider>
    status_code       TEXT,
    action            TEXT,
    diagnostic        TEXT,
    remote_mta        TEXT,
    receiving_domain  TEXT,
    provider_event_id TEXT UNIQUE,           -- webhooks are idempotent on it
    received_at       TEXT NOT NULL
);
CREATE INDEX bounces_subscriber ON bounces (subscriber_id, received_at);
CREATE INDEX bounces_received ON bounces (received_at);
CREATE INDEX bounces_blocked_domain ON bounces (reason, receiving_domain);

-- What happened, to whom, when and why. Append-only: rows are never changed or removed, except
-- that erasing a person unlinks their rows (subscriber_id becomes NULL). Details carry no address.
CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    at            TEXT NOT NULL,
    type          TEXT NOT NULL,
    actor         TEXT NOT NULL,
    subscriber_id INTEGER REFERENCES subscribers(id) ON DELETE SET NULL,
    list_id       INTEGER REFERENCES lists(id),
    issue_id      INTEGER REFERENCES issues(id),
    detail        TEXT NOT NULL DEFAULT '{}'  -- JSON object
);
CREATE INDEX events_subscriber ON events (subscriber_id, id);
CREATE INDEX events_type ON events (type, id);
CREATE INDEX events_at ON events (at);

CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only');
END;

CREATE TRIGGER events_append_only_update BEFORE UPDATE OF id, at, type, actor, list_id, issue_id, detail ON events
BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only');
END;

CREATE TRIGGER events_unlink_only BEFORE UPDATE OF subscriber_id ON events
WHEN NEW.subscriber_id IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only');
END;
