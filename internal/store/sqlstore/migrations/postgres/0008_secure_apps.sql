-- +goose Up
-- How each device registered (SPEC SECPIN-3): with the user's password or
-- with a registration PIN, which decides the secret that recovers its
-- secure apps passcode. A device with no row registered with a password.
CREATE TABLE device_registrations (
    device_id BIGINT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    secret    TEXT NOT NULL
);
-- Devices registered before this table came did so with a PIN exactly
-- when their registration had one.
INSERT INTO device_registrations (device_id, secret)
    SELECT DISTINCT device_id, 'pin' FROM invitations
    WHERE status = 'used' AND pin_hash <> '' AND device_id IS NOT NULL;

-- Each user's one-time PIN for recovering a secure apps passcode (SPEC
-- SECPIN-2): one per user, so a new PIN replaces the row; only its argon2id
-- hash is kept.
CREATE TABLE secure_apps_pins (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    pin_hash   TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

-- +goose Down
DROP TABLE secure_apps_pins;
DROP TABLE device_registrations;
