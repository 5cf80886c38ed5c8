package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/portico-mdm/portico"
)

const commandColumns = "id, device_id, kind, status, payload, result, data, created_by, created_at, release_at, sent_at, done_at, coalesce(apple_uuid, ''), apple_step"

func scanCommand(s scanner) (*portico.Command, error) {
	cmd := &portico.Command{}
	var payload, data []byte
	err := s.Scan(&cmd.ID, &cmd.DeviceID, &cmd.Kind, &cmd.Status, &payload, &cmd.Result, &data, &cmd.CreatedBy,
		scanTime(&cmd.CreatedAt), scanTime(&cmd.ReleaseAt), scanTime(&cmd.SentAt), scanTime(&cmd.DoneAt), &cmd.AppleUUID, &cmd.AppleStep)
	cmd.Payload, cmd.Data = payload, data
	return cmd, err
}

func (c *conn) QueueCommand(ctx context.Context, cmd *portico.Command) error {
	err := c.writeRow(ctx, `INSERT INTO commands (device_id, kind, status, payload, result, data, created_by, created_at, release_at, sent_at, done_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		cmd.DeviceID, string(cmd.Kind), string(cmd.Status), optionalText(cmd.Payload), cmd.Result, optionalText(cmd.Data), cmd.CreatedBy,
		at(cmd.CreatedAt), optionalAt(cmd.ReleaseAt), optionalAt(cmd.SentAt), optionalAt(cmd.DoneAt)).Scan(&cmd.ID)
	return refused(err, fmt.Sprintf("A %s of this device is already under way.", cmd.Kind), fmt.Sprintf("There is no device %d.", cmd.DeviceID))
}

func (c *conn) SetCommandPayload(ctx context.Context, id int64, payload []byte) error {
	res, err := c.exec(ctx, "UPDATE commands SET payload = ? WHERE id = ? AND status IN (?, ?, ?)", optionalText(payload), id,
		string(portico.CommandQueued), string(portico.CommandHeld), string(portico.CommandSent))
	return mustAffect(res, err, "There is no open command %d.", id)
}

// TakeCommands runs at every check-in, and almost always finds nothing: it
// looks on a reader first and writes only when there is something to take.
// The update decides which commands this call takes, so two check-ins of
// one device never both get a command.
func (c *conn) TakeCommands(ctx context.Context, deviceID int64, now time.Time) ([]*portico.Command, error) {
	queued, err := c.HasQueuedCommands(ctx, deviceID)
	if err != nil || !queued {
		return []*portico.Command{}, err
	}
	cmds, err := scanAll(scanCommand)(c.writeRows(ctx, "UPDATE commands SET status = ?, sent_at = ? WHERE device_id = ? AND status = ? RETURNING "+commandColumns,
		string(portico.CommandSent), at(now), deviceID, string(portico.CommandQueued)))
	if err != nil {
		return nil, err
	}
	slices.SortFunc(cmds, func(a, b *portico.Command) int { return cmp.Compare(a.ID, b.ID) })
	return cmds, nil
}

func (c *conn) FinishCommand(ctx context.Context, deviceID, commandID int64, r portico.CommandResult, now time.Time) (*portico.Command, error) {
	// A wipe or retirement the device confirms after its command expired
	// still happened: the answer counts, so the device is ended.
	cmd, err := scanCommand(c.writeRow(ctx, `UPDATE commands SET status = ?, result = ?, data = ?, done_at = ? WHERE id = ? AND device_id = ?
		AND (status = ? OR (status = ? AND sent_at IS NOT NULL AND kind IN (?, ?))) RETURNING `+commandColumns,
		string(r.Status), r.Message, optionalText(r.Data), at(now), commandID, deviceID, string(portico.CommandSent),
		string(portico.CommandExpired), string(portico.CommandWipe), string(portico.CommandRetire)))
	if err == nil {
		return cmd, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	var status portico.CommandStatus
	if err = c.queryRow(ctx, "SELECT status FROM commands WHERE id = ? AND device_id = ?", commandID, deviceID).Scan(&status); err != nil {
		return nil, notFound(err, "This device has no command %d.", commandID)
	}
	return nil, portico.Errorf(portico.ECONFLICT, "Command %d is %s, not waiting for an answer.", commandID, status)
}

func (c *conn) ListCommands(ctx context.Context, deviceID int64) ([]*portico.Command, error) {
	return scanAll(scanCommand)(c.query(ctx, "SELECT "+commandColumns+" FROM commands WHERE device_id = ? ORDER BY id DESC", deviceID))
}

func (c *conn) CommandByID(ctx context.Context, id int64) (*portico.Command, error) {
	cmd, err := scanCommand(c.queryRow(ctx, "SELECT "+commandColumns+" FROM commands WHERE id = ?", id))
	return cmd, notFound(err, "There is no command %d.", id)
}

func (c *conn) OpenCommand(ctx context.Context, deviceID int64, kind portico.CommandKind) (*portico.Command, error) {
	cmd, err := scanCommand(c.queryRow(ctx, "SELECT "+commandColumns+" FROM commands WHERE device_id = ? AND kind = ? AND status IN (?, ?, ?) ORDER BY id LIMIT 1",
		deviceID, string(kind), string(portico.CommandHeld), string(portico.CommandQueued), string(portico.CommandSent)))
	return cmd, notFound(err, "No %s waits for device %d.", kind, deviceID)
}

func (c *conn) CancelCommand(ctx context.Context, id int64, now time.Time) (*portico.Command, error) {
	cmd, err := scanCommand(c.writeRow(ctx, "UPDATE commands SET status = ?, done_at = ? WHERE id = ? AND status IN (?, ?) RETURNING "+commandColumns,
		string(portico.CommandCancelled), at(now), id, string(portico.CommandHeld), string(portico.CommandQueued)))
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return cmd, err
	}
	var status portico.CommandStatus
	if err := c.queryRow(ctx, "SELECT status FROM commands WHERE id = ?", id).Scan(&status); err != nil {
		return nil, notFound(err, "There is no command %d.", id)
	}
	return nil, portico.Errorf(portico.ECONFLICT, "This action is %s and can no longer be cancelled.", status.Label())
}

func (c *conn) ReleaseCommands(ctx context.Context, now time.Time) ([]*portico.Command, error) {
	return scanAll(scanCommand)(c.writeRows(ctx, "UPDATE commands SET status = ? WHERE status = ? AND release_at <= ? RETURNING "+commandColumns,
		string(portico.CommandQueued), string(portico.CommandHeld), at(now)))
}

func (c *conn) ExpireCommands(ctx context.Context, queuedBefore, sentBefore, now time.Time) ([]*portico.Command, error) {
	return scanAll(scanCommand)(c.writeRows(ctx, `UPDATE commands SET status = ?, done_at = ?
		WHERE (status = ? AND coalesce(release_at, created_at) < ?) OR (status = ? AND sent_at < ?) RETURNING `+commandColumns,
		string(portico.CommandExpired), at(now), string(portico.CommandQueued), at(queuedBefore), string(portico.CommandSent), at(sentBefore)))
}

func (c *conn) HasQueuedCommands(ctx context.Context, deviceID int64) (bool, error) {
	var queued bool
	err := c.queryRow(ctx, "SELECT EXISTS (SELECT 1 FROM commands WHERE device_id = ? AND status = ?)",
		deviceID, string(portico.CommandQueued)).Scan(&queued)
	return queued, err
}
