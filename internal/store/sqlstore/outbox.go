package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

// ListMessages' page size when none is asked for, and its largest.
const (
	defaultMessageLimit = 100
	maxMessageLimit     = 1000
)

const messageColumns = "id, channel, recipient, subject, body, coalesce(device_id, 0), status, attempts, last_error, next_attempt_at, created_at, sent_at"

func scanMessage(s scanner) (*portico.Message, error) {
	m := &portico.Message{}
	err := s.Scan(&m.ID, &m.Channel, &m.To, &m.Subject, &m.Text, &m.DeviceID, &m.Status, &m.Attempts, &m.LastError,
		scanTime(&m.NextAttemptAt), scanTime(&m.CreatedAt), scanTime(&m.SentAt))
	return m, err
}

// EnqueueMessage checks the message here, where every caller passes, so
// that a bad address refuses the action that causes it (its transaction
// rolls back) rather than failing later where nobody sees it.
func (c *conn) EnqueueMessage(ctx context.Context, m *portico.Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	var device any
	if m.DeviceID != 0 {
		device = m.DeviceID
	}
	err := c.writeRow(ctx, `INSERT INTO outbox (channel, recipient, subject, body, device_id, status, next_attempt_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		string(m.Channel), m.To, m.Subject, m.Text, device, string(portico.MessagePending), at(m.CreatedAt), at(m.CreatedAt)).Scan(&m.ID)
	if err != nil {
		return err
	}
	m.Status, m.Attempts, m.LastError, m.NextAttemptAt, m.SentAt = portico.MessagePending, 0, "", m.CreatedAt, time.Time{}
	return nil
}

// untriedPush is the conflict target of the unique index that keeps one
// untried push per device.
const untriedPush = `(device_id) WHERE channel = 'apns' AND status = 'pending' AND attempts = 0`

// EnqueuePush looks for an untried push in the caller's transaction and
// locks it there: a claimer passes over it (SKIP LOCKED) until the caller
// commits, and a push already being claimed is waited for and then no
// longer untried, so a fresh one is queued. The push found takes the
// latest token and push magic: the device may have sent new ones since.
// When two transactions find none at once, the unique index makes the
// second one's insert update the first one's push instead.
func (c *conn) EnqueuePush(ctx context.Context, m *portico.Message) (bool, error) {
	if m.Channel != portico.ChannelAPNs {
		return false, portico.Errorf(portico.EINVALID, "Message to %q is no push.", m.To)
	}
	if err := m.Validate(); err != nil {
		return false, err
	}
	var queued bool
	err := c.tx(ctx, func(t *conn) error {
		var id int64
		err := t.writeRow(ctx, `SELECT id FROM outbox WHERE device_id = ? AND channel = ? AND status = ? AND attempts = 0
			ORDER BY id LIMIT 1`+t.d.forUpdate, m.DeviceID, string(portico.ChannelAPNs), string(portico.MessagePending)).Scan(&id)
		if err == nil {
			m.ID = id
			_, err = t.exec(ctx, "UPDATE outbox SET recipient = ?, subject = ?, body = ? WHERE id = ?", m.To, m.Subject, m.Text, id)
			return err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		err = t.writeRow(ctx, `INSERT INTO outbox (channel, recipient, subject, body, device_id, status, next_attempt_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT `+untriedPush+` DO UPDATE SET recipient = excluded.recipient, subject = excluded.subject, body = excluded.body
			RETURNING id, created_at`,
			string(m.Channel), m.To, m.Subject, m.Text, m.DeviceID, string(portico.MessagePending), at(m.CreatedAt), at(m.CreatedAt)).Scan(&m.ID, scanTime(&m.CreatedAt))
		if err != nil {
			return err
		}
		queued = true
		m.Status, m.Attempts, m.LastError, m.NextAttemptAt, m.SentAt = portico.MessagePending, 0, "", m.CreatedAt, time.Time{}
		return nil
	})
	return queued, err
}

// ClaimMessages picks and leases in one statement, so that two claimers
// never lease one message: SQLite runs its writer's statements one at a
// time, and on PostgreSQL the inner SELECT locks what it picks, checking
// its conditions again on a row another claimer changed meanwhile, and
// skips what another claimer holds.
func (c *conn) ClaimMessages(ctx context.Context, channels []portico.Channel, now time.Time, lease time.Duration, limit int) ([]*portico.Message, error) {
	if len(channels) == 0 || limit <= 0 {
		return []*portico.Message{}, nil
	}
	args := []any{at(now.Add(lease)), string(portico.MessagePending), at(now)}
	for _, ch := range channels {
		args = append(args, string(ch))
	}
	msgs, err := scanAll(scanMessage)(c.writeRows(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?
		WHERE id IN (
			SELECT id FROM outbox WHERE status = ? AND next_attempt_at <= ? AND channel IN (`+rowsOf("?", len(channels))+`)
			ORDER BY next_attempt_at, id LIMIT ?`+c.d.skipLocked+`)
		RETURNING `+messageColumns, append(args, limit)...))
	if err != nil {
		return nil, err
	}
	slices.SortFunc(msgs, func(a, b *portico.Message) int { return cmp.Compare(a.ID, b.ID) })
	return msgs, nil
}

// finish records the outcome of the try m was claimed for. The count of
// tries fences the lease: a worker whose lease ran out finds the count
// moved on (or the message finished) and changes nothing.
func (c *conn) finish(ctx context.Context, m *portico.Message, set string, args ...any) error {
	res, err := c.exec(ctx, "UPDATE outbox SET "+set+" WHERE id = ? AND status = ? AND attempts = ?",
		append(args, m.ID, string(portico.MessagePending), m.Attempts)...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return portico.Errorf(portico.ECONFLICT, "Message %d is no longer claimed for try %d.", m.ID, m.Attempts)
	}
	return nil
}

func (c *conn) MarkMessageSent(ctx context.Context, m *portico.Message, now time.Time) error {
	// A delivered message's text may hold a registration link and PIN:
	// the outbox keeps only that it went.
	return c.finish(ctx, m, "status = ?, sent_at = ?, next_attempt_at = NULL, last_error = '', body = ?",
		string(portico.MessageSent), at(now), portico.DeliveredText)
}

func (c *conn) RetryMessage(ctx context.Context, m *portico.Message, lastError string, next time.Time) error {
	return c.finish(ctx, m, "last_error = ?, next_attempt_at = ?", lastError, at(next))
}

func (c *conn) FailMessage(ctx context.Context, m *portico.Message, lastError string) error {
	return c.finish(ctx, m, "status = ?, last_error = ?, next_attempt_at = NULL", string(portico.MessageFailed), lastError)
}

func (c *conn) ListMessages(ctx context.Context, f store.MessageFilter) ([]*portico.Message, error) {
	q := "SELECT " + messageColumns + " FROM outbox WHERE 1 = 1"
	var args []any
	if f.Status != "" {
		q, args = q+" AND status = ?", append(args, string(f.Status))
	}
	if f.Channel != "" {
		q, args = q+" AND channel = ?", append(args, string(f.Channel))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultMessageLimit
	}
	return scanAll(scanMessage)(c.query(ctx, q+" ORDER BY id DESC LIMIT ?", append(args, min(limit, maxMessageLimit))...))
}

func (c *conn) MessageByID(ctx context.Context, id int64) (*portico.Message, error) {
	m, err := scanMessage(c.queryRow(ctx, "SELECT "+messageColumns+" FROM outbox WHERE id = ?", id))
	return m, notFound(err, "There is no message %d.", id)
}

func (c *conn) DeleteFinishedMessages(ctx context.Context, before time.Time) error {
	_, err := c.exec(ctx, "DELETE FROM outbox WHERE status <> ? AND created_at < ?", string(portico.MessagePending), at(before))
	return err
}
