-- +goose Up
-- Pushes that wake Apple devices go through the outbox (SPEC APPLE-1); a
-- push names the device it wakes, and a device has at most one push
-- waiting untried: pushes coalesce, and two actions queued at once must not
-- both add one.
ALTER TABLE outbox ADD COLUMN device_id INTEGER;
CREATE UNIQUE INDEX outbox_untried_push ON outbox (device_id) WHERE channel = 'apns' AND status = 'pending' AND attempts = 0;

-- The MDM push certificate: at most one, shared by every instance. The
-- certificate chain is public; its private key is sealed with the key kept
-- outside the database.
CREATE TABLE push_certificate (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    topic       TEXT NOT NULL,
    subject     TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    serial      TEXT NOT NULL,
    not_after   TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    chain       BLOB NOT NULL,
    sealed_key  BLOB NOT NULL,
    uploaded_at TEXT NOT NULL,
    uploaded_by TEXT NOT NULL
) STRICT;

-- +goose Down
DROP TABLE push_certificate;
DROP INDEX outbox_untried_push;
ALTER TABLE outbox DROP COLUMN device_id;
