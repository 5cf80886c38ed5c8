package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

func testCommandLife(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	d := addDevice(t, st, alice.ID, "phone")
	held := &portico.Command{DeviceID: d.ID, Kind: portico.CommandWipe, Status: portico.CommandHeld, CreatedBy: "alice",
		CreatedAt: base, ReleaseAt: base.Add(time.Minute)}
	check(t, st.QueueCommand(ctx(t), held))
	got, err := st.CommandByID(ctx(t), held.ID)
	check(t, err)
	wantTime(t, "release", got.ReleaseAt, base.Add(time.Minute))
	if open, err := st.OpenCommand(ctx(t), d.ID, portico.CommandWipe); err != nil || open.ID != held.ID {
		t.Errorf("open wipe = %+v, %v", open, err)
	}
	_, err = st.OpenCommand(ctx(t), d.ID, portico.CommandLock)
	wantCode(t, err, portico.ENOTFOUND)

	if cmds, _ := st.TakeCommands(ctx(t), d.ID, base); len(cmds) != 0 {
		t.Errorf("a held command was taken: %d", len(cmds))
	}
	if released, _ := st.ReleaseCommands(ctx(t), base.Add(59*time.Second)); len(released) != 0 {
		t.Errorf("released %d before their time", len(released))
	}
	released, err := st.ReleaseCommands(ctx(t), base.Add(time.Minute))
	check(t, err)
	if len(released) != 1 || released[0].ID != held.ID || released[0].Status != portico.CommandQueued {
		t.Fatalf("released %+v", released)
	}
	sent, _ := st.TakeCommands(ctx(t), d.ID, base.Add(2*time.Minute))
	if len(sent) != 1 {
		t.Fatalf("took %d after release", len(sent))
	}
	_, err = st.CancelCommand(ctx(t), held.ID, base)
	wantCode(t, err, portico.ECONFLICT) // too late: the device has it

	loc, _ := json.Marshal(portico.Location{Latitude: 47.37, Longitude: 8.54, Accuracy: 12, At: base})
	locate := queue(t, st, d.ID, portico.CommandLocate, portico.CommandQueued, base)
	st.TakeCommands(ctx(t), d.ID, base)
	done, err := st.FinishCommand(ctx(t), d.ID, locate.ID, portico.CommandResult{Status: portico.CommandDone, Data: loc}, base)
	check(t, err)
	if l, ok := done.Location(); !ok || l.Latitude != 47.37 || l.Accuracy != 12 {
		t.Errorf("location %+v, %t from %s", l, ok, done.Data)
	}

	lock := queue(t, st, d.ID, portico.CommandLock, portico.CommandQueued, base)
	cancelled, err := st.CancelCommand(ctx(t), lock.ID, base.Add(time.Second))
	check(t, err)
	if cancelled.Status != portico.CommandCancelled {
		t.Errorf("cancelled status %s", cancelled.Status)
	}
	_, err = st.CancelCommand(ctx(t), 999, base)
	wantCode(t, err, portico.ENOTFOUND)
}

func testExpireCommands(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	d := addDevice(t, st, alice.ID, "phone")
	queue(t, st, d.ID, portico.CommandLock, portico.CommandQueued, base)
	unanswered := queue(t, st, d.ID, portico.CommandLocate, portico.CommandQueued, base)
	st.TakeCommands(ctx(t), d.ID, base) // both sent at base
	fresh := queue(t, st, d.ID, portico.CommandUnlock, portico.CommandQueued, base.Add(time.Hour))
	old := queue(t, st, d.ID, portico.CommandCheckin, portico.CommandQueued, base)

	expired, err := st.ExpireCommands(ctx(t), base.Add(30*time.Minute), base.Add(-time.Minute), base.Add(2*time.Hour))
	check(t, err)
	if ids := ids(expired, func(c *portico.Command) int64 { return c.ID }); len(ids) != 1 || ids[0] != old.ID {
		t.Errorf("expired %v; want only the queued command never collected (%d)", ids, old.ID)
	}
	expired, _ = st.ExpireCommands(ctx(t), base, base.Add(time.Minute), base.Add(2*time.Hour))
	if len(expired) != 2 {
		t.Errorf("expired %d sent commands never answered; want 2", len(expired))
	}
	got, _ := st.CommandByID(ctx(t), unanswered.ID)
	if got.Status != portico.CommandExpired {
		t.Errorf("unanswered command is %s", got.Status)
	}
	if got, _ := st.CommandByID(ctx(t), fresh.ID); got.Status != portico.CommandQueued {
		t.Errorf("a fresh command expired: %s", got.Status)
	}
}

func testEndDevice(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	d := addDevice(t, st, alice.ID, "phone")
	check(t, st.SetOwnership(ctx(t), d.ID, portico.OwnershipCompany))
	check(t, st.EndDevice(ctx(t), d.ID, portico.StatusWiped))
	got, err := st.DeviceByID(ctx(t), d.ID)
	check(t, err)
	if got.Status != portico.StatusWiped || got.Ownership != portico.OwnershipCompany {
		t.Errorf("device after wipe: %+v", got)
	}
	_, err = st.DeviceByTokenHash(ctx(t), hash("phone"))
	wantCode(t, err, portico.ENOTFOUND)
	wantCode(t, st.EndDevice(ctx(t), d.ID, portico.StatusRetired), portico.ECONFLICT)
	wantCode(t, st.EndDevice(ctx(t), 999, portico.StatusRetired), portico.ENOTFOUND)
	wantCode(t, st.SetOwnership(ctx(t), 999, portico.OwnershipCompany), portico.ENOTFOUND)
}
