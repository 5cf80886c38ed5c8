package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/portico-mdm/portico"
)

const invitationColumns = `id, user_id, device_id, platform, kind, status, pin_hash <> '', pin_attempts,
	created_at, expires_at, pin_expires_at, used_at`

func scanInvitation(s scanner) (*portico.Invitation, error) {
	inv := &portico.Invitation{}
	var deviceID sql.NullInt64
	err := s.Scan(&inv.ID, &inv.UserID, &deviceID, &inv.Platform, &inv.Kind, &inv.Status, &inv.HasPIN, &inv.PINAttempts,
		scanTime(&inv.CreatedAt), scanTime(&inv.ExpiresAt), scanTime(&inv.PINExpiresAt), scanTime(&inv.UsedAt))
	inv.DeviceID = deviceID.Int64
	return inv, err
}

func (c *conn) CreateInvitation(ctx context.Context, inv *portico.Invitation, tokenHash []byte, pinHash string) error {
	err := c.writeRow(ctx, `INSERT INTO invitations (user_id, device_id, platform, kind, status, token_hash, pin_hash,
		created_at, expires_at, pin_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		inv.UserID, optionalID(inv.DeviceID), string(inv.Platform), string(inv.Kind), string(inv.Status), tokenHash, pinHash,
		at(inv.CreatedAt), at(inv.ExpiresAt), optionalAt(inv.PINExpiresAt)).Scan(&inv.ID)
	return refused(err, "This registration token is already in use.", "There is no such user or device.")
}

func (c *conn) InvitationByID(ctx context.Context, id int64) (*portico.Invitation, error) {
	inv, err := scanInvitation(c.queryRow(ctx, "SELECT "+invitationColumns+" FROM invitations WHERE id = ?", id))
	return inv, notFound(err, "There is no invitation %d.", id)
}

func (c *conn) InvitationByTokenHash(ctx context.Context, h []byte) (*portico.Invitation, error) {
	inv, err := scanInvitation(c.queryRow(ctx, "SELECT "+invitationColumns+" FROM invitations WHERE token_hash = ?", h))
	return inv, notFound(err, "No invitation has this token.")
}

func (c *conn) PendingInvitations(ctx context.Context, userID int64) ([]*portico.Invitation, error) {
	return scanAll(scanInvitation)(c.query(ctx, "SELECT "+invitationColumns+" FROM invitations WHERE user_id = ? AND status = ? ORDER BY id",
		userID, string(portico.InvitationPending)))
}

func (c *conn) InvitationPINHash(ctx context.Context, id int64) (string, error) {
	var h string
	err := c.queryRow(ctx, "SELECT pin_hash FROM invitations WHERE id = ?", id).Scan(&h)
	return h, notFound(err, "There is no invitation %d.", id)
}

func (c *conn) TakePINAttempt(ctx context.Context, id int64, max int) (bool, error) {
	res, err := c.exec(ctx, "UPDATE invitations SET pin_attempts = pin_attempts + 1 WHERE id = ? AND pin_attempts < ?", id, max)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (c *conn) RenewInvitation(ctx context.Context, inv *portico.Invitation, tokenHash []byte, pinHash string) error {
	res, err := c.exec(ctx, `UPDATE invitations SET token_hash = ?, pin_hash = ?, pin_attempts = 0, expires_at = ?, pin_expires_at = ?
		WHERE id = ? AND status = ?`, tokenHash, pinHash, at(inv.ExpiresAt), optionalAt(inv.PINExpiresAt), inv.ID, string(portico.InvitationPending))
	return c.only(ctx, res, refused(err, "This registration token is already in use.", ""), "invitations", "registration", inv.ID, "pending")
}

func (c *conn) CloseInvitation(ctx context.Context, id int64, status portico.InvitationStatus, now time.Time) error {
	res, err := c.exec(ctx, "UPDATE invitations SET status = ?, used_at = ? WHERE id = ? AND status = ?",
		string(status), at(now), id, string(portico.InvitationPending))
	return c.only(ctx, res, err, "invitations", "registration", id, "pending")
}

// only explains a write conditional on a row's status that changed
// nothing: ENOTFOUND when the row does not exist, ECONFLICT naming the
// status it has instead of want. table is one of the code's own tables.
func (c *conn) only(ctx context.Context, res sql.Result, err error, table, noun string, id int64, want string) error {
	err = mustAffect(res, err, "")
	if portico.ErrorCode(err) != portico.ENOTFOUND {
		return err
	}
	var status string
	if err := c.queryRow(ctx, "SELECT status FROM "+table+" WHERE id = ?", id).Scan(&status); errors.Is(err, sql.ErrNoRows) {
		return portico.Errorf(portico.ENOTFOUND, "There is no %s %d.", noun, id)
	} else if err != nil {
		return err
	}
	return portico.Errorf(portico.ECONFLICT, "The %s is %s, not %s.", noun, status, want)
}

func (c *conn) ExpiredInvitations(ctx context.Context, now time.Time) ([]*portico.Invitation, error) {
	return scanAll(scanInvitation)(c.query(ctx, "SELECT "+invitationColumns+" FROM invitations WHERE status = ? AND expires_at <= ? ORDER BY id",
		string(portico.InvitationPending), at(now)))
}

func (c *conn) ActivateDevice(ctx context.Context, d *portico.Device, tokenHash []byte) error {
	return c.tx(ctx, func(t *conn) error {
		x := d.Details
		res, err := t.exec(ctx, `UPDATE devices SET platform = ?, status = ?, name = ?, model = ?, manufacturer = ?, os_version = ?,
			phone_number = ?, carrier = ?, imei = ?, serial = ?, registered_at = ?, last_checkin = ? WHERE id = ? AND status = ?`,
			string(d.Platform), string(portico.StatusActive), x.Name, x.Model, x.Manufacturer, x.OSVersion, x.PhoneNumber,
			x.Carrier, x.IMEI, x.Serial, at(d.RegisteredAt), optionalAt(d.LastCheckin), d.ID, string(portico.StatusPending))
		if err := t.only(ctx, res, err, "devices", "device", d.ID, "pending"); err != nil {
			return err
		}
		d.Status = portico.StatusActive
		if tokenHash == nil {
			// An Apple device shows its certificate, not a token.
			return nil
		}
		_, err = t.exec(ctx, "INSERT INTO device_credentials (device_id, token_hash) VALUES (?, ?)", d.ID, tokenHash)
		return refused(err, "This device token is already in use.", "")
	})
}

func (c *conn) DeletePendingDevice(ctx context.Context, id int64) error {
	res, err := c.exec(ctx, "DELETE FROM devices WHERE id = ? AND status = ?", id, string(portico.StatusPending))
	return c.only(ctx, res, err, "devices", "device", id, "pending")
}
