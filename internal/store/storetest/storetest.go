// Package storetest is the suite that every implementation of
// internal/store must pass, so that the service behaves the same on each
// database. A backend's test calls Run with a function that opens a fresh,
// migrated, empty store.
package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

// Run runs every test of the suite, each on its own store from open.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"Users", testUsers},
		{"UserConflicts", testUserConflicts},
		{"UsersNotFound", testUsersNotFound},
		{"Roles", testRoles},
		{"CountAdmins", testCountAdmins},
		{"UpdateUser", testUpdateUser},
		{"EndUserSessions", testEndUserSessions},
		{"SearchUsers", testSearchUsers},
		{"ExistingUsernames", testExistingUsernames},
		{"DisableAndTemporaryPassword", testDisableAndTemporaryPassword},
		{"RoleSets", testRoleSets},
		{"PasswordResets", testPasswordResets},
		{"EndPasswordResets", testEndPasswordResets},
		{"Sessions", testSessions},
		{"Devices", testDevices},
		{"DevicesRefused", testDevicesRefused},
		{"ListDevices", testListDevices},
		{"FilterDevices", testFilterDevices},
		{"Usernames", testUsernames},
		{"UpdateDeviceDetails", testUpdateDeviceDetails},
		{"TouchDevices", testTouchDevices},
		{"SeedDevices", testSeedDevices},
		{"SeedDevicesRefused", testSeedDevicesRefused},
		{"Commands", testCommands},
		{"TakeCommandsOnce", testTakeCommandsOnce},
		{"FinishCommand", testFinishCommand},
		{"CommandLife", testCommandLife},
		{"ExpireCommands", testExpireCommands},
		{"EndDevice", testEndDevice},
		{"Audit", testAudit},
		{"AuditLimits", testAuditLimits},
		{"FilterAudit", testFilterAudit},
		{"Settings", testSettings},
		{"Logo", testLogo},
		{"Backups", testBackups},
		{"LoginFailures", testLoginFailures},
		{"Certificates", testCertificates},
		{"RegisteredWith", testRegisteredWith},
		{"SecureAppsPINs", testSecureAppsPINs},
		{"TwoFactor", testTwoFactor},
		{"TOTPStepOnce", testTOTPStepOnce},
		{"Invitations", testInvitations},
		{"InvitationsRefused", testInvitationsRefused},
		{"ActivateDevice", testActivateDevice},
		{"DerivedRequests", testDerivedRequests},
		{"DerivedRequestsOnce", testDerivedRequestsOnce},
		{"APIKeys", testAPIKeys},
		{"APIKeysRefused", testAPIKeysRefused},
		{"AppleChallenges", testAppleChallenges},
		{"AppleEnrollments", testAppleEnrollments},
		{"AppleCommands", testAppleCommands},
		{"AppleTokens", testAppleTokens},
		{"Transactions", testTransactions},
		{"NestedTransactions", testNestedTransactions},
		{"EnqueueMessage", testEnqueueMessage},
		{"ClaimMessages", testClaimMessages},
		{"MessageLease", testMessageLease},
		{"RetryAndFailMessage", testRetryAndFailMessage},
		{"ClaimMessagesOnce", testClaimMessagesOnce},
		{"ListMessages", testListMessages},
		{"DeleteFinishedMessages", testDeleteFinishedMessages},
		{"EnqueuePush", testEnqueuePush},
		{"EnqueuePushHeld", testEnqueuePushHeld},
		{"EnqueuePushAtOnce", testEnqueuePushAtOnce},
		{"PushCertificate", testPushCertificate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// base has microseconds and another zone than UTC, so that every test
// checks that times come back exactly and in UTC.
var base = time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.FixedZone("CET", 3600))

func ctx(t *testing.T) context.Context { return t.Context() }

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := portico.ErrorCode(err); got != code {
		t.Fatalf("got error %v (code %q), want code %q", err, got, code)
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
	if !got.IsZero() && got.Location() != time.UTC {
		t.Errorf("%s is in %v, want UTC", what, got.Location())
	}
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func addUser(t *testing.T, st store.Store, name string, admin bool, roles ...portico.Role) *portico.User {
	t.Helper()
	u := &portico.User{Username: name, Name: "Name of " + name, Email: name + "@example.com", Admin: admin, Roles: roles, CreatedAt: base}
	check(t, st.CreateUser(ctx(t), u, "hash-of-"+name))
	if u.ID == 0 {
		t.Fatal("CreateUser did not set the ID")
	}
	return u
}

func newDevice(userID int64, name string) *portico.Device {
	return &portico.Device{
		UserID: userID, Platform: portico.PlatformIOS, Status: portico.StatusActive, Ownership: portico.OwnershipEmployee,
		Details:   portico.DeviceDetails{Name: name, Model: "iPhone15,2", OSVersion: "17.4.1"},
		CreatedAt: base,
	}
}

func addDevice(t *testing.T, st store.Store, userID int64, name string) *portico.Device {
	t.Helper()
	d := newDevice(userID, name)
	check(t, st.CreateDevice(ctx(t), d, hash(name)))
	if d.ID == 0 {
		t.Fatal("CreateDevice did not set the ID")
	}
	return d
}

func queue(t *testing.T, st store.Store, deviceID int64, kind portico.CommandKind, status portico.CommandStatus, created time.Time) *portico.Command {
	t.Helper()
	c := &portico.Command{DeviceID: deviceID, Kind: kind, Status: status, CreatedBy: "alice", CreatedAt: created}
	check(t, st.QueueCommand(ctx(t), c))
	if c.ID == 0 {
		t.Fatal("QueueCommand did not set the ID")
	}
	return c
}

func ids[T any](items []*T, id func(*T) int64) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

func deviceIDs(ds []*portico.Device) []int64 {
	return ids(ds, func(d *portico.Device) int64 { return d.ID })
}

func commandIDs(cs []*portico.Command) []int64 {
	return ids(cs, func(c *portico.Command) int64 { return c.ID })
}

func wantUser(t *testing.T, got, want *portico.User) {
	t.Helper()
	wantTime(t, "created_at", got.CreatedAt, want.CreatedAt)
	g, w := *got, *want
	g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
	w.Roles = portico.NormalizeRoles(w.Roles)
	if w.OwnRoles == nil {
		// A user in no role set has only their own roles.
		w.OwnRoles = w.Roles
	}
	if g.Roles == nil || fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("got user %+v, want %+v", g, w)
	}
}

func testUsers(t *testing.T, st store.Store) {
	alice := addUser(t, st, "Alice", true, portico.RoleWipe, portico.RoleLock)
	bob := &portico.User{Username: "bob", Email: "bob@example.com", Phone: "+41 79 000 00 00", Disabled: true, CreatedAt: base.Add(time.Microsecond)}
	check(t, st.CreateUser(ctx(t), bob, "bob-hash"))

	for _, name := range []string{"alice", "ALICE", "Alice"} {
		got, err := st.UserByUsername(ctx(t), name)
		check(t, err)
		wantUser(t, got, alice)
	}
	got, err := st.UserByID(ctx(t), bob.ID)
	check(t, err)
	wantUser(t, got, bob)

	h, err := st.PasswordHash(ctx(t), bob.ID)
	check(t, err)
	if h != "bob-hash" {
		t.Errorf("password hash = %q", h)
	}
	check(t, st.SetPasswordHash(ctx(t), bob.ID, "new-hash"))
	if h, _ := st.PasswordHash(ctx(t), bob.ID); h != "new-hash" {
		t.Errorf("password hash after change = %q", h)
	}

	all, err := st.ListUsers(ctx(t))
	check(t, err)
	if len(all) != 2 {
		t.Fatalf("ListUsers returned %d users, want 2", len(all))
	}
	wantUser(t, all[0], alice)
	wantUser(t, all[1], bob)
}

func testUserConflicts(t *testing.T, st store.Store) {
	addUser(t, st, "alice", false)
	for _, name := range []string{"alice", "ALICE", "aLiCe"} {
		u := &portico.User{Username: name, Email: "x@example.com", CreatedAt: base}
		err := st.CreateUser(ctx(t), u, "h")
		wantCode(t, err, portico.ECONFLICT)
		if msg := portico.ErrorMessage(err); !strings.Contains(msg, name) {
			t.Errorf("conflict message %q does not name %s", msg, name)
		}
	}
	if all, _ := st.ListUsers(ctx(t)); len(all) != 1 {
		t.Errorf("%d users after conflicts, want 1", len(all))
	}
}

func testUsersNotFound(t *testing.T, st store.Store) {
	tests := []struct {
		name string
		fn   func() error
	}{
		{"UserByID", func() error { _, err := st.UserByID(ctx(t), 42); return err }},
		{"UserByUsername", func() error { _, err := st.UserByUsername(ctx(t), "nobody"); return err }},
		{"PasswordHash", func() error { _, err := st.PasswordHash(ctx(t), 42); return err }},
		{"SetPasswordHash", func() error { return st.SetPasswordHash(ctx(t), 42, "h") }},
		{"SetUserRoles", func() error { return st.SetUserRoles(ctx(t), 42, nil) }},
		{"SetUserRoles with roles", func() error { return st.SetUserRoles(ctx(t), 42, []portico.Role{portico.RoleLock}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.fn(), portico.ENOTFOUND) })
	}
}

func testRoles(t *testing.T, st store.Store) {
	u := addUser(t, st, "carol", false, portico.RoleLock)
	for _, roles := range [][]portico.Role{
		{portico.RoleWipe, portico.RoleChangeAccount, portico.RoleLocate},
		{portico.RoleWipe, portico.RoleWipe},
		{},
		nil,
	} {
		check(t, st.SetUserRoles(ctx(t), u.ID, roles))
		got, err := st.UserByID(ctx(t), u.ID)
		check(t, err)
		if want := portico.NormalizeRoles(roles); !slices.Equal(got.Roles, want) || got.Roles == nil {
			t.Errorf("roles = %#v, want %#v", got.Roles, want)
		}
	}
}

func testCountAdmins(t *testing.T, st store.Store) {
	n, err := st.CountAdmins(ctx(t))
	check(t, err)
	if n != 0 {
		t.Errorf("empty store has %d admins", n)
	}
	addUser(t, st, "a1", true)
	addUser(t, st, "a2", true)
	addUser(t, st, "user", false)
	off := &portico.User{Username: "a3", Email: "a3@example.com", Admin: true, Disabled: true, CreatedAt: base}
	check(t, st.CreateUser(ctx(t), off, "h"))
	if n, _ := st.CountAdmins(ctx(t)); n != 2 {
		t.Errorf("CountAdmins = %d, want 2 (disabled admins and users do not count)", n)
	}
}

func testSessions(t *testing.T, st store.Store) {
	find := func(key string, now time.Time) ([]byte, bool) {
		t.Helper()
		data, ok, err := st.FindSession(ctx(t), key, now)
		check(t, err)
		return data, ok
	}
	expiry := base.Add(time.Hour)
	check(t, st.CommitSession(ctx(t), "k1", []byte("one"), expiry))
	check(t, st.CommitSession(ctx(t), "k2", []byte("two"), base.Add(time.Minute)))

	if data, ok := find("k1", base); !ok || string(data) != "one" {
		t.Errorf("FindSession = %q, %t", data, ok)
	}
	if _, ok := find("nope", base); ok {
		t.Error("found a session that was never stored")
	}
	for _, now := range []time.Time{expiry, expiry.Add(time.Microsecond)} {
		if _, ok := find("k1", now); ok {
			t.Errorf("found a session at %v that expired at %v", now, expiry)
		}
	}

	check(t, st.CommitSession(ctx(t), "k1", []byte("changed"), expiry.Add(time.Hour)))
	if data, ok := find("k1", expiry); !ok || string(data) != "changed" {
		t.Errorf("after a second commit FindSession = %q, %t", data, ok)
	}

	check(t, st.DeleteExpiredSessions(ctx(t), base.Add(30*time.Minute)))
	if _, ok := find("k2", base); ok {
		t.Error("DeleteExpiredSessions kept an expired session")
	}
	if _, ok := find("k1", base); !ok {
		t.Error("DeleteExpiredSessions deleted a live session")
	}
	check(t, st.DeleteSession(ctx(t), "k1"))
	check(t, st.DeleteSession(ctx(t), "k1"))
	if _, ok := find("k1", base); ok {
		t.Error("DeleteSession kept the session")
	}
}

func wantDevice(t *testing.T, got, want *portico.Device) {
	t.Helper()
	wantTime(t, "created_at", got.CreatedAt, want.CreatedAt)
	wantTime(t, "registered_at", got.RegisteredAt, want.RegisteredAt)
	wantTime(t, "last_checkin", got.LastCheckin, want.LastCheckin)
	g, w := *got, *want
	g.CreatedAt, g.RegisteredAt, g.LastCheckin = time.Time{}, time.Time{}, time.Time{}
	w.CreatedAt, w.RegisteredAt, w.LastCheckin = time.Time{}, time.Time{}, time.Time{}
	if g != w {
		t.Errorf("got device %+v, want %+v", g, w)
	}
}

func testDevices(t *testing.T, st store.Store) {
	u := addUser(t, st, "dave", false)
	full := &portico.Device{
		UserID: u.ID, Platform: portico.PlatformAndroid, Status: portico.StatusPending, Ownership: portico.OwnershipCompany,
		Details: portico.DeviceDetails{
			Name: "Dave's phone", Model: "Pixel 8", Manufacturer: "Google", OSVersion: "14",
			PhoneNumber: "+41790000000", Carrier: "Swisscom", IMEI: "490154203237518", Serial: "SN1",
		},
		CreatedAt: base, RegisteredAt: base.Add(time.Second), LastCheckin: base.Add(2 * time.Second),
	}
	check(t, st.CreateDevice(ctx(t), full, hash("full")))
	bare := addDevice(t, st, u.ID, "bare")

	for _, want := range []*portico.Device{full, bare} {
		got, err := st.DeviceByID(ctx(t), want.ID)
		check(t, err)
		wantDevice(t, got, want)
	}
	got, err := st.DeviceByTokenHash(ctx(t), hash("full"))
	check(t, err)
	wantDevice(t, got, full)

	_, err = st.DeviceByTokenHash(ctx(t), hash("unknown"))
	wantCode(t, err, portico.ENOTFOUND)
	_, err = st.DeviceByID(ctx(t), bare.ID+100)
	wantCode(t, err, portico.ENOTFOUND)
}

func testDevicesRefused(t *testing.T, st store.Store) {
	u := addUser(t, st, "erin", false)
	addDevice(t, st, u.ID, "first")

	err := st.CreateDevice(ctx(t), newDevice(u.ID, "again"), hash("first"))
	wantCode(t, err, portico.ECONFLICT)
	err = st.CreateDevice(ctx(t), newDevice(u.ID+100, "orphan"), hash("orphan"))
	wantCode(t, err, portico.ENOTFOUND)

	all, err := st.ListDevices(ctx(t), store.DeviceFilter{})
	check(t, err)
	if len(all) != 1 {
		t.Errorf("%d devices after refused creations, want 1: a refused device must leave nothing behind", len(all))
	}
}

func testListDevices(t *testing.T, st store.Store) {
	u1 := addUser(t, st, "u1", false)
	u2 := addUser(t, st, "u2", false)
	var mine, all []int64
	for i := range 5 {
		owner := u1
		if i%2 == 1 {
			owner = u2
		}
		d := addDevice(t, st, owner.ID, fmt.Sprint("d", i))
		all = append(all, d.ID)
		if owner == u1 {
			mine = append(mine, d.ID)
		}
	}
	tests := []struct {
		name string
		f    store.DeviceFilter
		want []int64
	}{
		{"all", store.DeviceFilter{}, all},
		{"user", store.DeviceFilter{UserID: u1.ID}, mine},
		{"limit", store.DeviceFilter{Limit: 2}, all[:2]},
		{"offset", store.DeviceFilter{Offset: 3}, all[3:]},
		{"page", store.DeviceFilter{Limit: 2, Offset: 2}, all[2:4]},
		{"user page", store.DeviceFilter{UserID: u1.ID, Limit: 1, Offset: 1}, mine[1:2]},
		{"no user", store.DeviceFilter{UserID: u2.ID + 100}, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.ListDevices(ctx(t), tt.f)
			check(t, err)
			if ids := deviceIDs(got); !slices.Equal(ids, tt.want) || got == nil {
				t.Errorf("ListDevices(%+v) = %v, want %v", tt.f, ids, tt.want)
			}
		})
	}
}

func testUpdateDeviceDetails(t *testing.T, st store.Store) {
	u := addUser(t, st, "frank", false)
	d := addDevice(t, st, u.ID, "old")
	d.Details = portico.DeviceDetails{Name: "new", Model: "m", Manufacturer: "Apple", OSVersion: "18.0", Serial: "S"}
	d.LastCheckin = base.Add(time.Hour)
	check(t, st.UpdateDeviceDetails(ctx(t), d.ID, d.Details, d.LastCheckin))
	got, err := st.DeviceByID(ctx(t), d.ID)
	check(t, err)
	wantDevice(t, got, d)

	wantCode(t, st.UpdateDeviceDetails(ctx(t), d.ID+100, d.Details, base), portico.ENOTFOUND)
}

func testTouchDevices(t *testing.T, st store.Store) {
	u := addUser(t, st, "gina", false)
	seen := map[int64]time.Time{}
	var devices []*portico.Device
	for i := range 1500 {
		d := newDevice(u.ID, fmt.Sprint("touch", i))
		devices = append(devices, d)
	}
	hashes := make([][]byte, len(devices))
	for i := range hashes {
		hashes[i] = hash(fmt.Sprint("touch", i))
	}
	check(t, st.SeedDevices(ctx(t), devices, hashes))
	for i, d := range devices {
		seen[d.ID] = base.Add(time.Duration(i) * time.Microsecond)
	}
	seen[devices[len(devices)-1].ID+100] = base // gone: skipped
	check(t, st.TouchDevices(ctx(t), seen))
	check(t, st.TouchDevices(ctx(t), nil))

	later := base.Add(time.Hour)
	check(t, st.UpdateDeviceDetails(ctx(t), devices[0].ID, devices[0].Details, later))
	check(t, st.TouchDevices(ctx(t), map[int64]time.Time{devices[0].ID: base.Add(time.Minute)}))

	all, err := st.ListDevices(ctx(t), store.DeviceFilter{UserID: u.ID})
	check(t, err)
	for i, d := range all {
		want := seen[d.ID]
		if i == 0 {
			want = later // an older batch never moves the time back
		}
		wantTime(t, fmt.Sprint("last_checkin of device ", i), d.LastCheckin, want)
	}
}

func seed(n int, userID int64, prefix string) ([]*portico.Device, [][]byte) {
	devices := make([]*portico.Device, n)
	hashes := make([][]byte, n)
	for i := range n {
		devices[i] = newDevice(userID, fmt.Sprint(prefix, i))
		hashes[i] = hash(fmt.Sprint(prefix, i))
	}
	return devices, hashes
}

func testSeedDevices(t *testing.T, st store.Store) {
	u := addUser(t, st, "hank", false)
	first := addDevice(t, st, u.ID, "first")
	devices, hashes := seed(2500, u.ID, "seed")
	check(t, st.SeedDevices(ctx(t), devices, hashes))
	last := addDevice(t, st, u.ID, "last")

	all, err := st.ListDevices(ctx(t), store.DeviceFilter{})
	check(t, err)
	want := append(append([]int64{first.ID}, deviceIDs(devices)...), last.ID)
	if got := deviceIDs(all); !slices.Equal(got, want) {
		t.Fatalf("after seeding, device IDs are %d long, want %d in order, seeded first", len(got), len(want))
	}
	for _, i := range []int{0, 1234, 2499} {
		got, err := st.DeviceByTokenHash(ctx(t), hashes[i])
		check(t, err)
		wantDevice(t, got, devices[i])
	}
	check(t, st.SeedDevices(ctx(t), nil, nil))
}

func testSeedDevicesRefused(t *testing.T, st store.Store) {
	u := addUser(t, st, "ivy", false)
	taken := addDevice(t, st, u.ID, "taken")

	devices, hashes := seed(1200, u.ID, "s")
	wantCode(t, st.SeedDevices(ctx(t), devices, hashes[:3]), portico.EINVALID)
	hashes[1100] = hash("taken")
	wantCode(t, st.SeedDevices(ctx(t), devices, hashes), portico.ECONFLICT)
	devices, hashes = seed(3, u.ID+100, "orphan")
	wantCode(t, st.SeedDevices(ctx(t), devices, hashes), portico.ENOTFOUND)

	all, err := st.ListDevices(ctx(t), store.DeviceFilter{})
	check(t, err)
	if got := deviceIDs(all); !slices.Equal(got, []int64{taken.ID}) {
		t.Errorf("refused seeds left devices %v behind", got)
	}
}

func testCommands(t *testing.T, st store.Store) {
	u := addUser(t, st, "jack", false)
	d := addDevice(t, st, u.ID, "d")
	other := addDevice(t, st, u.ID, "other")

	wantCode(t, st.QueueCommand(ctx(t), &portico.Command{DeviceID: other.ID + 100, Kind: portico.CommandLock,
		Status: portico.CommandQueued, CreatedBy: "x", CreatedAt: base}), portico.ENOTFOUND)

	taken, err := st.TakeCommands(ctx(t), d.ID, base)
	check(t, err)
	if len(taken) != 0 {
		t.Fatalf("took %d commands from an empty queue", len(taken))
	}

	payload := []byte(`{"message": "Lost",  "phone":"+41"}`)
	lock := &portico.Command{DeviceID: d.ID, Kind: portico.CommandLock, Status: portico.CommandQueued,
		Payload: payload, CreatedBy: "alice", CreatedAt: base}
	check(t, st.QueueCommand(ctx(t), lock))
	locate := queue(t, st, d.ID, portico.CommandLocate, portico.CommandQueued, base.Add(time.Second))
	held := queue(t, st, d.ID, portico.CommandWipe, portico.CommandHeld, base.Add(2*time.Second))
	elsewhere := queue(t, st, other.ID, portico.CommandCheckin, portico.CommandQueued, base)

	now := base.Add(time.Minute)
	taken, err = st.TakeCommands(ctx(t), d.ID, now)
	check(t, err)
	if got := commandIDs(taken); !slices.Equal(got, []int64{lock.ID, locate.ID}) {
		t.Fatalf("took %v, want the queued commands oldest first %v", got, []int64{lock.ID, locate.ID})
	}
	if string(taken[0].Payload) != string(payload) || taken[1].Payload != nil {
		t.Errorf("payloads = %q, %q; want %q and none", taken[0].Payload, taken[1].Payload, payload)
	}
	for _, c := range taken {
		if c.Status != portico.CommandSent {
			t.Errorf("taken command %d is %s, want sent", c.ID, c.Status)
		}
		wantTime(t, "sent_at", c.SentAt, now)
		wantTime(t, "done_at", c.DoneAt, time.Time{})
	}
	wantTime(t, "created_at", taken[0].CreatedAt, base)

	again, err := st.TakeCommands(ctx(t), d.ID, now.Add(time.Second))
	check(t, err)
	if len(again) != 0 {
		t.Errorf("a second TakeCommands took %v again", commandIDs(again))
	}

	list, err := st.ListCommands(ctx(t), d.ID)
	check(t, err)
	if got := commandIDs(list); !slices.Equal(got, []int64{held.ID, locate.ID, lock.ID}) {
		t.Errorf("ListCommands = %v, want newest first", got)
	}
	if list[0].Status != portico.CommandHeld {
		t.Errorf("held command is %s after a check-in", list[0].Status)
	}
	if rest, _ := st.ListCommands(ctx(t), other.ID); len(rest) != 1 || rest[0].ID != elsewhere.ID || rest[0].Status != portico.CommandQueued {
		t.Errorf("another device's commands changed: %+v", rest)
	}
	if none, _ := st.ListCommands(ctx(t), other.ID+100); none == nil || len(none) != 0 {
		t.Errorf("ListCommands of no device = %#v, want an empty list", none)
	}
}

func testTakeCommandsOnce(t *testing.T, st store.Store) {
	u := addUser(t, st, "kim", false)
	d := addDevice(t, st, u.ID, "d")
	var queued []int64
	for i := range 20 { // configurations, of which any number may be open at once
		queued = append(queued, queue(t, st, d.ID, portico.CommandConfigure, portico.CommandQueued, base.Add(time.Duration(i))).ID)
	}
	var mu sync.Mutex
	var taken []int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			cs, err := st.TakeCommands(context.Background(), d.ID, base)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			taken = append(taken, commandIDs(cs)...)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(taken)
	if !slices.Equal(taken, queued) {
		t.Errorf("concurrent check-ins took %v, want each of %v exactly once", taken, queued)
	}
}

func testFinishCommand(t *testing.T, st store.Store) {
	u := addUser(t, st, "lee", false)
	d := addDevice(t, st, u.ID, "d")
	other := addDevice(t, st, u.ID, "other")
	sent := queue(t, st, d.ID, portico.CommandLock, portico.CommandQueued, base)
	_, err := st.TakeCommands(ctx(t), d.ID, base.Add(time.Second))
	check(t, err)
	waiting := queue(t, st, d.ID, portico.CommandLocate, portico.CommandQueued, base)
	done := base.Add(time.Minute)
	ok := portico.CommandResult{Status: portico.CommandDone, Message: "Locked."}

	tests := []struct {
		name      string
		device    int64
		command   int64
		wantCode  string
		wantTaken bool
	}{
		{"another device's command", other.ID, sent.ID, portico.ENOTFOUND, false},
		{"no such command", d.ID, waiting.ID + 100, portico.ENOTFOUND, false},
		{"not sent yet", d.ID, waiting.ID, portico.ECONFLICT, false},
		{"sent", d.ID, sent.ID, "", true},
		{"answered already", d.ID, sent.ID, portico.ECONFLICT, false},
	}
	for _, tt := range tests {
		c, err := st.FinishCommand(ctx(t), tt.device, tt.command, ok, done)
		if portico.ErrorCode(err) != tt.wantCode {
			t.Fatalf("%s: got %v, want code %q", tt.name, err, tt.wantCode)
		}
		if tt.wantTaken {
			if c.ID != sent.ID || c.Status != portico.CommandDone || c.Result != "Locked." || c.Kind != portico.CommandLock {
				t.Errorf("%s: got %+v", tt.name, c)
			}
			wantTime(t, "done_at", c.DoneAt, done)
			wantTime(t, "sent_at", c.SentAt, base.Add(time.Second))
		}
	}

	failed := queue(t, st, other.ID, portico.CommandWipe, portico.CommandQueued, base)
	_, err = st.TakeCommands(ctx(t), other.ID, base)
	check(t, err)
	c, err := st.FinishCommand(ctx(t), other.ID, failed.ID, portico.CommandResult{Status: portico.CommandFailed, Message: "No."}, done)
	check(t, err)
	if c.Status != portico.CommandFailed || c.Result != "No." {
		t.Errorf("failed command = %+v", c)
	}
}

func testAudit(t *testing.T, st store.Store) {
	entries := []*portico.AuditEntry{
		{At: base, Actor: "alice", Action: "login", Result: portico.ResultOK, Source: "192.0.2.1"},
		{At: base.Add(time.Second), Actor: "alice", Action: "command.lock", Target: "7", DeviceID: 7, Result: portico.ResultOK},
		{At: base.Add(2 * time.Second), Actor: "bob", Action: "command.wipe", DeviceID: 7, Result: portico.ResultDenied, Detail: "No."},
		{At: base.Add(3 * time.Second), Actor: "system", Action: "user.create", Target: "bob", Result: portico.ResultFailed},
	}
	for _, e := range entries {
		check(t, st.AppendAudit(ctx(t), e))
		if e.ID == 0 {
			t.Fatal("AppendAudit did not set the ID")
		}
	}
	tests := []struct {
		f    store.AuditFilter
		want []int
	}{
		{store.AuditFilter{}, []int{3, 2, 1, 0}},
		{store.AuditFilter{Actor: "alice"}, []int{1, 0}},
		{store.AuditFilter{DeviceID: 7}, []int{2, 1}},
		{store.AuditFilter{Actor: "alice", DeviceID: 7}, []int{1}},
		{store.AuditFilter{Limit: 2}, []int{3, 2}},
		{store.AuditFilter{Actor: "nobody"}, []int{}},
	}
	for _, tt := range tests {
		got, err := st.ListAudit(ctx(t), tt.f)
		check(t, err)
		if got == nil || len(got) != len(tt.want) {
			t.Errorf("ListAudit(%+v) returned %d entries, want %d", tt.f, len(got), len(tt.want))
			continue
		}
		for i, e := range got {
			want := entries[tt.want[i]]
			wantTime(t, "at", e.At, want.At)
			g, w := *e, *want
			g.At, w.At = time.Time{}, time.Time{}
			if g != w {
				t.Errorf("ListAudit(%+v)[%d] = %+v, want %+v", tt.f, i, g, w)
			}
		}
	}
}

func testAuditLimits(t *testing.T, st store.Store) {
	check(t, st.InTx(ctx(t), func(tx store.Store) error {
		for i := range 1005 {
			if err := tx.AppendAudit(ctx(t), &portico.AuditEntry{At: base, Actor: "a", Action: fmt.Sprint(i), Result: "ok"}); err != nil {
				return err
			}
		}
		return nil
	}))
	for _, tt := range []struct{ limit, want int }{{0, 100}, {-1, 100}, {5000, 1000}, {1000, 1000}, {7, 7}} {
		got, err := st.ListAudit(ctx(t), store.AuditFilter{Limit: tt.limit})
		check(t, err)
		if len(got) != tt.want {
			t.Errorf("ListAudit with limit %d returned %d entries, want %d", tt.limit, len(got), tt.want)
		}
		if got[0].Action != "1004" {
			t.Errorf("newest entry is %q, want 1004", got[0].Action)
		}
	}
}

func testSettings(t *testing.T, st store.Store) {
	v, err := st.SettingValues(ctx(t))
	check(t, err)
	if len(v) != 0 || v.Get("helpdesk.name") != "IT Helpdesk" {
		t.Errorf("fresh settings = %v, helpdesk %q", v, v.Get("helpdesk.name"))
	}
	check(t, st.PutSetting(ctx(t), "helpdesk.name", "Service desk"))
	check(t, st.PutSetting(ctx(t), "helpdesk.phone", "+41 44 000"))
	check(t, st.PutSetting(ctx(t), "helpdesk.name", "Help"))
	v, err = st.SettingValues(ctx(t))
	check(t, err)
	if want := (portico.SettingValues{"helpdesk.name": "Help", "helpdesk.phone": "+41 44 000"}); fmt.Sprint(v) != fmt.Sprint(want) {
		t.Errorf("settings = %v, want %v", v, want)
	}
}

func testLoginFailures(t *testing.T, st store.Store) {
	record := func(key string, at time.Time) int64 {
		t.Helper()
		id, err := st.RecordLoginFailure(ctx(t), key, at)
		check(t, err)
		return id
	}
	before := func(key string, s time.Time, id int64) (int, time.Time) {
		t.Helper()
		n, last, err := st.LoginFailuresBefore(ctx(t), key, s, id)
		check(t, err)
		return n, last
	}
	if n, last := before("user:alice", base, math.MaxInt64); n != 0 || !last.IsZero() {
		t.Errorf("no failures counted %d, last %v", n, last)
	}
	var ids []int64
	for i := range 3 {
		ids = append(ids, record("user:alice", base.Add(time.Duration(i)*time.Minute)))
	}
	addr := record("addr:192.0.2.1", base)
	if !(ids[0] < ids[1] && ids[1] < ids[2]) {
		t.Errorf("attempt ids %v do not grow", ids)
	}

	tests := []struct {
		since    time.Time
		id       int64
		wantN    int
		wantLast time.Time
	}{
		{base.Add(-time.Second), math.MaxInt64, 3, base.Add(2 * time.Minute)},
		{base, math.MaxInt64, 2, base.Add(2 * time.Minute)}, // only failures after since count
		{base.Add(90 * time.Second), math.MaxInt64, 1, base.Add(2 * time.Minute)},
		{base.Add(2 * time.Minute), math.MaxInt64, 0, time.Time{}},
		{base.Add(-time.Second), ids[2], 2, base.Add(time.Minute)}, // only attempts recorded before the id
		{base.Add(-time.Second), ids[0], 0, time.Time{}},
	}
	for _, tt := range tests {
		n, last := before("user:alice", tt.since, tt.id)
		if n != tt.wantN {
			t.Errorf("failures since %v before %d = %d, want %d", tt.since, tt.id, n, tt.wantN)
		}
		wantTime(t, "latest failure", last, tt.wantLast)
	}
	check(t, st.DeleteLoginFailure(ctx(t), ids[1]))
	if n, _ := before("user:alice", time.Time{}, math.MaxInt64); n != 2 {
		t.Errorf("%d failures after deleting one of 3", n)
	}
	check(t, st.ClearLoginFailures(ctx(t), "user:alice"))
	if n, _ := before("user:alice", time.Time{}, math.MaxInt64); n != 0 {
		t.Errorf("%d failures after clearing", n)
	}
	if n, _ := before("addr:192.0.2.1", time.Time{}, math.MaxInt64); n != 1 {
		t.Errorf("clearing one key cleared another: %d failures left", n)
	}

	later := record("addr:192.0.2.1", base.Add(time.Hour))
	check(t, st.DeleteLoginFailuresBefore(ctx(t), base.Add(time.Minute)))
	if n, last := before("addr:192.0.2.1", time.Time{}, math.MaxInt64); n != 1 || !last.Equal(base.Add(time.Hour)) {
		t.Errorf("after deleting old failures: %d left, latest %v; want only the newer one (%d, not %d)", n, last, later, addr)
	}
}

var errRollback = errors.New("roll back")

func testTransactions(t *testing.T, st store.Store) {
	check(t, st.Ping(ctx(t)))
	err := st.InTx(ctx(t), func(tx store.Store) error {
		check(t, tx.Ping(ctx(t)))
		u := addUser(t, tx, "kept", false, portico.RoleLock)
		if got, err := tx.UserByUsername(ctx(t), "KEPT"); err != nil || got.ID != u.ID {
			t.Errorf("a transaction does not see its own user: %v", err)
		}
		return tx.AppendAudit(ctx(t), &portico.AuditEntry{At: base, Actor: "system", Action: "user.create", Result: "ok"})
	})
	check(t, err)

	var u *portico.User
	err = st.InTx(ctx(t), func(tx store.Store) error {
		u = addUser(t, tx, "gone", false, portico.RoleWipe)
		addDevice(t, tx, u.ID, "gone")
		check(t, tx.SetPasswordHash(ctx(t), u.ID, "x"))
		check(t, tx.PutSetting(ctx(t), "helpdesk.name", "gone"))
		check(t, tx.AppendAudit(ctx(t), &portico.AuditEntry{At: base, Actor: "system", Action: "user.create", Result: "ok"}))
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("InTx returned %v, want fn's error", err)
	}
	if _, err := st.UserByID(ctx(t), u.ID); portico.ErrorCode(err) != portico.ENOTFOUND {
		t.Errorf("a rolled back user is still there: %v", err)
	}
	if _, err := st.DeviceByTokenHash(ctx(t), hash("gone")); portico.ErrorCode(err) != portico.ENOTFOUND {
		t.Errorf("a rolled back device is still there: %v", err)
	}
	if v, _ := st.SettingValues(ctx(t)); len(v) != 0 {
		t.Errorf("a rolled back setting is still there: %v", v)
	}
	if entries, _ := st.ListAudit(ctx(t), store.AuditFilter{}); len(entries) != 1 {
		t.Errorf("%d audit entries, want the committed one only", len(entries))
	}
	if users, _ := st.ListUsers(ctx(t)); len(users) != 1 || users[0].Username != "kept" {
		t.Errorf("users after a rollback: %v", users)
	}
}

func testNestedTransactions(t *testing.T, st store.Store) {
	err := st.InTx(ctx(t), func(tx store.Store) error {
		check(t, tx.InTx(ctx(t), func(inner store.Store) error {
			addUser(t, inner, "inner", false)
			return nil
		}))
		if _, err := tx.UserByUsername(ctx(t), "inner"); err != nil {
			t.Errorf("the outer transaction does not see the inner one's user: %v", err)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("InTx returned %v", err)
	}
	if _, err := st.UserByUsername(ctx(t), "inner"); portico.ErrorCode(err) != portico.ENOTFOUND {
		t.Errorf("a nested transaction committed on its own: %v", err)
	}
}
