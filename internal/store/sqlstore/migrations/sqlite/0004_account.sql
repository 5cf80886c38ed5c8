-- +goose Up
-- A password change moves the user's session epoch on, which ends every
-- browser session signed in under the old one, on every instance (SPEC
-- ACC-1). The index serves the check that an email address is not taken.
ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
CREATE INDEX users_email ON users (lower(email));

-- +goose Down
DROP INDEX users_email;
ALTER TABLE users DROP COLUMN session_epoch;
