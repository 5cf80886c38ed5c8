-- +goose Up
-- A user's trips to the derived-credential provider (SPEC DERIV-2), one row
-- per click on Request derived credential. The state travels through the
-- provider and back; only its SHA-256 is kept. A succeeded row is what
-- disables the button for the registration.
CREATE TABLE derived_requests (
    id            INTEGER PRIMARY KEY,
    invitation_id INTEGER NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state_hash    BLOB NOT NULL,
    status        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    returned_at   TEXT
) STRICT;
CREATE UNIQUE INDEX derived_requests_state ON derived_requests (state_hash);
CREATE INDEX derived_requests_invitation ON derived_requests (invitation_id, status);
CREATE INDEX derived_requests_pending ON derived_requests (status, expires_at);

-- +goose Down
DROP TABLE derived_requests;
