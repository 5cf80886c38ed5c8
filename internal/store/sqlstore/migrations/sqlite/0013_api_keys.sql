-- +goose Up
-- Keys for the admin API (SPEC ADM-4). Only the SHA-256 of a key is kept.
-- A name is unique in any case, revoked keys included, so that the audit
-- log's "api-key:<name>" always means one key.
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    token_hash   BLOB NOT NULL,
    scope        TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
) STRICT;
CREATE UNIQUE INDEX api_keys_token ON api_keys (token_hash);
CREATE UNIQUE INDEX api_keys_name ON api_keys (lower(name));

-- +goose Down
DROP TABLE api_keys;
