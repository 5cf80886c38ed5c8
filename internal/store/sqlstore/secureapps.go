package sqlstore

import (
	"context"
	"time"

	"github.com/portico-mdm/portico"
)

func (c *conn) SetRegisteredWith(ctx context.Context, deviceID int64, w portico.RegisteredWith) error {
	_, err := c.exec(ctx, `INSERT INTO device_registrations (device_id, secret) VALUES (?, ?)
		ON CONFLICT (device_id) DO UPDATE SET secret = excluded.secret`, deviceID, string(w))
	return refused(err, "", "There is no such device.")
}

func (c *conn) RegisteredWith(ctx context.Context, deviceID int64) (portico.RegisteredWith, error) {
	var w portico.RegisteredWith
	err := c.queryRow(ctx, "SELECT secret FROM device_registrations WHERE device_id = ?", deviceID).Scan(&w)
	return w, notFound(err, "How device %d registered is not known.", deviceID)
}

func (c *conn) PutSecureAppsPIN(ctx context.Context, p *portico.SecureAppsPIN, hash string) error {
	_, err := c.exec(ctx, `INSERT INTO secure_apps_pins (user_id, pin_hash, attempts, created_at, expires_at, used_at)
		VALUES (?, ?, 0, ?, ?, NULL)
		ON CONFLICT (user_id) DO UPDATE SET pin_hash = excluded.pin_hash, attempts = 0,
			created_at = excluded.created_at, expires_at = excluded.expires_at, used_at = NULL`,
		p.UserID, hash, at(p.CreatedAt), at(p.ExpiresAt))
	return refused(err, "", "There is no such user.")
}

func (c *conn) SecureAppsPIN(ctx context.Context, userID int64) (*portico.SecureAppsPIN, string, error) {
	p := &portico.SecureAppsPIN{UserID: userID}
	var hash string
	err := c.queryRow(ctx, "SELECT pin_hash, attempts, created_at, expires_at, used_at FROM secure_apps_pins WHERE user_id = ?", userID).
		Scan(&hash, &p.Attempts, scanTime(&p.CreatedAt), scanTime(&p.ExpiresAt), scanTime(&p.UsedAt))
	if err != nil {
		return nil, "", notFound(err, "User %d has no one-time PIN.", userID)
	}
	return p, hash, nil
}

func (c *conn) TakeSecureAppsPINAttempt(ctx context.Context, userID int64, hash string, max int) (bool, error) {
	res, err := c.exec(ctx, "UPDATE secure_apps_pins SET attempts = attempts + 1 WHERE user_id = ? AND pin_hash = ? AND attempts < ?",
		userID, hash, max)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (c *conn) UseSecureAppsPIN(ctx context.Context, userID int64, hash string, now time.Time) error {
	res, err := c.exec(ctx, `UPDATE secure_apps_pins SET used_at = ?
		WHERE user_id = ? AND pin_hash = ? AND used_at IS NULL AND expires_at > ?`, at(now), userID, hash, at(now))
	if err = mustAffect(res, err, ""); portico.ErrorCode(err) == portico.ENOTFOUND {
		return portico.Errorf(portico.ECONFLICT, "This one-time PIN was used, replaced or expired a moment ago.")
	}
	return err
}

func (c *conn) DeleteSecureAppsPIN(ctx context.Context, userID int64) error {
	_, err := c.exec(ctx, "DELETE FROM secure_apps_pins WHERE user_id = ?", userID)
	return err
}
