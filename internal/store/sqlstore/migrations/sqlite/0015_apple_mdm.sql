-- +goose Up
-- Apple MDM (SPEC APPLE-1). A challenge lets a device get its identity
-- from the SCEP server: one-time for a registration's pending device, or
-- good for several devices of one user until it expires (bulk). Only its
-- SHA-256 is kept.
CREATE TABLE apple_challenges (
    id            INTEGER PRIMARY KEY,
    hash          BLOB NOT NULL,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id     INTEGER REFERENCES devices (id) ON DELETE CASCADE,
    invitation_id INTEGER REFERENCES invitations (id) ON DELETE CASCADE,
    platform      TEXT NOT NULL,
    uses_left     INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX apple_challenges_hash ON apple_challenges (hash);
CREATE INDEX apple_challenges_device ON apple_challenges (device_id);

-- The identities the SCEP server issued, by the SHA-256 of the
-- certificate: the device that shows one is the device it was issued to.
CREATE TABLE apple_certificates (
    fingerprint   BLOB PRIMARY KEY,
    device_id     INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    invitation_id INTEGER REFERENCES invitations (id) ON DELETE SET NULL,
    serial        TEXT NOT NULL,
    issued_at     TEXT NOT NULL,
    not_after     TEXT NOT NULL
) STRICT;
CREATE INDEX apple_certificates_device ON apple_certificates (device_id);

-- A device's enrollment: its UDID and the identity bound to it at its
-- first Authenticate, how to wake it (the latest TokenUpdate), and what
-- decides which commands it takes. The unlock token is sealed.
CREATE TABLE apple_enrollments (
    device_id    INTEGER PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    udid         TEXT NOT NULL,
    fingerprint  BLOB NOT NULL,
    topic        TEXT NOT NULL,
    push_token   BLOB,
    push_magic   TEXT NOT NULL DEFAULT '',
    unlock_token BLOB,
    supervised   INTEGER NOT NULL DEFAULT 0,
    lost_mode    INTEGER NOT NULL DEFAULT 0,
    enrolled_at  TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX apple_enrollments_udid ON apple_enrollments (udid);

-- An Apple command is one command of the portal sent as one or more MDM
-- commands in turn (locate: EnableLostMode, then DeviceLocation); step
-- says which, and the CommandUUID the device answers with finds it.
ALTER TABLE commands ADD COLUMN apple_uuid TEXT;
ALTER TABLE commands ADD COLUMN apple_step INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX commands_apple_uuid ON commands (apple_uuid);

-- +goose Down
DROP INDEX commands_apple_uuid;
ALTER TABLE commands DROP COLUMN apple_step;
ALTER TABLE commands DROP COLUMN apple_uuid;
DROP TABLE apple_enrollments;
DROP TABLE apple_certificates;
DROP TABLE apple_challenges;
