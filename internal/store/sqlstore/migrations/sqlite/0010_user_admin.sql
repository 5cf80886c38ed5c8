-- +goose Up
-- A temporary password an admin gave must be changed at the next sign-in.
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;

-- Role sets: named sets of portal roles given to many users at once. A
-- user's effective roles are their own and those of their sets.
CREATE TABLE role_sets (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX role_sets_name ON role_sets (lower(name));

CREATE TABLE role_set_roles (
    set_id INTEGER NOT NULL REFERENCES role_sets (id) ON DELETE CASCADE,
    role   TEXT NOT NULL,
    PRIMARY KEY (set_id, role)
) STRICT;

CREATE TABLE user_role_sets (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    set_id  INTEGER NOT NULL REFERENCES role_sets (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, set_id)
) STRICT;
CREATE INDEX user_role_sets_set ON user_role_sets (set_id);

-- One-time links to set a new password; only the token's SHA-256 is kept.
CREATE TABLE password_resets (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
) STRICT;
CREATE UNIQUE INDEX password_resets_token ON password_resets (token_hash);
CREATE INDEX password_resets_user ON password_resets (user_id);

-- +goose Down
DROP TABLE password_resets;
DROP TABLE user_role_sets;
DROP TABLE role_set_roles;
DROP TABLE role_sets;
ALTER TABLE users DROP COLUMN must_change_password;
