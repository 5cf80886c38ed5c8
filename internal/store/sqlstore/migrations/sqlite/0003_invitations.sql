-- +goose Up
-- An invitation outlives its pending device (cancelled or expired
-- invitations stay for the record), so the device reference goes NULL.
CREATE TABLE invitations (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users (id),
    device_id      INTEGER REFERENCES devices (id) ON DELETE SET NULL,
    platform       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL,
    token_hash     BLOB NOT NULL,
    pin_hash       TEXT NOT NULL DEFAULT '',
    pin_attempts   INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    pin_expires_at TEXT,
    used_at        TEXT
) STRICT;
CREATE UNIQUE INDEX invitations_token ON invitations (token_hash);
CREATE INDEX invitations_user ON invitations (user_id, status);
CREATE INDEX invitations_pending ON invitations (status, expires_at);

-- +goose Down
DROP TABLE invitations;
