-- The outbox: mail and SMS on their way out (SPEC OPS-2). A pending message
-- is due at next_attempt_at; a worker that claims it moves that time on by
-- its lease, so another worker tries it again only when the lease runs out.
-- Sent and failed messages are due never (NULL).

-- +goose Up
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL DEFAULT '',
    body            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    next_attempt_at TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
) STRICT;
CREATE INDEX outbox_due ON outbox (channel, next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_status ON outbox (status, id);

-- +goose Down
DROP TABLE outbox;
