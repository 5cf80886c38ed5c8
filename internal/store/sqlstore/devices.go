package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

// deviceFields are every column but the ID, in deviceValues' order.
const (
	deviceFields = `user_id, platform, status, ownership, name, model, manufacturer,
		os_version, phone_number, carrier, imei, serial, created_at, registered_at, last_checkin`
	deviceRow     = "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
	selectDevices = "SELECT id, " + deviceFields + " FROM devices "
)

// batchRows is how many rows one multi-row statement carries: well under
// both databases' limits on parameters per statement.
const batchRows = 1000

func scanDevice(s scanner) (*portico.Device, error) {
	d := &portico.Device{}
	x := &d.Details
	err := s.Scan(&d.ID, &d.UserID, &d.Platform, &d.Status, &d.Ownership, &x.Name, &x.Model, &x.Manufacturer,
		&x.OSVersion, &x.PhoneNumber, &x.Carrier, &x.IMEI, &x.Serial,
		scanTime(&d.CreatedAt), scanTime(&d.RegisteredAt), scanTime(&d.LastCheckin))
	return d, err
}

func deviceValues(d *portico.Device) []any {
	x := d.Details
	return []any{d.UserID, string(d.Platform), string(d.Status), string(d.Ownership),
		x.Name, x.Model, x.Manufacturer, x.OSVersion, x.PhoneNumber, x.Carrier, x.IMEI, x.Serial,
		at(d.CreatedAt), optionalAt(d.RegisteredAt), optionalAt(d.LastCheckin)}
}

func (c *conn) CreateDevice(ctx context.Context, d *portico.Device, tokenHash []byte) error {
	return c.tx(ctx, func(t *conn) error {
		err := t.writeRow(ctx, "INSERT INTO devices ("+deviceFields+") VALUES ("+deviceRow+") RETURNING id",
			deviceValues(d)...).Scan(&d.ID)
		if err != nil {
			return refused(err, "", fmt.Sprintf("There is no user %d.", d.UserID))
		}
		if tokenHash == nil {
			return nil // a pending device gets its credential when it registers
		}
		_, err = t.exec(ctx, "INSERT INTO device_credentials (device_id, token_hash) VALUES (?, ?)", d.ID, tokenHash)
		return refused(err, "This device token is already in use.", "")
	})
}

// SeedDevices takes the devices' IDs first, so that devices and credentials
// both go in as multi-row inserts in one transaction.
func (c *conn) SeedDevices(ctx context.Context, devices []*portico.Device, tokenHashes [][]byte) error {
	if len(devices) != len(tokenHashes) {
		return portico.Errorf(portico.EINVALID, "%d devices came with %d token hashes.", len(devices), len(tokenHashes))
	}
	if len(devices) == 0 {
		return nil
	}
	return c.tx(ctx, func(t *conn) error {
		ids, err := t.newDeviceIDs(ctx, len(devices))
		if err != nil {
			return err
		}
		err = t.inBatches(ctx, len(devices), "INSERT INTO devices (id, "+deviceFields+") VALUES ", "(?, "+deviceRow+")", "",
			func(i int, args []any) []any { return append(append(args, ids[i]), deviceValues(devices[i])...) })
		if err != nil {
			return refused(err, "", "A device belongs to a user who does not exist.")
		}
		err = t.inBatches(ctx, len(devices), "INSERT INTO device_credentials (device_id, token_hash) VALUES ", "(?, ?)", "",
			func(i int, args []any) []any { return append(args, ids[i], tokenHashes[i]) })
		if err != nil {
			return refused(err, "A device token is repeated or already in use.", "")
		}
		for i, d := range devices {
			d.ID = ids[i]
		}
		return nil
	})
}

// inBatches writes n rows with multi-row statements of head, row repeated,
// and tail, batchRows rows at a time; add appends row i's values to args.
// The full batches' statement is parsed once.
func (c *conn) inBatches(ctx context.Context, n int, head, row, tail string, add func(i int, args []any) []any) error {
	var full *sql.Stmt
	for start := 0; start < n; start += batchRows {
		rows := min(batchRows, n-start)
		args := make([]any, 0, rows*(strings.Count(row, "?")))
		for i := start; i < start+rows; i++ {
			args = add(i, args)
		}
		q := sqlx.Rebind(c.d.bind, head+rowsOf(row, rows)+tail)
		var err error
		if rows < batchRows {
			_, err = c.w.ExecContext(ctx, q, args...)
		} else {
			if full == nil {
				if full, err = c.w.PrepareContext(ctx, q); err != nil {
					return err
				}
				defer full.Close()
			}
			_, err = full.ExecContext(ctx, args...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *conn) newDeviceIDs(ctx context.Context, n int) ([]int64, error) {
	rows, err := c.writeRows(ctx, c.d.newDeviceIDs, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := make([]int64, 0, n)
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func (c *conn) DeviceByID(ctx context.Context, id int64) (*portico.Device, error) {
	d, err := scanDevice(c.queryRow(ctx, selectDevices+"WHERE id = ?", id))
	if err != nil {
		return nil, notFound(err, "There is no device %d.", id)
	}
	return d, nil
}

func (c *conn) DeviceByTokenHash(ctx context.Context, h []byte) (*portico.Device, error) {
	d, err := scanDevice(c.queryRow(ctx, selectDevices+
		"WHERE id = (SELECT device_id FROM device_credentials WHERE token_hash = ? AND NOT revoked)", h))
	if err != nil {
		return nil, notFound(err, "No device has this token.")
	}
	return d, nil
}

// ListDevices filters in SQL, so that a page of a large fleet reads only
// the rows it shows.
func (c *conn) ListDevices(ctx context.Context, f store.DeviceFilter) ([]*portico.Device, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) { where, args = append(where, cond), append(args, a...) }
	if f.UserID != 0 {
		add("user_id = ?", f.UserID)
	}
	if f.Platform != "" {
		add("platform = ?", string(f.Platform))
	}
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if f.Ownership != "" {
		add("ownership = ?", string(f.Ownership))
	}
	if f.Owner != "" {
		add("user_id = (SELECT id FROM users WHERE lower(username) = lower(?))", f.Owner)
	}
	if !f.NotSeenSince.IsZero() {
		// A device never seen counts from when it was added, so that one
		// just invited is not yet among the missing.
		add("COALESCE(last_checkin, created_at) < ?", at(f.NotSeenSince))
	}
	if s := strings.TrimSpace(f.Search); s != "" {
		p, fold := containsPattern(s), c.d.fold
		add(`(`+fold+`(name) LIKE ? ESCAPE '\' OR `+fold+`(model) LIKE ? ESCAPE '\' OR `+fold+`(serial) LIKE ? ESCAPE '\'
			OR user_id IN (SELECT id FROM users WHERE `+fold+`(username) LIKE ? ESCAPE '\' OR `+fold+`(name) LIKE ? ESCAPE '\'))`,
			p, p, p, p, p)
	}
	if f.AfterID != 0 {
		add("id > ?", f.AfterID)
	}
	q := selectDevices
	if len(where) > 0 {
		q += "WHERE " + strings.Join(where, " AND ") + " "
	}
	limit := int64(f.Limit)
	if limit <= 0 {
		limit = math.MaxInt64
	}
	return scanAll(scanDevice)(c.query(ctx, q+"ORDER BY id LIMIT ? OFFSET ?", append(args, limit, max(f.Offset, 0))...))
}

// containsPattern is a LIKE pattern, for columns folded with the dialect's
// fold, that finds s anywhere.
func containsPattern(s string) string { return "%" + likeEscape(strings.ToLower(s)) + "%" }

func (c *conn) UpdateDeviceDetails(ctx context.Context, id int64, d portico.DeviceDetails, now time.Time) error {
	res, err := c.exec(ctx, `UPDATE devices SET name = ?, model = ?, manufacturer = ?, os_version = ?,
		phone_number = ?, carrier = ?, imei = ?, serial = ?, last_checkin = ? WHERE id = ?`,
		d.Name, d.Model, d.Manufacturer, d.OSVersion, d.PhoneNumber, d.Carrier, d.IMEI, d.Serial, at(now), id)
	return mustAffect(res, err, "There is no device %d.", id)
}

// TouchDevices never moves a check-in time back, since another instance
// may have written a later one; a device that is gone is skipped. Rows are
// updated in ID order, so that two instances' batches cannot deadlock.
func (c *conn) TouchDevices(ctx context.Context, seen map[int64]time.Time) error {
	ids := slices.Sorted(maps.Keys(seen))
	return c.tx(ctx, func(t *conn) error {
		return t.inBatches(ctx, len(ids), "UPDATE devices SET last_checkin = v.column2 FROM (VALUES ",
			"(CAST(? AS BIGINT), CAST(? AS "+c.d.timeType+"))",
			`) AS v WHERE devices.id = v.column1 AND (devices.last_checkin IS NULL OR devices.last_checkin < v.column2)`,
			func(i int, args []any) []any { return append(args, ids[i], at(seen[ids[i]])) })
	})
}

func (c *conn) EndDevice(ctx context.Context, id int64, status portico.DeviceStatus) error {
	return c.tx(ctx, func(t *conn) error {
		res, err := t.exec(ctx, "UPDATE devices SET status = ? WHERE id = ? AND status = ?", string(status), id, string(portico.StatusActive))
		if err := t.only(ctx, res, err, "devices", "device", id, "active"); err != nil {
			return err
		}
		_, err = t.exec(ctx, "UPDATE device_credentials SET revoked = ? WHERE device_id = ?", true, id)
		return err
	})
}

func (c *conn) SetOwnership(ctx context.Context, id int64, o portico.Ownership) error {
	res, err := c.exec(ctx, "UPDATE devices SET ownership = ? WHERE id = ?", string(o), id)
	return mustAffect(res, err, "There is no device %d.", id)
}
