package sqlstore

import (
	"context"
	"database/sql"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

// ListAudit's page size when none is asked for, and its largest.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

func (c *conn) AppendAudit(ctx context.Context, e *portico.AuditEntry) error {
	return c.writeRow(ctx, `INSERT INTO audit_log (at, actor, action, target, device_id, source, result, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		at(e.At), e.Actor, e.Action, e.Target, optionalID(e.DeviceID), e.Source, e.Result, e.Detail).Scan(&e.ID)
}

func scanAudit(s scanner) (*portico.AuditEntry, error) {
	e := &portico.AuditEntry{}
	var device sql.NullInt64
	err := s.Scan(&e.ID, scanTime(&e.At), &e.Actor, &e.Action, &e.Target, &device, &e.Source, &e.Result, &e.Detail)
	e.DeviceID = device.Int64
	return e, err
}

// ListAudit lists the most recently appended entries first.
func (c *conn) ListAudit(ctx context.Context, f store.AuditFilter) ([]*portico.AuditEntry, error) {
	q := "SELECT id, at, actor, action, target, device_id, source, result, detail FROM audit_log WHERE 1 = 1"
	var args []any
	if f.Actor != "" {
		q, args = q+" AND lower(actor) = lower(?)", append(args, f.Actor)
	}
	if f.DeviceID != 0 {
		q, args = q+" AND device_id = ?", append(args, f.DeviceID)
	}
	if f.Action != "" {
		// The actions of a kind are those from "kind." up to "kind/", the
		// character after the dot: a range the action index serves.
		b := c.d.bytewise
		q, args = q+" AND (action = ? OR (action"+b+" >= ? AND action"+b+" < ?))", append(args, f.Action, f.Action+".", f.Action+"/")
	}
	if f.Result != "" {
		q, args = q+" AND result = ?", append(args, f.Result)
	}
	if !f.From.IsZero() {
		q, args = q+" AND at >= ?", append(args, at(f.From))
	}
	if !f.To.IsZero() {
		q, args = q+" AND at < ?", append(args, at(f.To))
	}
	if f.BeforeID != 0 {
		q, args = q+" AND id < ?", append(args, f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	return scanAll(scanAudit)(c.query(ctx, q+" ORDER BY id DESC LIMIT ? OFFSET ?", append(args, min(limit, maxAuditLimit), max(f.Offset, 0))...))
}
