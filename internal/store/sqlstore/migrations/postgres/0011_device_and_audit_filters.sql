-- +goose Up
-- The admin portal's filters of the device list and the audit log, quick
-- with a large fleet and a long log.
CREATE INDEX devices_status ON devices (status, id);
CREATE INDEX devices_platform ON devices (platform, id);
CREATE INDEX devices_last_checkin ON devices (last_checkin);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_at ON audit_log (at);

-- +goose Down
DROP INDEX devices_status;
DROP INDEX devices_platform;
DROP INDEX devices_last_checkin;
DROP INDEX audit_log_action;
DROP INDEX audit_log_at;
