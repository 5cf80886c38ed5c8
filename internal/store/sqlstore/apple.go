package sqlstore

import (
	"context"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

const appleChallengeColumns = "id, user_id, coalesce(device_id, 0), coalesce(invitation_id, 0), platform, uses_left, created_at, expires_at"

func scanAppleChallenge(s scanner) (*portico.AppleChallenge, error) {
	c := &portico.AppleChallenge{}
	err := s.Scan(&c.ID, &c.UserID, &c.DeviceID, &c.InvitationID, &c.Platform, &c.UsesLeft, scanTime(&c.CreatedAt), scanTime(&c.ExpiresAt))
	return c, err
}

func (c *conn) CreateAppleChallenge(ctx context.Context, ch *portico.AppleChallenge, hash []byte) error {
	return c.tx(ctx, func(t *conn) error {
		if ch.DeviceID != 0 {
			if _, err := t.exec(ctx, "DELETE FROM apple_challenges WHERE device_id = ?", ch.DeviceID); err != nil {
				return err
			}
		}
		err := t.writeRow(ctx, `INSERT INTO apple_challenges (hash, user_id, device_id, invitation_id, platform, uses_left, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, hash, ch.UserID, optionalID(ch.DeviceID), optionalID(ch.InvitationID),
			string(ch.Platform), ch.UsesLeft, at(ch.CreatedAt), at(ch.ExpiresAt)).Scan(&ch.ID)
		return refused(err, "This enrollment challenge exists already.", "The user, device or registration of this challenge does not exist.")
	})
}

func (c *conn) UseAppleChallenge(ctx context.Context, hash []byte, now time.Time) (*portico.AppleChallenge, error) {
	ch, err := scanAppleChallenge(c.writeRow(ctx, `UPDATE apple_challenges SET uses_left = uses_left - 1
		WHERE hash = ? AND uses_left > 0 AND expires_at > ? RETURNING `+appleChallengeColumns, hash, at(now)))
	return ch, notFound(err, "This enrollment challenge is not valid: unknown, used up or expired.")
}

func (c *conn) PutAppleCertificate(ctx context.Context, ac *portico.AppleCertificate) error {
	_, err := c.exec(ctx, `INSERT INTO apple_certificates (fingerprint, device_id, invitation_id, serial, issued_at, not_after) VALUES (?, ?, ?, ?, ?, ?)`,
		ac.Fingerprint, ac.DeviceID, optionalID(ac.InvitationID), ac.Serial, at(ac.IssuedAt), at(ac.NotAfter))
	return refused(err, "This certificate was issued already.", "The device of this certificate does not exist.")
}

func (c *conn) AppleCertificate(ctx context.Context, fingerprint []byte) (*portico.AppleCertificate, error) {
	ac := &portico.AppleCertificate{}
	err := c.queryRow(ctx, `SELECT fingerprint, device_id, coalesce(invitation_id, 0), serial, issued_at, not_after FROM apple_certificates WHERE fingerprint = ?`,
		fingerprint).Scan(&ac.Fingerprint, &ac.DeviceID, &ac.InvitationID, &ac.Serial, scanTime(&ac.IssuedAt), scanTime(&ac.NotAfter))
	return ac, notFound(err, "No device has this certificate.")
}

const appleEnrollmentColumns = "device_id, udid, fingerprint, topic, push_token, push_magic, unlock_token, supervised, lost_mode, enrolled_at, updated_at"

func (c *conn) PutAppleEnrollment(ctx context.Context, e *portico.AppleEnrollment) error {
	_, err := c.exec(ctx, `INSERT INTO apple_enrollments (`+appleEnrollmentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (device_id) DO UPDATE SET udid = excluded.udid, fingerprint = excluded.fingerprint, topic = excluded.topic,
		push_token = excluded.push_token, push_magic = excluded.push_magic, unlock_token = excluded.unlock_token,
		supervised = excluded.supervised, lost_mode = excluded.lost_mode, updated_at = excluded.updated_at`,
		e.DeviceID, e.UDID, e.Fingerprint, e.Topic, e.PushToken, e.PushMagic, e.UnlockToken, e.Supervised, e.LostMode,
		at(e.EnrolledAt), at(e.UpdatedAt))
	return refused(err, "Another device enrolled with this UDID.", "There is no such device.")
}

func (c *conn) AppleEnrollment(ctx context.Context, deviceID int64) (*portico.AppleEnrollment, error) {
	e := &portico.AppleEnrollment{}
	err := c.queryRow(ctx, "SELECT "+appleEnrollmentColumns+" FROM apple_enrollments WHERE device_id = ?", deviceID).Scan(
		&e.DeviceID, &e.UDID, &e.Fingerprint, &e.Topic, &e.PushToken, &e.PushMagic, &e.UnlockToken, &e.Supervised, &e.LostMode,
		scanTime(&e.EnrolledAt), scanTime(&e.UpdatedAt))
	return e, notFound(err, "Device %d is not enrolled in Apple MDM.", deviceID)
}

func (c *conn) ReleaseAppleUDID(ctx context.Context, udid string) error {
	_, err := c.exec(ctx, "DELETE FROM apple_enrollments WHERE udid = ? AND device_id IN (SELECT id FROM devices WHERE status IN (?, ?))",
		udid, string(portico.StatusRetired), string(portico.StatusWiped))
	return err
}

func (c *conn) SetAppleState(ctx context.Context, deviceID int64, supervised, lostMode bool, now time.Time) error {
	res, err := c.exec(ctx, "UPDATE apple_enrollments SET supervised = ?, lost_mode = ?, updated_at = ? WHERE device_id = ?",
		supervised, lostMode, at(now), deviceID)
	return mustAffect(res, err, "Device %d is not enrolled in Apple MDM.", deviceID)
}

func (c *conn) ClearApplePushToken(ctx context.Context, deviceID int64, now time.Time) error {
	res, err := c.exec(ctx, "UPDATE apple_enrollments SET push_token = NULL, push_magic = '', updated_at = ? WHERE device_id = ?",
		at(now), deviceID)
	return mustAffect(res, err, "Device %d is not enrolled in Apple MDM.", deviceID)
}

func (c *conn) SendAppleCommand(ctx context.Context, deviceID int64, uuid string, now time.Time) (*portico.Command, error) {
	cmd, err := scanCommand(c.writeRow(ctx, `UPDATE commands SET status = ?, sent_at = ?, apple_uuid = ?
		WHERE id = (SELECT min(id) FROM commands WHERE device_id = ? AND status = ?) AND status = ? RETURNING `+commandColumns,
		string(portico.CommandSent), at(now), uuid, deviceID, string(portico.CommandQueued), string(portico.CommandQueued)))
	if err = refused(err, "This CommandUUID was used already.", ""); portico.ErrorCode(err) == portico.ECONFLICT {
		return nil, err
	}
	return cmd, notFound(err, "No command waits for device %d.", deviceID)
}

func (c *conn) AppleCommand(ctx context.Context, deviceID int64, uuid string) (*portico.Command, error) {
	cmd, err := scanCommand(c.queryRow(ctx, "SELECT "+commandColumns+" FROM commands WHERE device_id = ? AND apple_uuid = ?", deviceID, uuid))
	return cmd, notFound(err, "Device %d has no command %s.", deviceID, uuid)
}

func (c *conn) RequeueAppleCommand(ctx context.Context, id int64, step int) error {
	res, err := c.exec(ctx, "UPDATE commands SET status = ?, apple_step = ?, apple_uuid = NULL WHERE id = ? AND status = ?",
		string(portico.CommandQueued), step, id, string(portico.CommandSent))
	return c.only(ctx, res, err, "commands", "command", id, "sent")
}

// UpdateAppleToken tries the first token's update before the general one:
// of two TokenUpdates at once, only one finds the token empty.
func (c *conn) UpdateAppleToken(ctx context.Context, deviceID int64, t store.AppleToken, now time.Time) (bool, error) {
	var first bool
	err := c.tx(ctx, func(tx *conn) error {
		const set = "UPDATE apple_enrollments SET push_token = ?, push_magic = ?, topic = ?, unlock_token = coalesce(?, unlock_token), updated_at = ? WHERE device_id = ?"
		args := []any{t.PushToken, t.PushMagic, t.Topic, t.UnlockToken, at(now), deviceID}
		res, err := tx.exec(ctx, set+" AND (push_token IS NULL OR length(push_token) = 0)", args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			first = n == 1
			return err
		}
		res, err = tx.exec(ctx, set, args...)
		return mustAffect(res, err, "Device %d is not enrolled in Apple MDM.", deviceID)
	})
	return first, err
}

func (c *conn) RebindAppleIdentity(ctx context.Context, deviceID int64, from, to []byte, now time.Time) error {
	res, err := c.exec(ctx, "UPDATE apple_enrollments SET fingerprint = ?, updated_at = ? WHERE device_id = ? AND fingerprint = ?",
		to, at(now), deviceID, from)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	if _, err := c.AppleEnrollment(ctx, deviceID); err != nil {
		return err
	}
	return portico.Errorf(portico.ECONFLICT, "Device %d's identity was renewed already.", deviceID)
}

func (c *conn) AppleEnrollmentByUDID(ctx context.Context, udid string) (*portico.AppleEnrollment, error) {
	e := &portico.AppleEnrollment{}
	err := c.queryRow(ctx, "SELECT "+appleEnrollmentColumns+" FROM apple_enrollments WHERE udid = ?", udid).Scan(
		&e.DeviceID, &e.UDID, &e.Fingerprint, &e.Topic, &e.PushToken, &e.PushMagic, &e.UnlockToken, &e.Supervised, &e.LostMode,
		scanTime(&e.EnrolledAt), scanTime(&e.UpdatedAt))
	return e, notFound(err, "No device enrolled with UDID %s.", udid)
}

func (c *conn) DeleteAppleEnrollment(ctx context.Context, deviceID int64) error {
	res, err := c.exec(ctx, "DELETE FROM apple_enrollments WHERE device_id = ?", deviceID)
	return mustAffect(res, err, "Device %d is not enrolled in Apple MDM.", deviceID)
}

func (c *conn) RequeueSentAppleCommands(ctx context.Context, deviceID int64) (int, error) {
	res, err := c.exec(ctx, "UPDATE commands SET status = ?, apple_uuid = NULL WHERE device_id = ? AND status = ? AND apple_uuid IS NOT NULL",
		string(portico.CommandQueued), deviceID, string(portico.CommandSent))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
