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

const commandColumns = "id, device_id, kind, status, payload, result, created_by, created_at, sent_at, done_at"

func scanCommand(s scanner) (*portico.Command, error) {
	cmd := &portico.Command{}
	var payload []byte
	err := s.Scan(&cmd.ID, &cmd.DeviceID, &cmd.Kind, &cmd.Status, &payload, &cmd.Result, &cmd.CreatedBy,
		scanTime(&cmd.CreatedAt), scanTime(&cmd.SentAt), scanTime(&cmd.DoneAt))
	cmd.Payload = payload
	return cmd, err
}

func (c *conn) QueueCommand(ctx context.Context, cmd *portico.Command) error {
	err := c.writeRow(ctx, `INSERT INTO commands (device_id, kind, status, payload, result, created_by, created_at, sent_at, done_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		cmd.DeviceID, string(cmd.Kind), string(cmd.Status), optionalText(cmd.Payload), cmd.Result, cmd.CreatedBy,
		at(cmd.CreatedAt), optionalAt(cmd.SentAt), optionalAt(cmd.DoneAt)).Scan(&cmd.ID)
	return refused(err, "", fmt.Sprintf("There is no device %d.", cmd.DeviceID))
}

// TakeCommands runs at every check-in, and almost always finds nothing: it
// looks on a reader first and writes only when there is something to take.
// The update decides which commands this call takes, so two check-ins of
// one device never both get a command.
func (c *conn) TakeCommands(ctx context.Context, deviceID int64, now time.Time) ([]*portico.Command, error) {
	var queued bool
	err := c.queryRow(ctx, "SELECT EXISTS (SELECT 1 FROM commands WHERE device_id = ? AND status = ?)",
		deviceID, string(portico.CommandQueued)).Scan(&queued)
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
	cmd, err := scanCommand(c.writeRow(ctx, "UPDATE commands SET status = ?, result = ?, done_at = ? WHERE id = ? AND device_id = ? AND status = ? RETURNING "+commandColumns,
		string(r.Status), r.Message, at(now), commandID, deviceID, string(portico.CommandSent)))
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
