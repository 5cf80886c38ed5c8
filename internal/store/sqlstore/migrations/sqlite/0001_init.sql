-- Times are UTC text of one fixed width (2006-01-02T15:04:05.000000Z), so
-- that comparing the text compares the times and a person can read them.
-- STRICT tables refuse a value of the wrong type instead of keeping it.

-- +goose Up
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL,
    phone         TEXT NOT NULL DEFAULT '',
    admin         INTEGER NOT NULL DEFAULT 0,
    disabled      INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_username ON users (lower(username));

CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
) STRICT;

CREATE TABLE sessions (
    key    TEXT PRIMARY KEY,
    data   BLOB NOT NULL,
    expiry TEXT NOT NULL
) STRICT;
CREATE INDEX sessions_expiry ON sessions (expiry);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE devices (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    platform      TEXT NOT NULL,
    status        TEXT NOT NULL,
    ownership     TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    model         TEXT NOT NULL DEFAULT '',
    manufacturer  TEXT NOT NULL DEFAULT '',
    os_version    TEXT NOT NULL DEFAULT '',
    phone_number  TEXT NOT NULL DEFAULT '',
    carrier       TEXT NOT NULL DEFAULT '',
    imei          TEXT NOT NULL DEFAULT '',
    serial        TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    registered_at TEXT,
    last_checkin  TEXT
) STRICT;
CREATE INDEX devices_user ON devices (user_id);

CREATE TABLE device_credentials (
    id         INTEGER PRIMARY KEY,
    device_id  INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE UNIQUE INDEX device_credentials_token ON device_credentials (token_hash);
CREATE INDEX device_credentials_device ON device_credentials (device_id);

CREATE TABLE commands (
    id         INTEGER PRIMARY KEY,
    device_id  INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    status     TEXT NOT NULL,
    payload    TEXT,
    result     TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at    TEXT,
    done_at    TEXT
) STRICT;
CREATE INDEX commands_device_status ON commands (device_id, status);

-- The audit log keeps entries of devices that are gone: no foreign key.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL DEFAULT '',
    device_id INTEGER,
    source    TEXT NOT NULL DEFAULT '',
    result    TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_device ON audit_log (device_id, id);

CREATE TABLE login_failures (
    id  INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    at  TEXT NOT NULL
) STRICT;
CREATE INDEX login_failures_key ON login_failures (key, at);
CREATE INDEX login_failures_at ON login_failures (at);

-- +goose Down
DROP TABLE login_failures;
DROP TABLE audit_log;
DROP TABLE commands;
DROP TABLE device_credentials;
DROP TABLE devices;
DROP TABLE settings;
DROP TABLE sessions;
DROP TABLE user_roles;
DROP TABLE users;
