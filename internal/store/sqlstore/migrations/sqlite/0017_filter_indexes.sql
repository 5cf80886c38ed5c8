-- +goose Up
-- The audit log's "who" is matched in any case, and a device never seen
-- counts as unseen from when it was added.
DROP INDEX audit_log_actor;
CREATE INDEX audit_log_actor_folded ON audit_log (lower(actor), id);
CREATE INDEX devices_seen ON devices (COALESCE(last_checkin, created_at));
DROP INDEX devices_last_checkin;

-- +goose Down
CREATE INDEX devices_last_checkin ON devices (last_checkin);
DROP INDEX devices_seen;
DROP INDEX audit_log_actor_folded;
CREATE INDEX audit_log_actor ON audit_log (actor, id);
