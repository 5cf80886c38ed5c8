package sqlstore

import (
	"context"
	"time"

	"github.com/portico-mdm/portico"
)

// PutPendingTOTP replaces only a row not yet enabled: the conditional
// upsert leaves an enabled one alone, which the missing RETURNING row
// reports.
func (c *conn) PutPendingTOTP(ctx context.Context, t *portico.TOTP) error {
	var id int64
	err := c.writeRow(ctx, `INSERT INTO user_totp (user_id, secret, created_at, enabled_at, last_step) VALUES (?, ?, ?, NULL, 0)
		ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at, last_step = 0
		WHERE user_totp.enabled_at IS NULL
		RETURNING user_id`, t.UserID, t.Sealed, at(t.CreatedAt)).Scan(&id)
	if err = notFound(err, ""); portico.ErrorCode(err) == portico.ENOTFOUND {
		return portico.Errorf(portico.ECONFLICT, "Two-step sign-in is already on.")
	}
	return refused(err, "", "There is no such user.")
}

func (c *conn) TOTP(ctx context.Context, userID int64) (*portico.TOTP, error) {
	t := &portico.TOTP{UserID: userID}
	err := c.queryRow(ctx, "SELECT secret, created_at, enabled_at, last_step FROM user_totp WHERE user_id = ?", userID).
		Scan(&t.Sealed, scanTime(&t.CreatedAt), scanTime(&t.EnabledAt), &t.LastStep)
	if err != nil {
		return nil, notFound(err, "User %d has no two-step sign-in.", userID)
	}
	return t, nil
}

func (c *conn) EnableTOTP(ctx context.Context, userID, step int64, now time.Time, hashes [][]byte) error {
	return c.tx(ctx, func(t *conn) error {
		res, err := t.exec(ctx, "UPDATE user_totp SET enabled_at = ?, last_step = ? WHERE user_id = ? AND enabled_at IS NULL",
			at(now), step, userID)
		if err = mustAffect(res, err, ""); portico.ErrorCode(err) == portico.ENOTFOUND {
			return portico.Errorf(portico.ECONFLICT, "Two-step sign-in is not being set up: it was switched on or off a moment ago.")
		} else if err != nil {
			return err
		}
		if _, err := t.exec(ctx, "DELETE FROM user_recovery_codes WHERE user_id = ?", userID); err != nil {
			return err
		}
		if len(hashes) == 0 {
			return nil
		}
		args := make([]any, 0, 2*len(hashes))
		for _, h := range hashes {
			args = append(args, userID, h)
		}
		_, err = t.exec(ctx, "INSERT INTO user_recovery_codes (user_id, code_hash) VALUES "+rowsOf("(?, ?)", len(hashes)), args...)
		return err
	})
}

func (c *conn) UseTOTPStep(ctx context.Context, userID, step int64) error {
	res, err := c.exec(ctx, "UPDATE user_totp SET last_step = ? WHERE user_id = ? AND enabled_at IS NOT NULL AND last_step < ?",
		step, userID, step)
	if err = mustAffect(res, err, ""); portico.ErrorCode(err) == portico.ENOTFOUND {
		return portico.Errorf(portico.ECONFLICT, "This code was used already. Wait for the next one.")
	}
	return err
}

func (c *conn) UseRecoveryCode(ctx context.Context, userID int64, hash []byte, now time.Time) error {
	res, err := c.exec(ctx, "UPDATE user_recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL",
		at(now), userID, hash)
	return mustAffect(res, err, "This recovery code is wrong or was used already.")
}

func (c *conn) RecoveryCodesLeft(ctx context.Context, userID int64) (int, error) {
	var n int
	err := c.queryRow(ctx, "SELECT count(*) FROM user_recovery_codes WHERE user_id = ? AND used_at IS NULL", userID).Scan(&n)
	return n, err
}

func (c *conn) DeleteTOTP(ctx context.Context, userID int64) error {
	_, err := c.exec(ctx, "DELETE FROM user_totp WHERE user_id = ?", userID)
	return err
}
