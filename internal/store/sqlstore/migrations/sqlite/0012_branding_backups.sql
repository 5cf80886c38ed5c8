-- +goose Up
-- The portal's logo, at most one: in the database rather than the data
-- directory, so that every instance serves the same one. The image was
-- checked (and an SVG rebuilt from an allow-list) before it was stored.
CREATE TABLE logo (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    content_type TEXT NOT NULL,
    data         BLOB NOT NULL,
    digest       TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;

-- The backups taken, from the command line or the admin portal, so that
-- the portal can say when the last one was and who took it.
CREATE TABLE backups (
    id       INTEGER PRIMARY KEY,
    taken_at TEXT NOT NULL,
    taken_by TEXT NOT NULL,
    via      TEXT NOT NULL,
    source   TEXT NOT NULL
) STRICT;
CREATE INDEX backups_taken_at ON backups (taken_at);

-- +goose Down
DROP TABLE backups;
DROP TABLE logo;
