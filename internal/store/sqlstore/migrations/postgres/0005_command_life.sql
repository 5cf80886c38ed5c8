-- +goose Up
-- What a device answered beyond its message (a location), and when a held
-- command (a wipe in its grace period) goes to the device.
ALTER TABLE commands ADD COLUMN data TEXT;
ALTER TABLE commands ADD COLUMN release_at TIMESTAMPTZ;
CREATE INDEX commands_status_time ON commands (status, created_at);

-- +goose Down
DROP INDEX commands_status_time;
ALTER TABLE commands DROP COLUMN release_at;
ALTER TABLE commands DROP COLUMN data;
