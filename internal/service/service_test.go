package service_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
	"github.com/portico-mdm/portico/internal/store/sqlstore"
)

type env struct {
	svc   *service.Service
	db    store.Store
	clock *servertest.Clock
	op    context.Context // the operator at the command line
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, t.TempDir()+"/portico.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	c := servertest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	svc := service.New(service.Config{Store: db, Passwords: secret.Cheap, Clock: c, Sealer: newSealer(t, 1)})
	return &env{svc: svc, db: db, clock: c, op: portico.NewContextWithActor(ctx, portico.Actor{System: true})}
}

func (e *env) addUser(t *testing.T, name string, admin bool, roles ...portico.Role) *portico.User {
	t.Helper()
	u, _, err := e.svc.CreateUser(e.op, service.NewUser{
		User:     portico.User{Username: name, Email: name + "@example.com", Admin: admin, Roles: roles},
		Password: name + "-password",
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func from(source string) context.Context {
	return portico.NewContextWithActor(context.Background(), portico.Actor{Source: source})
}

func as(u *portico.User) context.Context {
	return portico.NewContextWithActor(context.Background(), portico.Actor{User: u, Source: "192.0.2.1"})
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := portico.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func TestLoginSameAnswerForUnknownUserAndWrongPassword(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "alice", false)
	_, unknown := e.svc.Login(from("192.0.2.1"), "nobody", "whatever-password")
	_, wrong := e.svc.Login(from("192.0.2.2"), "alice", "wrong-password")
	wantCode(t, unknown, portico.EUNAUTHENTICATED)
	if portico.ErrorMessage(unknown) != portico.ErrorMessage(wrong) {
		t.Errorf("messages differ: %q and %q", portico.ErrorMessage(unknown), portico.ErrorMessage(wrong))
	}
	if u, err := e.svc.Login(from("192.0.2.3"), "ALICE", "alice-password"); err != nil || u.Username != "alice" {
		t.Errorf("login with the right password: %v, %v", u, err)
	}
}

func TestLoginThrottlesAndLocksOut(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "alice", false)
	ctx := from("192.0.2.9")
	fail := func() error { _, err := e.svc.Login(ctx, "alice", "wrong-password"); return err }

	for range 3 { // the first failures cost nothing
		wantCode(t, fail(), portico.EUNAUTHENTICATED)
	}
	wantCode(t, fail(), portico.ETHROTTLED) // then each failure costs a wait
	e.clock.Advance(time.Second)
	wantCode(t, fail(), portico.EUNAUTHENTICATED)
	if _, err := e.svc.Login(ctx, "alice", "alice-password"); portico.ErrorCode(err) != portico.ETHROTTLED {
		t.Fatalf("right after the fourth failure even the right password must wait: %v", err)
	}
	e.clock.Advance(2 * time.Second)
	wantCode(t, fail(), portico.EUNAUTHENTICATED) // fifth failure: the default limit
	e.clock.Advance(time.Minute)
	if _, err := e.svc.Login(ctx, "alice", "alice-password"); portico.ErrorCode(err) != portico.ETHROTTLED {
		t.Fatalf("after 5 failures alice is locked out: %v", err)
	}
	// Another address is locked out too: the lock is on the user name.
	if _, err := e.svc.Login(from("198.51.100.1"), "alice", "alice-password"); portico.ErrorCode(err) != portico.ETHROTTLED {
		t.Fatalf("the lock-out is per user: %v", err)
	}
	e.clock.Advance(15 * time.Minute)
	if _, err := e.svc.Login(ctx, "alice", "alice-password"); err != nil {
		t.Fatalf("after the lock-out window the right password works: %v", err)
	}
}

func TestLoginSuccessIsNeverSlowed(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "alice", false)
	for range 50 {
		if _, err := e.svc.Login(from("192.0.2.1"), "alice", "alice-password"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoginAddressLockOut(t *testing.T) {
	e := newEnv(t)
	ctx := from("203.0.113.5")
	// Failures against many names from one address: each name stays under
	// its own limit, the address does not.
	var err error
	for i := range 40 {
		_, err = e.svc.Login(ctx, "user"+string(rune('a'+i%26))+string(rune('a'+i/26)), "x")
		e.clock.Advance(time.Second * 20)
		if portico.ErrorCode(err) == portico.ETHROTTLED {
			break
		}
	}
	wantCode(t, err, portico.ETHROTTLED)
}

func TestDisabledUserCannotSignIn(t *testing.T) {
	e := newEnv(t)
	u := e.addUser(t, "alice", false)
	if _, err := e.svc.SessionUser(context.Background(), u.ID, u.SessionEpoch); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SessionUser(context.Background(), 9999, 0); portico.ErrorCode(err) != portico.EUNAUTHENTICATED {
		t.Errorf("a session of a deleted user: %v", err)
	}
}

func TestOnlyAdminsManageUsersAndSettings(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false, portico.Roles...)
	root := e.addUser(t, "root", true)
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"create user", func(ctx context.Context) error {
			_, _, err := e.svc.CreateUser(ctx, service.NewUser{User: portico.User{Username: "x", Email: "x@example.com"}})
			return err
		}},
		{"list users", func(ctx context.Context) error { _, err := e.svc.Users(ctx); return err }},
		{"set roles", func(ctx context.Context) error { _, err := e.svc.SetRoles(ctx, alice.ID, nil); return err }},
		{"set settings", func(ctx context.Context) error {
			return e.svc.SetSettings(ctx, map[string]string{"helpdesk.name": "Desk"})
		}},
		{"all devices", func(ctx context.Context) error { _, err := e.svc.AllDevices(ctx, store.DeviceFilter{}); return err }},
		{"audit log", func(ctx context.Context) error { _, err := e.svc.AuditLog(ctx, store.AuditFilter{}); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, tt.call(as(alice)), portico.EFORBIDDEN)
			wantCode(t, tt.call(context.Background()), portico.EUNAUTHENTICATED)
			if err := tt.call(as(root)); err != nil {
				t.Errorf("as an admin: %v", err)
			}
		})
	}
}

func TestCreateUserRefusesBadInputAndChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "alice", false)
	tests := []struct {
		name string
		nu   service.NewUser
		code string
	}{
		{"bad user name", service.NewUser{User: portico.User{Username: "a b", Email: "a@example.com"}}, portico.EINVALID},
		{"no email", service.NewUser{User: portico.User{Username: "bob"}}, portico.EINVALID},
		{"bad email", service.NewUser{User: portico.User{Username: "bob", Email: "bob@"}}, portico.EINVALID},
		{"bad phone", service.NewUser{User: portico.User{Username: "bob", Email: "bob@example.com", Phone: "call me"}}, portico.EINVALID},
		{"bad role", service.NewUser{User: portico.User{Username: "bob", Email: "bob@example.com", Roles: []portico.Role{"fly"}}}, portico.EINVALID},
		{"short password", service.NewUser{User: portico.User{Username: "bob", Email: "bob@example.com"}, Password: "short"}, portico.EINVALID},
		{"taken", service.NewUser{User: portico.User{Username: "alice", Email: "a2@example.com"}}, portico.ECONFLICT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.svc.CreateUser(e.op, tt.nu)
			wantCode(t, err, tt.code)
		})
	}
	users, err := e.svc.Users(e.op)
	if err != nil || len(users) != 1 {
		t.Fatalf("users after refusals: %d, %v", len(users), err)
	}
}

func TestGeneratedPasswordWorks(t *testing.T) {
	e := newEnv(t)
	_, password, err := e.svc.CreateUser(e.op, service.NewUser{User: portico.User{Username: "gen", Email: "gen@example.com"}})
	if err != nil || len(password) < 20 {
		t.Fatalf("generated password %q, %v", password, err)
	}
	if _, err := e.svc.Login(from("192.0.2.1"), "gen", password); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureAdminOnce(t *testing.T) {
	e := newEnv(t)
	first, err := e.svc.EnsureAdmin(context.Background(), "admin", "admin@localhost")
	if err != nil || first == "" {
		t.Fatalf("first run: %q, %v", first, err)
	}
	// The printed password is temporary: signing in with it opens only the
	// page to choose another.
	if u, err := e.svc.Login(from("192.0.2.1"), "admin", first); err != nil || !u.MustChangePassword {
		t.Fatalf("first administrator: must change password %t, %v", u != nil && u.MustChangePassword, err)
	}
	second, err := e.svc.EnsureAdmin(context.Background(), "admin", "admin@localhost")
	if err != nil || second != "" {
		t.Fatalf("second run made another administrator: %q, %v", second, err)
	}
}

func TestChangeRoles(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "alice", false, portico.RoleLock)
	u, err := e.svc.ChangeRoles(e.op, "alice", []portico.Role{portico.RoleWipe, portico.RoleUnlock}, []portico.Role{portico.RoleLock})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.ChangeRoles(e.op, "alice", []portico.Role{portico.RoleLock}, []portico.Role{portico.RoleLock})
	wantCode(t, err, portico.EINVALID)
	want := []portico.Role{portico.RoleUnlock, portico.RoleWipe}
	if len(u.Roles) != 2 || u.Roles[0] != want[0] || u.Roles[1] != want[1] {
		t.Errorf("roles = %v, want %v", u.Roles, want)
	}
	entries, _ := e.svc.AuditLog(e.op, store.AuditFilter{Actor: "system"})
	found := false
	for _, a := range entries {
		found = found || (a.Action == "user.roles" && a.Target == "alice")
	}
	if !found {
		t.Error("the role change is not in the audit log")
	}
}

func TestSetSettingsIsAllOrNothing(t *testing.T) {
	e := newEnv(t)
	err := e.svc.SetSettings(e.op, map[string]string{"helpdesk.name": "Desk", "login.max_failures": "many"})
	wantCode(t, err, portico.EINVALID)
	v, _ := e.svc.Settings(context.Background())
	if v.Get("helpdesk.name") != "IT Helpdesk" {
		t.Errorf("a refused change stored part of itself: %q", v.Get("helpdesk.name"))
	}
	wantCode(t, e.svc.SetSettings(e.op, map[string]string{"no.such": "x"}), portico.EINVALID)
	if err := e.svc.SetSettings(e.op, map[string]string{"helpdesk.name": "Desk", "login.max_failures": "7"}); err != nil {
		t.Fatal(err)
	}
	v, _ = e.svc.Settings(context.Background())
	if v.Get("helpdesk.name") != "Desk" || v.Int("login.max_failures") != 7 {
		t.Errorf("settings not stored: %v", v)
	}
}

func register(t *testing.T, e *env, user string) (*portico.Device, string) {
	t.Helper()
	d, token, err := e.svc.RegisterDevice(from("192.0.2.50"), service.Registration{
		Username: user, Password: user + "-password", Platform: portico.PlatformAndroid,
		Details: portico.DeviceDetails{Name: "Pixel", Model: "Pixel 8", Manufacturer: "Google", OSVersion: "14", IMEI: "356938035643809"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return d, token
}

func TestDevicesBelongToTheirOwner(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false)
	bob := e.addUser(t, "bob", false)
	root := e.addUser(t, "root", true)
	d, _ := register(t, e, "alice")
	if d.Status != portico.StatusActive || d.UserID != alice.ID {
		t.Fatalf("registered device: %+v", d)
	}
	if _, err := e.svc.Device(as(alice), d.ID); err != nil {
		t.Errorf("owner: %v", err)
	}
	if _, err := e.svc.Device(as(root), d.ID); err != nil {
		t.Errorf("admin: %v", err)
	}
	_, err := e.svc.Device(as(bob), d.ID)
	wantCode(t, err, portico.ENOTFOUND)
	_, missing := e.svc.Device(as(bob), 9999)
	if portico.ErrorMessage(err) != portico.ErrorMessage(missing) {
		t.Errorf("another user's device and a missing one answer differently: %q, %q", portico.ErrorMessage(err), portico.ErrorMessage(missing))
	}
	mine, _ := e.svc.MyDevices(as(bob))
	if len(mine) != 0 {
		t.Errorf("bob sees %d devices", len(mine))
	}
}

func TestRegisterDeviceRefusals(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "alice", false)
	tests := []struct {
		name string
		r    service.Registration
		code string
	}{
		{"wrong password", service.Registration{Username: "alice", Password: "nope", Platform: "ios"}, portico.EUNAUTHENTICATED},
		{"unknown user", service.Registration{Username: "zed", Password: "nope", Platform: "ios"}, portico.EUNAUTHENTICATED},
		{"bad platform", service.Registration{Username: "alice", Password: "alice-password", Platform: "palm"}, portico.EINVALID},
		{"bad version", service.Registration{Username: "alice", Password: "alice-password", Platform: "ios", Details: portico.DeviceDetails{OSVersion: "17;drop"}}, portico.EINVALID},
		{"bad IMEI", service.Registration{Username: "alice", Password: "alice-password", Platform: "ios", Details: portico.DeviceDetails{IMEI: "12ab"}}, portico.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.svc.RegisterDevice(from("192.0.2.60"), tt.r)
			wantCode(t, err, tt.code)
		})
	}
	all, _ := e.svc.AllDevices(e.op, store.DeviceFilter{})
	if len(all) != 0 {
		t.Errorf("refused registrations left %d devices", len(all))
	}
}

func TestCheckinUpdatesDetailsAndBatchesTimes(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "alice", false)
	d, token := register(t, e, "alice")
	dev, err := e.svc.AuthenticateDevice(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	ctx := portico.NewContextWithActor(context.Background(), portico.Actor{Device: dev})

	e.clock.Advance(time.Hour)
	if _, err := e.svc.Checkin(ctx, dev.Details); err != nil {
		t.Fatal(err)
	}
	e.svc.Flush(context.Background())
	got, _ := e.svc.Device(e.op, d.ID)
	if !got.LastCheckin.Equal(e.clock.Now()) {
		t.Errorf("last check-in %v, want %v", got.LastCheckin, e.clock.Now())
	}

	changed := dev.Details
	changed.OSVersion = "14.1"
	if _, err := e.svc.Checkin(ctx, changed); err != nil {
		t.Fatal(err)
	}
	got, _ = e.svc.Device(e.op, d.ID)
	if got.Details.OSVersion != "14.1" {
		t.Errorf("OS version %q after check-in, want 14.1", got.Details.OSVersion)
	}
	if _, err := e.svc.AuthenticateDevice(context.Background(), "not-a-token"); portico.ErrorCode(err) != portico.EUNAUTHENTICATED {
		t.Errorf("unknown token: %v", err)
	}
}

func TestCommandResultIsAudited(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "alice", false)
	d, token := register(t, e, "alice")
	c := &portico.Command{DeviceID: d.ID, Kind: portico.CommandCheckin, Status: portico.CommandQueued, CreatedBy: "alice", CreatedAt: e.clock.Now()}
	if err := e.db.QueueCommand(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	dev, _ := e.svc.AuthenticateDevice(context.Background(), token)
	ctx := portico.NewContextWithActor(context.Background(), portico.Actor{Device: dev})
	cmds, err := e.svc.Checkin(ctx, dev.Details)
	if err != nil || len(cmds) != 1 {
		t.Fatalf("check-in returned %d commands, %v", len(cmds), err)
	}
	_, err = e.svc.ReportResult(ctx, c.ID, portico.CommandResult{Status: "maybe"})
	wantCode(t, err, portico.EINVALID)
	done, err := e.svc.ReportResult(ctx, c.ID, portico.CommandResult{Status: portico.CommandDone, Message: "checked in"})
	if err != nil || done.Status != portico.CommandDone {
		t.Fatalf("result: %+v, %v", done, err)
	}
	_, err = e.svc.ReportResult(ctx, c.ID, portico.CommandResult{Status: portico.CommandDone})
	wantCode(t, err, portico.ECONFLICT)
	entries, _ := e.svc.AuditLog(e.op, store.AuditFilter{DeviceID: d.ID})
	if len(entries) < 2 {
		t.Errorf("want the registration and the result audited, got %d entries", len(entries))
	}
}

// TestParallelGuessesAreBounded sends many wrong passwords at once: however
// many arrive together, no more than the limit are checked.
func TestParallelGuessesAreBounded(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "alice", false)
	const guesses = 40
	var wg sync.WaitGroup
	codes := make([]string, guesses)
	for i := range guesses {
		wg.Go(func() {
			_, err := e.svc.Login(from("192.0.2.200"), "alice", "wrong-password")
			codes[i] = portico.ErrorCode(err)
		})
	}
	wg.Wait()
	checked := 0
	for _, c := range codes {
		if c == portico.EUNAUTHENTICATED {
			checked++
		} else if c != portico.ETHROTTLED {
			t.Errorf("a guess got %q", c)
		}
	}
	if checked == 0 || checked > 5 {
		t.Errorf("%d of %d parallel guesses were checked; want between 1 and the limit of 5", checked, guesses)
	}
	entries, _ := e.svc.AuditLog(e.op, store.AuditFilter{Actor: "anonymous"})
	if len(entries) != checked {
		t.Errorf("%d audit entries for %d checked guesses: throttled ones must not be logged one by one", len(entries), checked)
	}
}

func TestBackoffIsCappedAndRefusalsAreBounded(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "alice", false)
	if err := e.svc.SetSettings(e.op, map[string]string{"login.max_failures": "100"}); err != nil {
		t.Fatal(err)
	}
	for range 60 {
		e.svc.Login(from("192.0.2.201"), "alice", "wrong-password")
		e.clock.Advance(2 * time.Minute)
	}
	_, err := e.svc.Login(from("192.0.2.201"), "alice", "alice-password")
	if err != nil {
		t.Errorf("after waiting longer than the longest back-off the right password is refused: %v", err)
	}
	long := strings.Repeat("x", 5000)
	e.svc.Login(from("192.0.2.202"), long, "whatever")
	entries, _ := e.svc.AuditLog(e.op, store.AuditFilter{Limit: 1})
	if len(entries) != 1 || len(entries[0].Target) > 110 {
		t.Errorf("a 5000-character user name is kept whole in the audit log")
	}
}
