package service_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
)

// reload is the user as a new request would see them.
func (e *env) reload(t *testing.T, u *portico.User) *portico.User {
	t.Helper()
	got, err := e.svc.SessionUser(context.Background(), u.ID, u.SessionEpoch)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRoleFromASetGrantsTheCapabilityUntilTheSetGoes(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false)
	if caps, _ := e.svc.Capabilities(as(e.reload(t, alice))); caps.Invite {
		t.Fatal("alice may invite without any role")
	}
	set, err := e.svc.CreateRoleSet(e.op, "Standard employee", []portico.Role{portico.RoleRegisterDevice, portico.RoleChangeAccount})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AssignRoleSet(e.op, set.ID, []int64{alice.ID}); err != nil {
		t.Fatal(err)
	}
	now := e.reload(t, alice)
	if caps, _ := e.svc.Capabilities(as(now)); !caps.Invite {
		t.Error("the role set's register_device does not let alice invite")
	}
	if acc, err := e.svc.Account(as(now)); err != nil || !acc.Details {
		t.Errorf("the role set's change_account does not let alice change her details: %v", err)
	}
	if len(now.OwnRoles) != 0 {
		t.Errorf("own roles = %v, want none", now.OwnRoles)
	}

	// Editing the set takes one role away at once; deleting it, the rest.
	if _, err := e.svc.UpdateRoleSet(e.op, set.ID, set.Name, []portico.Role{portico.RoleChangeAccount}); err != nil {
		t.Fatal(err)
	}
	if caps, _ := e.svc.Capabilities(as(e.reload(t, alice))); caps.Invite {
		t.Error("alice may still invite after the role left the set")
	}
	if err := e.svc.DeleteRoleSet(e.op, set.ID); err != nil {
		t.Fatal(err)
	}
	if acc, err := e.svc.Account(as(e.reload(t, alice))); err != nil || acc.Details {
		t.Errorf("alice may still change her details after the set went (%v)", err)
	}

	// Taking a user out of the set works the same way.
	set, _ = e.svc.CreateRoleSet(e.op, "Lockers", []portico.Role{portico.RoleRegisterDevice})
	e.svc.AssignRoleSet(e.op, set.ID, []int64{alice.ID})
	if _, err := e.svc.UnassignRoleSet(e.op, set.ID, []int64{alice.ID}); err != nil {
		t.Fatal(err)
	}
	if caps, _ := e.svc.Capabilities(as(e.reload(t, alice))); caps.Invite {
		t.Error("alice may still invite after leaving the set")
	}
	for _, action := range []string{"roleset.create", "roleset.update", "roleset.delete", "roleset.assign", "roleset.unassign"} {
		if len(audit(t, e, action)) == 0 {
			t.Errorf("no audit entry %s", action)
		}
	}
}

func TestOwnRolesStayApartFromTheSets(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false, portico.RoleLock)
	set, _ := e.svc.CreateRoleSet(e.op, "Wipers", []portico.Role{portico.RoleWipe, portico.RoleLock})
	e.svc.AssignRoleSet(e.op, set.ID, []int64{alice.ID})
	// Revoking lock from her own roles leaves the set's lock.
	u, err := e.svc.ChangeRoles(e.op, "alice", []portico.Role{portico.RoleLocate}, []portico.Role{portico.RoleLock})
	if err != nil {
		t.Fatal(err)
	}
	if want := []portico.Role{portico.RoleLocate}; !slices.Equal(u.OwnRoles, want) {
		t.Errorf("own roles = %v, want %v", u.OwnRoles, want)
	}
	if want := []portico.Role{portico.RoleLocate, portico.RoleLock, portico.RoleWipe}; !slices.Equal(u.Roles, want) {
		t.Errorf("effective roles = %v, want %v", u.Roles, want)
	}
	entries := audit(t, e, "user.roles")
	if len(entries) == 0 || entries[0].Detail != "lock → locate" {
		t.Errorf("audit of the own roles: %+v", entries)
	}
}

func TestBulkChangeRoles(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false, portico.RoleLock)
	bob := e.addUser(t, "bob", false)
	n, err := e.svc.BulkChangeRoles(e.op, []int64{alice.ID, bob.ID}, []portico.Role{portico.RoleLock, portico.RoleWipe}, nil)
	if err != nil || n != 2 {
		t.Fatalf("grant: %d, %v", n, err)
	}
	n, err = e.svc.BulkChangeRoles(e.op, []int64{alice.ID, bob.ID}, nil, []portico.Role{portico.RoleWipe})
	if err != nil || n != 2 {
		t.Fatalf("revoke: %d, %v", n, err)
	}
	for _, u := range []*portico.User{alice, bob} {
		if got := e.reload(t, u); !slices.Equal(got.Roles, []portico.Role{portico.RoleLock}) {
			t.Errorf("%s: roles %v", u.Username, got.Roles)
		}
	}
	tests := []struct {
		name          string
		ids           []int64
		grant, revoke []portico.Role
		code          string
	}{
		{"nobody ticked", nil, []portico.Role{portico.RoleLock}, nil, portico.EINVALID},
		{"no role", []int64{alice.ID}, nil, nil, portico.EINVALID},
		{"unknown role", []int64{alice.ID}, []portico.Role{"fly"}, nil, portico.EINVALID},
		{"both", []int64{alice.ID}, []portico.Role{portico.RoleLock}, []portico.Role{portico.RoleLock}, portico.EINVALID},
		{"a missing user changes no one", []int64{bob.ID, 999}, []portico.Role{portico.RoleRetire}, nil, portico.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.BulkChangeRoles(e.op, tt.ids, tt.grant, tt.revoke)
			wantCode(t, err, tt.code)
		})
	}
	if e.reload(t, bob).HasRole(portico.RoleRetire) {
		t.Error("a refused bulk change changed bob")
	}
}

func TestAdminUserMethodsAreForAdmins(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false, portico.Roles...)
	root := e.addUser(t, "root", true)
	set, _ := e.svc.CreateRoleSet(e.op, "Set", nil)
	calls := map[string]func(ctx context.Context) error{
		"search": func(ctx context.Context) error { _, err := e.svc.SearchUsers(ctx, store.UserFilter{}); return err },
		"update": func(ctx context.Context) error {
			_, err := e.svc.UpdateUser(ctx, alice.ID, service.UserDetails{Email: "a@example.com"})
			return err
		},
		"enable": func(ctx context.Context) error { _, err := e.svc.SetUserDisabled(ctx, alice.ID, false); return err },
		"link":   func(ctx context.Context) error { _, err := e.svc.SendPasswordLink(ctx, alice.ID); return err },
		"temp":   func(ctx context.Context) error { _, _, err := e.svc.SetTemporaryPassword(ctx, alice.ID); return err },
		"bulk": func(ctx context.Context) error {
			_, err := e.svc.BulkChangeRoles(ctx, []int64{alice.ID}, portico.Roles, nil)
			return err
		},
		"sets":      func(ctx context.Context) error { _, err := e.svc.RoleSets(ctx); return err },
		"set":       func(ctx context.Context) error { _, err := e.svc.RoleSet(ctx, set.ID); return err },
		"user sets": func(ctx context.Context) error { _, err := e.svc.UserRoleSets(ctx, alice.ID); return err },
		"create set": func(ctx context.Context) error {
			_, err := e.svc.CreateRoleSet(ctx, fmt.Sprint("S", time.Now().UnixNano()), nil)
			return err
		},
		"update set": func(ctx context.Context) error { _, err := e.svc.UpdateRoleSet(ctx, set.ID, "Set", nil); return err },
		"assign": func(ctx context.Context) error {
			_, err := e.svc.AssignRoleSet(ctx, set.ID, []int64{alice.ID})
			return err
		},
		"unassign": func(ctx context.Context) error {
			_, err := e.svc.UnassignRoleSet(ctx, set.ID, []int64{alice.ID})
			return err
		},
		"preview": func(ctx context.Context) error {
			_, err := e.svc.PreviewImport(ctx, "username,email\nz,z@example.com\n")
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			wantCode(t, call(as(alice)), portico.EFORBIDDEN)
			wantCode(t, call(context.Background()), portico.EUNAUTHENTICATED)
			if err := call(as(root)); err != nil {
				t.Errorf("as an admin: %v", err)
			}
		})
	}
	wantCode(t, e.svc.DeleteRoleSet(as(alice), set.ID), portico.EFORBIDDEN)
	_, err := e.svc.ImportUsers(as(alice), "username,email\nz,z@example.com\n")
	wantCode(t, err, portico.EFORBIDDEN)
}

func TestUpdateUserIsAudited(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false)
	e.addUser(t, "bob", false)
	u, err := e.svc.UpdateUser(e.op, alice.ID, service.UserDetails{Name: " Alice L ", Email: "al@example.com", Phone: "+41 79 000 00 00"})
	if err != nil || u.Name != "Alice L" {
		t.Fatalf("%+v, %v", u, err)
	}
	got := e.reload(t, alice)
	if got.Name != "Alice L" || got.Email != "al@example.com" || got.Phone != "+41 79 000 00 00" {
		t.Errorf("stored %+v", got)
	}
	entries := audit(t, e, "user.update")
	if len(entries) != 1 || !strings.Contains(entries[0].Detail, `email "alice@example.com" → "al@example.com"`) || !strings.Contains(entries[0].Detail, "phone") {
		t.Errorf("audit: %+v", entries)
	}
	for _, d := range []service.UserDetails{{Email: "nope"}, {Email: "bob@example.com"}, {Email: "a@example.com", Phone: "call me"}} {
		if _, err := e.svc.UpdateUser(e.op, alice.ID, d); err == nil {
			t.Errorf("%+v was accepted", d)
		}
	}
	if again := e.reload(t, alice); again.Email != "al@example.com" {
		t.Errorf("a refused change changed the email to %s", again.Email)
	}
}

func TestDisabledUserIsShutOut(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false, portico.RoleRegisterDevice)
	root := e.addUser(t, "root", true)
	session := e.reload(t, alice)
	if _, err := e.svc.SetUserDisabled(as(root), alice.ID, true); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.SessionUser(context.Background(), alice.ID, session.SessionEpoch)
	wantCode(t, err, portico.EUNAUTHENTICATED)
	_, err = e.svc.Login(from("192.0.2.9"), "alice", "alice-password")
	wantCode(t, err, portico.EFORBIDDEN)
	if !strings.Contains(portico.ErrorMessage(err), "disabled") {
		t.Errorf("message %q does not say the account is disabled", portico.ErrorMessage(err))
	}
	// The wrong password still says only that it is wrong.
	_, err = e.svc.Login(from("192.0.2.9"), "alice", "wrong-password")
	wantCode(t, err, portico.EUNAUTHENTICATED)
	// Registering a device with the password is refused too.
	_, _, err = e.svc.RegisterDevice(from("192.0.2.9"), service.Registration{Username: "alice", Password: "alice-password", Platform: portico.PlatformAndroid})
	wantCode(t, err, portico.EFORBIDDEN)
	// A user object loaded before the change may not start anything either.
	disabled := *session
	disabled.Disabled = true
	_, err = e.svc.StartRegistration(as(&disabled), portico.InviteByMessage, portico.PlatformAndroid)
	wantCode(t, err, portico.EFORBIDDEN)

	if _, err := e.svc.SetUserDisabled(as(root), alice.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Login(from("192.0.2.9"), "alice", "alice-password"); err != nil {
		t.Errorf("after enabling: %v", err)
	}
	for _, want := range []string{"user.disable", "user.enable"} {
		if len(audit(t, e, want)) != 1 {
			t.Errorf("no audit entry %s", want)
		}
	}
}

func TestNoAdminDisablesThemselvesOrTheLastAdmin(t *testing.T) {
	e := newEnv(t)
	root := e.addUser(t, "root", true)
	other := e.addUser(t, "other", true)
	_, err := e.svc.SetUserDisabled(as(root), root.ID, true)
	wantCode(t, err, portico.EINVALID)
	if _, err := e.svc.SetUserDisabled(as(root), other.ID, true); err != nil {
		t.Fatal(err)
	}
	// The operator is no user, so only the last-admin rule stops it.
	_, err = e.svc.SetUserDisabled(e.op, root.ID, true)
	wantCode(t, err, portico.ECONFLICT)
	if e.reload(t, root).Disabled {
		t.Error("the last admin was disabled")
	}
}

var linkPattern = regexp.MustCompile(`\S*reset-password\?t=\S+`)

// mailedLink is the password link in the newest mail to the address.
func (e *env) mailedLink(t *testing.T, to string) string {
	t.Helper()
	msgs, err := e.db.ListMessages(context.Background(), store.MessageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.To == to {
			if l := linkPattern.FindString(m.Text); l != "" {
				return l
			}
		}
	}
	t.Fatalf("no password link was mailed to %s", to)
	return ""
}

func linkToken(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("t")
}

func TestPasswordLink(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false)
	session := e.reload(t, alice)
	link, err := e.svc.SendPasswordLink(e.op, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if link.MailedTo != "alice@example.com" || e.mailedLink(t, "alice@example.com") != link.Link {
		t.Fatalf("the link shown and the link mailed differ: %+v", link)
	}
	token := linkToken(t, link.Link)
	if u, _, err := e.svc.PasswordLinkUser(from("x"), token); err != nil || u.ID != alice.ID {
		t.Fatalf("link user: %v, %v", u, err)
	}
	refusals := []struct {
		name string
		p    service.NewPassword
	}{
		{"differ", service.NewPassword{Password: "new-password-1", Repeat: "new-password-2"}},
		{"too short", service.NewPassword{Password: "short1", Repeat: "short1"}},
		{"the user name", service.NewPassword{Password: "alice", Repeat: "alice"}},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.SetPasswordWithLink(from("x"), token, tt.p)
			wantCode(t, err, portico.EINVALID)
		})
	}
	if _, err := e.svc.SetPasswordWithLink(from("x"), token, service.NewPassword{Password: "brand-new-pass-1", Repeat: "brand-new-pass-1"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.SessionUser(context.Background(), alice.ID, session.SessionEpoch)
	wantCode(t, err, portico.EUNAUTHENTICATED)
	if _, err := e.svc.Login(from("192.0.2.7"), "alice", "brand-new-pass-1"); err != nil {
		t.Errorf("sign-in with the new password: %v", err)
	}
	_, err = e.svc.SetPasswordWithLink(from("x"), token, service.NewPassword{Password: "another-pass-2", Repeat: "another-pass-2"})
	wantCode(t, err, portico.ECONFLICT)
	if !strings.Contains(portico.ErrorMessage(err), "already used") {
		t.Errorf("a used link: %q", portico.ErrorMessage(err))
	}

	expiring, _ := e.svc.SendPasswordLink(e.op, alice.ID)
	e.clock.Advance(service.PasswordLinkLifetime)
	_, _, err = e.svc.PasswordLinkUser(from("x"), linkToken(t, expiring.Link))
	wantCode(t, err, portico.ECONFLICT)
	if !strings.Contains(portico.ErrorMessage(err), "expired") {
		t.Errorf("an expired link: %q", portico.ErrorMessage(err))
	}
	_, _, err = e.svc.PasswordLinkUser(from("x"), "made-up")
	wantCode(t, err, portico.ENOTFOUND)
	if len(audit(t, e, "user.password_link")) != 2 || len(audit(t, e, "password.reset")) == 0 {
		t.Error("the links are not audited")
	}
}

func TestTemporaryPasswordMustBeReplaced(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false, portico.RoleRegisterDevice)
	_, temp, err := e.svc.SetTemporaryPassword(e.op, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Login(from("192.0.2.5"), "alice", "alice-password")
	wantCode(t, err, portico.EUNAUTHENTICATED)
	u, err := e.svc.Login(from("192.0.2.5"), "alice", temp)
	if err != nil || !u.MustChangePassword {
		t.Fatalf("sign-in with the temporary password: %+v, %v", u, err)
	}
	if caps, _ := e.svc.Capabilities(as(u)); caps.Invite {
		t.Error("a temporary password lets alice invite")
	}
	_, _, err = e.svc.RegisterDevice(from("192.0.2.5"), service.Registration{Username: "alice", Password: temp, Platform: portico.PlatformAndroid})
	wantCode(t, err, portico.EFORBIDDEN)
	_, err = e.svc.ReplaceTemporaryPassword(as(u), service.NewPassword{Password: "x", Repeat: "x"})
	wantCode(t, err, portico.EINVALID)
	next, err := e.svc.ReplaceTemporaryPassword(as(u), service.NewPassword{Password: "my-own-password-1", Repeat: "my-own-password-1"})
	if err != nil || next.MustChangePassword {
		t.Fatalf("%+v, %v", next, err)
	}
	now := e.reload(t, next)
	if now.MustChangePassword {
		t.Error("still must change the password")
	}
	if caps, _ := e.svc.Capabilities(as(now)); !caps.Invite {
		t.Error("alice may not invite with her own password")
	}
	_, err = e.svc.ReplaceTemporaryPassword(as(now), service.NewPassword{Password: "my-own-password-2", Repeat: "my-own-password-2"})
	wantCode(t, err, portico.ECONFLICT)
}

func TestLosingThePINRoleThroughASetStopsTheOneTimePIN(t *testing.T) {
	tests := []struct {
		name string
		lose func(e *env, alice *portico.User, set *portico.RoleSet) error
		// works says whether the PIN still works: alice keeps the role
		// some other way.
		works bool
	}{
		{"taken out of the set", func(e *env, alice *portico.User, set *portico.RoleSet) error {
			_, err := e.svc.UnassignRoleSet(e.op, set.ID, []int64{alice.ID})
			return err
		}, false},
		{"role removed from the set", func(e *env, alice *portico.User, set *portico.RoleSet) error {
			_, err := e.svc.UpdateRoleSet(e.op, set.ID, set.Name, []portico.Role{portico.RoleRequestPIN})
			return err
		}, false},
		{"set deleted", func(e *env, alice *portico.User, set *portico.RoleSet) error {
			return e.svc.DeleteRoleSet(e.op, set.ID)
		}, false},
		{"own role revoked, the set still grants it", func(e *env, alice *portico.User, set *portico.RoleSet) error {
			_, err := e.svc.ChangeRoles(e.op, "alice", nil, []portico.Role{portico.RoleResetSecureAppsPasscode})
			return err
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.secureAppsOn(t, nil)
			alice := e.addUser(t, "alice", false, portico.RoleResetSecureAppsPasscode)
			set, _ := e.svc.CreateRoleSet(e.op, "Passcodes", []portico.Role{portico.RoleResetSecureAppsPasscode, portico.RoleRequestPIN})
			if _, err := e.svc.AssignRoleSet(e.op, set.ID, []int64{alice.ID}); err != nil {
				t.Fatal(err)
			}
			if !tt.works {
				// Only the set grants the role.
				if _, err := e.svc.SetRoles(e.op, alice.ID, nil); err != nil {
					t.Fatal(err)
				}
			}
			alice = e.reload(t, alice)
			phone, token := registerWith(t, e, alice, portico.PlatformIOS, true)
			made, err := e.svc.ResetSecureAppsPasscode(as(alice), phone.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.lose(e, alice, set); err != nil {
				t.Fatal(err)
			}
			err = e.svc.RecoverSecureAppsPasscode(e.onDevice(t, token, "198.51.100.8"), "alice", "", made.PIN)
			if tt.works && err != nil {
				t.Errorf("the PIN stopped working: %v", err)
			} else if !tt.works {
				wantCode(t, err, portico.EFORBIDDEN)
			}
		})
	}
}

// Every new password, and every newer link, ends the links made before:
// an old link, perhaps still in a mailbox someone else reads, must not
// undo the change.
func TestEarlierPasswordLinksStopWorking(t *testing.T) {
	own := service.NewPassword{Password: "brand-new-pass-1", Repeat: "brand-new-pass-1"}
	tests := []struct {
		name   string
		change func(t *testing.T, e *env, alice *portico.User) (string, error)
	}{
		{"a newer link", func(t *testing.T, e *env, alice *portico.User) (string, error) {
			_, err := e.svc.SendPasswordLink(e.op, alice.ID)
			return "", err
		}},
		{"a temporary password", func(t *testing.T, e *env, alice *portico.User) (string, error) {
			_, _, err := e.svc.SetTemporaryPassword(e.op, alice.ID)
			return "", err
		}},
		{"disabling", func(t *testing.T, e *env, alice *portico.User) (string, error) {
			if _, err := e.svc.SetUserDisabled(e.op, alice.ID, true); err != nil {
				return "", err
			}
			_, err := e.svc.SetUserDisabled(e.op, alice.ID, false)
			return "", err
		}},
		{"a change on the account page", func(t *testing.T, e *env, alice *portico.User) (string, error) {
			_, err := e.svc.ChangeAccount(as(e.reload(t, alice)), service.AccountChange{
				Name: alice.Name, Email: alice.Email, CurrentPassword: "alice-password",
				NewPassword: own.Password, RepeatPassword: own.Repeat,
			})
			return "", err
		}},
		{"replacing a temporary password", func(t *testing.T, e *env, alice *portico.User) (string, error) {
			// The temporary password itself ends the first link; a
			// second one, made after it, must end with its replacement.
			signedIn, _, err := e.svc.SetTemporaryPassword(e.op, alice.ID)
			if err != nil {
				return "", err
			}
			second, err := e.svc.SendPasswordLink(e.op, alice.ID)
			if err != nil {
				return "", err
			}
			_, err = e.svc.ReplaceTemporaryPassword(as(signedIn), own)
			return second.Link, err
		}},
		{"setting one with a link", func(t *testing.T, e *env, alice *portico.User) (string, error) {
			// Two unused links at once are left from before a new link
			// ended the earlier ones: the first password set with either
			// ends the other.
			now := e.clock.Now()
			r := &portico.PasswordReset{UserID: alice.ID, CreatedAt: now, ExpiresAt: now.Add(service.PasswordLinkLifetime)}
			if err := e.db.CreatePasswordReset(context.Background(), r, secret.HashToken("older-token")); err != nil {
				return "", err
			}
			_, err := e.svc.SetPasswordWithLink(from("x"), linkToken(t, e.mailedLink(t, alice.Email)), own)
			return "https://portico.example/reset-password?t=older-token", err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			alice := e.addUser(t, "alice", false, portico.RoleChangeAccount)
			first, err := e.svc.SendPasswordLink(e.op, alice.ID)
			if err != nil {
				t.Fatal(err)
			}
			stale, err := tt.change(t, e, alice)
			if err != nil {
				t.Fatal(err)
			}
			if stale == "" {
				stale = first.Link
			}
			_, _, err = e.svc.PasswordLinkUser(from("x"), linkToken(t, stale))
			wantCode(t, err, portico.ECONFLICT)
			_, err = e.svc.SetPasswordWithLink(from("x"), linkToken(t, stale), service.NewPassword{Password: "attacker-pass-9", Repeat: "attacker-pass-9"})
			wantCode(t, err, portico.ECONFLICT)
			if _, err := e.svc.Login(from("192.0.2.8"), "alice", "attacker-pass-9"); err == nil {
				t.Error("the earlier link set a password")
			}
		})
	}
}

// A link opened in several tabs, or by someone else at the same moment,
// sets one password: exactly one of the tries at once wins, and its
// password is the one that works.
func TestPasswordLinkUsedAtOnceWorksOnce(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false)
	link, err := e.svc.SendPasswordLink(e.op, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	token := linkToken(t, link.Link)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			p := fmt.Sprintf("tab-%d-password", i)
			_, errs[i] = e.svc.SetPasswordWithLink(from("x"), token, service.NewPassword{Password: p, Repeat: p})
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch portico.ErrorCode(err) {
		case "":
			if winner >= 0 {
				t.Errorf("tabs %d and %d both set a password", winner, i)
			}
			winner = i
		case portico.ECONFLICT:
		default:
			t.Errorf("tab %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no tab set a password")
	}
	if _, err := e.svc.Login(from("192.0.2.10"), "alice", fmt.Sprintf("tab-%d-password", winner)); err != nil {
		t.Errorf("the winning tab's password: %v", err)
	}
	for i := range n {
		if i == winner {
			continue
		}
		e.clock.Advance(time.Hour) // past the throttling of the failures before
		_, err := e.svc.Login(from("192.0.2.10"), "alice", fmt.Sprintf("tab-%d-password", i))
		wantCode(t, err, portico.EUNAUTHENTICATED)
	}
}
