package sqlstore

import (
	"context"
	"time"

	"github.com/portico-mdm/portico"
)

const derivedColumns = "id, invitation_id, user_id, status, created_at, expires_at, returned_at"

func scanDerivedRequest(s scanner) (*portico.DerivedRequest, error) {
	r := &portico.DerivedRequest{}
	err := s.Scan(&r.ID, &r.InvitationID, &r.UserID, &r.Status, scanTime(&r.CreatedAt), scanTime(&r.ExpiresAt), scanTime(&r.ReturnedAt))
	return r, err
}

func (c *conn) CreateDerivedRequest(ctx context.Context, r *portico.DerivedRequest, stateHash []byte) error {
	err := c.writeRow(ctx, `INSERT INTO derived_requests (invitation_id, user_id, state_hash, status, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		r.InvitationID, r.UserID, stateHash, string(r.Status), at(r.CreatedAt), at(r.ExpiresAt)).Scan(&r.ID)
	return refused(err, "This state is already in use.", "There is no such registration or user.")
}

func (c *conn) DerivedRequestByStateHash(ctx context.Context, h []byte) (*portico.DerivedRequest, error) {
	r, err := scanDerivedRequest(c.queryRow(ctx, "SELECT "+derivedColumns+" FROM derived_requests WHERE state_hash = ?", h))
	return r, notFound(err, "No derived-credential request has this state.")
}

func (c *conn) AnswerDerivedRequest(ctx context.Context, id int64, status portico.DerivedStatus, now time.Time) error {
	res, err := c.exec(ctx, "UPDATE derived_requests SET status = ?, returned_at = ? WHERE id = ? AND status = ? AND expires_at > ?",
		string(status), at(now), id, string(portico.DerivedPending), at(now))
	err = c.only(ctx, res, err, "derived_requests", "derived-credential request", id, "pending")
	if portico.ErrorCode(err) == portico.ECONFLICT {
		// only names the status, and a request refused while pending had
		// expired: say both.
		return portico.Errorf(portico.ECONFLICT, "The derived-credential request %d was answered or has expired.", id)
	}
	return err
}

func (c *conn) DerivedCredentialIssued(ctx context.Context, invitationID int64) (bool, error) {
	var n int
	err := c.queryRow(ctx, "SELECT count(*) FROM derived_requests WHERE invitation_id = ? AND status = ?",
		invitationID, string(portico.DerivedSucceeded)).Scan(&n)
	return n > 0, err
}

func (c *conn) DeleteExpiredDerivedRequests(ctx context.Context, before time.Time) error {
	_, err := c.exec(ctx, "DELETE FROM derived_requests WHERE status = ? AND expires_at < ?", string(portico.DerivedPending), at(before))
	return err
}
