-- +goose Up
-- The audit log's "who" is matched in any case, a device never seen
-- counts as unseen from when it was added, and a kind of action is a range
-- of actions compared byte by byte, whatever the database's collation.
DROP INDEX audit_log_actor;
CREATE INDEX audit_log_actor_folded ON audit_log (lower(actor), id);
CREATE INDEX devices_seen ON devices (COALESCE(last_checkin, created_at));
DROP INDEX devices_last_checkin;
CREATE INDEX audit_log_action_bytes ON audit_log ((action COLLATE "C"), id);
DROP INDEX audit_log_action;

-- +goose Down
CREATE INDEX audit_log_action ON audit_log (action, id);
DROP INDEX audit_log_action_bytes;
CREATE INDEX devices_last_checkin ON devices (last_checkin);
DROP INDEX devices_seen;
DROP INDEX audit_log_actor_folded;
CREATE INDEX audit_log_actor ON audit_log (actor, id);
