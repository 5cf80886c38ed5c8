-- +goose Up
-- One open action of each kind per device: two clicks at once, on one
-- instance or two, cannot queue a second wipe. Configurations are pushed
-- again as often as a certificate changes, so they are left out.
CREATE UNIQUE INDEX commands_one_open ON commands (device_id, kind)
    WHERE status IN ('held', 'queued', 'sent') AND kind <> 'configure';

-- +goose Down
DROP INDEX commands_one_open;
