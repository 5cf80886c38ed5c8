package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/portico-mdm/portico"
)

func (c *conn) FindSession(ctx context.Context, key string, now time.Time) ([]byte, bool, error) {
	var data []byte
	err := c.queryRow(ctx, "SELECT data FROM sessions WHERE key = ? AND expiry > ?", key, at(now)).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return data, err == nil, err
}

func (c *conn) CommitSession(ctx context.Context, key string, data []byte, expiry time.Time) error {
	_, err := c.exec(ctx, `INSERT INTO sessions (key, data, expiry) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`, key, data, at(expiry))
	return err
}

func (c *conn) DeleteSession(ctx context.Context, key string) error {
	_, err := c.exec(ctx, "DELETE FROM sessions WHERE key = ?", key)
	return err
}

func (c *conn) DeleteExpiredSessions(ctx context.Context, now time.Time) error {
	_, err := c.exec(ctx, "DELETE FROM sessions WHERE expiry <= ?", at(now))
	return err
}

func (c *conn) SettingValues(ctx context.Context) (portico.SettingValues, error) {
	rows, err := c.query(ctx, "SELECT key, value FROM settings")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	v := portico.SettingValues{}
	for rows.Next() {
		var key, value string
		if err := rows.Scan(&key, &value); err != nil {
			return nil, err
		}
		v[key] = value
	}
	return v, rows.Err()
}

func (c *conn) PutSetting(ctx context.Context, key, value string) error {
	_, err := c.exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

func (c *conn) RecordLoginFailure(ctx context.Context, key string, now time.Time) (int64, error) {
	var id int64
	err := c.writeRow(ctx, "INSERT INTO login_failures (key, at) VALUES (?, ?) RETURNING id", key, at(now)).Scan(&id)
	return id, err
}

func (c *conn) LoginFailuresBefore(ctx context.Context, key string, since time.Time, id int64) (int, time.Time, error) {
	var n int
	var last time.Time
	err := c.queryRow(ctx, "SELECT count(*), max(at) FROM login_failures WHERE key = ? AND at > ? AND id < ?", key, at(since), id).
		Scan(&n, scanTime(&last))
	return n, last, err
}

func (c *conn) DeleteLoginFailure(ctx context.Context, id int64) error {
	_, err := c.exec(ctx, "DELETE FROM login_failures WHERE id = ?", id)
	return err
}

func (c *conn) ClearLoginFailures(ctx context.Context, key string) error {
	_, err := c.exec(ctx, "DELETE FROM login_failures WHERE key = ?", key)
	return err
}

func (c *conn) DeleteLoginFailuresBefore(ctx context.Context, before time.Time) error {
	_, err := c.exec(ctx, "DELETE FROM login_failures WHERE at < ?", at(before))
	return err
}
