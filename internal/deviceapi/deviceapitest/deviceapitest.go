// Package deviceapitest gives the tests of the device API and of its
// clients the commands a device receives, queued straight into the store of
// a servertest.Env as the portal's actions will queue them.
package deviceapitest

import (
	"context"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/server/servertest"
)

// Queue queues a command of the kind for the device.
func Queue(t testing.TB, e *servertest.Env, deviceID int64, kind portico.CommandKind) *portico.Command {
	t.Helper()
	c := &portico.Command{
		DeviceID: deviceID, Kind: kind, Status: portico.CommandQueued,
		CreatedBy: "test", CreatedAt: e.Clock.Now(),
	}
	if err := e.Store.QueueCommand(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// Status is where the command now is.
func Status(t testing.TB, e *servertest.Env, c *portico.Command) portico.CommandStatus {
	t.Helper()
	return Command(t, e, c).Status
}

// Command is the command as it now stands.
func Command(t testing.TB, e *servertest.Env, c *portico.Command) *portico.Command {
	t.Helper()
	cmds, err := e.Service.Commands(e.Op, c.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range cmds {
		if got.ID == c.ID {
			return got
		}
	}
	t.Fatalf("device %d has no command %d", c.DeviceID, c.ID)
	return nil
}
