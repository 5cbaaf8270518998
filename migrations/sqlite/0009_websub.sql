-- The WebSub hub (issue 17): requests waiting for their intent to be verified, the subscriptions
-- verified, what each topic's subscribers last got, and the pushes still to make.

CREATE TABLE websub_requests (
    id            INTEGER PRIMARY KEY,
    mode          TEXT NOT NULL CHECK (mode IN ('subscribe', 'unsubscribe')),
    topic         TEXT NOT NULL,
    callback      TEXT NOT NULL,
    secret        TEXT,                       -- hub.secret: the subscriber's key for X-Hub-Signature
    lease_seconds INTEGER NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE websub_subscriptions (
    id          INTEGER PRIMARY KEY,
    topic       TEXT NOT NULL,
    callback    TEXT NOT NULL,
    secret      TEXT,
    expires_at  TEXT NOT NULL,
    failures    INTEGER NOT NULL DEFAULT 0,   -- pushes given up on in a row
    created_at  TEXT NOT NULL,
    UNIQUE (topic, callback)
);
CREATE INDEX websub_subscriptions_expiry ON websub_subscriptions (expires_at);

-- A topic's state when its subscribers were last told: a different one means a push.
CREATE TABLE websub_topics (
    topic   TEXT PRIMARY KEY,
    version TEXT NOT NULL
);

-- One push waiting per subscription (it always carries the feed as it is when it goes).
CREATE TABLE websub_pushes (
    subscription_id INTEGER PRIMARY KEY REFERENCES websub_subscriptions(id) ON DELETE CASCADE,
    due_at          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT
);
CREATE INDEX websub_pushes_due ON websub_pushes (due_at);
