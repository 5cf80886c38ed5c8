package service_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

// deviceCtx is the device's agent, signed in with its token.
func (e *env) deviceCtx(t *testing.T, token string) context.Context {
	t.Helper()
	d, err := e.svc.AuthenticateDevice(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return portico.NewContextWithActor(context.Background(), portico.Actor{Device: d})
}

// answer has the device collect its commands and answer each as told.
func (e *env) answer(t *testing.T, token string, status portico.CommandStatus, data string) []*portico.Command {
	t.Helper()
	ctx := e.deviceCtx(t, token)
	cmds, err := e.svc.Checkin(ctx, pixel)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if _, err := e.svc.ReportResult(ctx, c.ID, portico.CommandResult{Status: status, Data: json.RawMessage(data)}); err != nil {
			t.Fatal(err)
		}
	}
	return cmds
}

func TestActionsNeedTheirRole(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false, portico.RoleLock)
	root := e.addUser(t, "root", true)
	bob := e.addUser(t, "bob", false, portico.Roles...)
	d, _ := register(t, e, "alice")
	tests := []struct {
		name string
		ctx  context.Context
		kind portico.CommandKind
		code string
	}{
		{"with the role", as(alice), portico.CommandLock, ""},
		{"without the role", as(alice), portico.CommandUnlock, portico.EFORBIDDEN},
		{"an admin may do all", as(root), portico.CommandUnlock, ""},
		{"another user's device", as(bob), portico.CommandCheckin, portico.ENOTFOUND},
		{"not an action", as(alice), "explode", portico.EINVALID},
		{"signed out", context.Background(), portico.CommandLock, portico.EUNAUTHENTICATED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.Act(tt.ctx, d.ID, tt.kind, "")
			wantCode(t, err, tt.code)
		})
	}
	cmds, _ := e.svc.Commands(e.op, d.ID)
	if len(cmds) != 2 {
		t.Errorf("%d commands; refusals must leave none behind", len(cmds))
	}
	a, _ := e.svc.Actions(as(alice), d)
	if len(a.Kinds) != 1 || a.Kinds[0] != portico.CommandLock || a.ChangeOwnership {
		t.Errorf("alice's actions = %+v", a)
	}
}

func TestLockGoesQueuedSentDone(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false, portico.RoleLock)
	d, token := register(t, e, "alice")
	c, err := e.svc.Act(as(alice), d.ID, portico.CommandLock, "")
	if err != nil || c.Status != portico.CommandQueued {
		t.Fatalf("lock: %+v, %v", c, err)
	}
	_, err = e.svc.Act(as(alice), d.ID, portico.CommandLock, "")
	wantCode(t, err, portico.ECONFLICT) // a second click queues nothing
	e.answer(t, token, portico.CommandDone, "")
	cmds, _ := e.svc.Commands(as(alice), d.ID)
	if len(cmds) != 1 || cmds[0].Status != portico.CommandDone || cmds[0].SentAt.IsZero() || cmds[0].DoneAt.IsZero() {
		t.Errorf("after the device answered: %+v", cmds[0])
	}
	entries, _ := e.svc.AuditLog(e.op, store.AuditFilter{DeviceID: d.ID})
	var actions []string
	for _, a := range entries {
		actions = append(actions, a.Actor+":"+a.Action)
	}
	if !strings.Contains(strings.Join(actions, " "), "alice:device.lock") || !strings.Contains(strings.Join(actions, " "), "command.lock") {
		t.Errorf("audit = %v", actions)
	}
}

func TestWipeWaitsOutItsGracePeriodAndCanBeCancelled(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false, portico.RoleWipe)
	d, token := register(t, e, "alice")
	_, err := e.svc.Act(as(alice), d.ID, portico.CommandWipe, "pixel")
	wantCode(t, err, portico.EINVALID) // the name, exactly
	c, err := e.svc.Act(as(alice), d.ID, portico.CommandWipe, "Pixel")
	if err != nil || c.Status != portico.CommandHeld || !c.ReleaseAt.Equal(e.clock.Now().Add(time.Minute)) {
		t.Fatalf("wipe: %+v, %v", c, err)
	}
	if cmds := e.answer(t, token, portico.CommandDone, ""); len(cmds) != 0 {
		t.Fatal("a held wipe reached the device during its grace period")
	}
	if _, err := e.svc.CancelAction(as(alice), c.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)
	e.svc.AdvanceCommands(context.Background())
	if cmds := e.answer(t, token, portico.CommandDone, ""); len(cmds) != 0 {
		t.Fatal("a cancelled wipe reached the device")
	}

	c, _ = e.svc.Act(as(alice), d.ID, portico.CommandWipe, "Pixel")
	e.clock.Advance(time.Minute)
	if err := e.svc.AdvanceCommands(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cmds := e.answer(t, token, portico.CommandDone, ""); len(cmds) != 1 {
		t.Fatal("the released wipe did not reach the device")
	}
	_, err = e.svc.CancelAction(as(alice), c.ID)
	wantCode(t, err, portico.ECONFLICT) // the device has it: too late
	got, _ := e.svc.Device(e.op, d.ID)
	if got.Status != portico.StatusWiped {
		t.Errorf("after the device confirmed, it is %s", got.Status)
	}
	if _, err := e.svc.AuthenticateDevice(context.Background(), token); portico.ErrorCode(err) != portico.EUNAUTHENTICATED {
		t.Errorf("a wiped device's token still works: %v", err)
	}
	_, err = e.svc.Act(as(alice), d.ID, portico.CommandWipe, "Pixel")
	wantCode(t, err, portico.ECONFLICT)
}

func TestLocateFollowsThePrivacyPolicy(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false, portico.RoleLocate, portico.RoleChangeOwnership)
	root := e.addUser(t, "root", true)
	d, token := register(t, e, "alice") // employee-owned by default
	_, err := e.svc.Act(as(alice), d.ID, portico.CommandLocate, "")
	wantCode(t, err, portico.EFORBIDDEN)
	_, err = e.svc.ChangeOwnership(as(alice), d.ID, portico.OwnershipCompany)
	wantCode(t, err, portico.EFORBIDDEN) // users may not, until the admin allows it
	if _, err := e.svc.ChangeOwnership(as(root), d.ID, portico.OwnershipCompany); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Act(as(alice), d.ID, portico.CommandLocate, ""); err != nil {
		t.Fatal(err)
	}
	ctx := e.deviceCtx(t, token)
	cmds, _ := e.svc.Checkin(ctx, pixel)
	_, err = e.svc.ReportResult(ctx, cmds[0].ID, portico.CommandResult{Status: portico.CommandDone, Data: json.RawMessage(`{"latitude": 123}`)})
	wantCode(t, err, portico.EINVALID)
	loc := `{"latitude": 47.3769, "longitude": 8.5417, "accuracy_m": 15, "at": "2026-03-01T09:00:00Z"}`
	if _, err := e.svc.ReportResult(ctx, cmds[0].ID, portico.CommandResult{Status: portico.CommandDone, Data: json.RawMessage(loc)}); err != nil {
		t.Fatal(err)
	}
	history, _ := e.svc.Commands(as(alice), d.ID)
	if l, ok := history[0].Location(); !ok || l.Latitude != 47.3769 {
		t.Errorf("location %+v, %t", l, ok)
	}
	// Back to employee-owned: the location is no longer shown.
	if err := e.svc.SetSettings(e.op, map[string]string{"registration.user_may_change_ownership": "true"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ChangeOwnership(as(alice), d.ID, portico.OwnershipEmployee); err != nil {
		t.Fatal(err)
	}
	history, _ = e.svc.Commands(as(alice), d.ID)
	if _, ok := history[0].Location(); ok {
		t.Error("an employee-owned device's location is still shown")
	}
}

func TestIgnoredCommandsExpireAndRetireAnyway(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false, portico.RoleLock, portico.RoleRetire)
	d, token := register(t, e, "alice")
	lock, _ := e.svc.Act(as(alice), d.ID, portico.CommandLock, "")
	_, err := e.svc.Act(as(alice), d.ID, portico.CommandRetire, "")
	wantCode(t, err, portico.EINVALID) // unconfirmed
	retire, err := e.svc.Act(as(alice), d.ID, portico.CommandRetire, "retire")
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Checkin(e.deviceCtx(t, token), pixel) // collects both, answers neither
	e.clock.Advance(61 * time.Minute)
	if err := e.svc.AdvanceCommands(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{lock.ID, retire.ID} {
		c, _ := e.db.CommandByID(context.Background(), id)
		if c.Status != portico.CommandExpired {
			t.Errorf("command %d is %s after the answer timeout", id, c.Status)
		}
	}
	if mine, _ := e.svc.MyDevices(as(alice)); len(mine) != 0 {
		t.Errorf("a device whose retirement expired is still listed: %+v", mine[0])
	}
}

func TestNoticeMailOnWipe(t *testing.T) {
	e := newEnv(t)
	if err := e.svc.SetSettings(e.op, map[string]string{"actions.notify_user": "true", "actions.wipe_grace": "0s"}); err != nil {
		t.Fatal(err)
	}
	root := e.addUser(t, "root", true)
	e.addUser(t, "alice", false)
	d, _ := register(t, e, "alice")
	c, err := e.svc.Act(as(root), d.ID, portico.CommandWipe, "Pixel")
	if err != nil || c.Status != portico.CommandQueued {
		t.Fatalf("wipe without grace: %+v, %v", c, err)
	}
	msgs, _ := e.db.ListMessages(context.Background(), store.MessageFilter{})
	if len(msgs) != 1 || msgs[0].To != "alice@example.com" || !strings.Contains(msgs[0].Text, "root asked for your Android device (Pixel) to be wiped") {
		t.Errorf("notice = %+v", msgs)
	}
}
