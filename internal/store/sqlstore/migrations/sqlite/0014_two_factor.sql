-- +goose Up
-- Each user's second factor (SPEC LOGIN-2): a TOTP secret sealed with the
-- key kept outside the database. enabled_at is NULL while the user has not
-- yet confirmed a code; last_step is the time step of the last code
-- accepted, so that no code is accepted twice.
CREATE TABLE user_totp (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret     BLOB NOT NULL,
    created_at TEXT NOT NULL,
    enabled_at TEXT,
    last_step  INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The recovery codes of an enabled second factor; only their SHA-256 is
-- kept (they are long and random), and each works once.
CREATE TABLE user_recovery_codes (
    id        INTEGER PRIMARY KEY,
    user_id   INTEGER NOT NULL REFERENCES user_totp (user_id) ON DELETE CASCADE,
    code_hash BLOB NOT NULL,
    used_at   TEXT
) STRICT;
CREATE UNIQUE INDEX user_recovery_codes_code ON user_recovery_codes (user_id, code_hash);

-- +goose Down
DROP TABLE user_recovery_codes;
DROP TABLE user_totp;
