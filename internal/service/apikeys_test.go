package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
)

const month = 30 * 24 * time.Hour

func (e *env) apiKey(t *testing.T, name string, scope portico.APIScope) (*portico.APIKey, string) {
	t.Helper()
	k, key, err := e.svc.CreateAPIKey(e.op, service.NewAPIKey{Name: name, Scope: scope, ValidFor: month})
	if err != nil {
		t.Fatal(err)
	}
	return k, key
}

// withKey acts with the key, as the API's guard makes it act.
func withKey(k *portico.APIKey) context.Context {
	return portico.NewContextWithActor(context.Background(), portico.Actor{APIKey: k, Source: "192.0.2.7"})
}

func TestCreateAPIKey(t *testing.T) {
	e := newEnv(t)
	root := e.addUser(t, "root", true)
	k, key, err := e.svc.CreateAPIKey(as(root), service.NewAPIKey{Name: " inventory ", Scope: portico.ScopeReadWrite, ValidFor: month})
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != "inventory" || k.Scope != portico.ScopeReadWrite || k.CreatedBy != "root" || !k.ExpiresAt.Equal(e.clock.Now().Add(month)) {
		t.Errorf("key = %+v", k)
	}
	if len(key) < 43 {
		t.Errorf("the key %q is shorter than 256 bits in base64", key)
	}
	got, err := e.svc.AuthenticateAPIKey(from("192.0.2.1"), key)
	if err != nil || got.ID != k.ID {
		t.Fatalf("the new key does not work: %v, %v", got, err)
	}
	entries, _ := e.svc.AuditLog(e.op, store.AuditFilter{Actor: "root"})
	if len(entries) != 1 || entries[0].Action != "apikey.create" || entries[0].Target != "inventory" || strings.Contains(entries[0].Detail, key) {
		t.Errorf("audit = %+v", entries)
	}
}

func TestCreateAPIKeyRefusals(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false, portico.Roles...)
	e.apiKey(t, "taken", portico.ScopeReadOnly)
	rw, _ := e.apiKey(t, "scripts", portico.ScopeReadWrite)
	good := service.NewAPIKey{Name: "new", Scope: portico.ScopeReadOnly, ValidFor: month}
	tests := []struct {
		name string
		ctx  context.Context
		nk   func(service.NewAPIKey) service.NewAPIKey
		code string
	}{
		{"not signed in", context.Background(), nil, portico.EUNAUTHENTICATED},
		{"not an admin", as(alice), nil, portico.EFORBIDDEN},
		{"with another key", withKey(rw), nil, portico.EFORBIDDEN},
		{"a bad name", e.op, func(n service.NewAPIKey) service.NewAPIKey { n.Name = "two words"; return n }, portico.EINVALID},
		{"no name", e.op, func(n service.NewAPIKey) service.NewAPIKey { n.Name = ""; return n }, portico.EINVALID},
		{"a taken name", e.op, func(n service.NewAPIKey) service.NewAPIKey { n.Name = "Taken"; return n }, portico.ECONFLICT},
		{"no scope", e.op, func(n service.NewAPIKey) service.NewAPIKey { n.Scope = ""; return n }, portico.EINVALID},
		{"an unknown scope", e.op, func(n service.NewAPIKey) service.NewAPIKey { n.Scope = "admin"; return n }, portico.EINVALID},
		{"no expiry", e.op, func(n service.NewAPIKey) service.NewAPIKey { n.ValidFor = 0; return n }, portico.EINVALID},
		{"expired already", e.op, func(n service.NewAPIKey) service.NewAPIKey { n.ValidFor = -time.Hour; return n }, portico.EINVALID},
		{"over a year", e.op, func(n service.NewAPIKey) service.NewAPIKey {
			n.ValidFor = portico.MaxAPIKeyLifetime + time.Hour
			return n
		}, portico.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nk := good
			if tt.nk != nil {
				nk = tt.nk(nk)
			}
			_, key, err := e.svc.CreateAPIKey(tt.ctx, nk)
			wantCode(t, err, tt.code)
			if key != "" {
				t.Error("a refusal handed out a key")
			}
		})
	}
	keys, _ := e.svc.APIKeys(e.op)
	if len(keys) != 2 {
		t.Errorf("%d keys after the refusals, want 2", len(keys))
	}
	if _, _, err := e.svc.CreateAPIKey(e.op, service.NewAPIKey{Name: "longest", Scope: portico.ScopeReadOnly, ValidFor: portico.MaxAPIKeyLifetime}); err != nil {
		t.Errorf("a key for exactly a year: %v", err)
	}
}

func TestAPIKeyStopsWhenRevokedOrExpired(t *testing.T) {
	e := newEnv(t)
	root := e.addUser(t, "root", true)
	revoked, revokedKey := e.apiKey(t, "revoked", portico.ScopeReadWrite)
	_, expiring := e.apiKey(t, "expiring", portico.ScopeReadOnly)

	if _, err := e.svc.RevokeAPIKey(as(root), revoked.ID); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.AuthenticateAPIKey(from("192.0.2.1"), revokedKey)
	wantCode(t, err, portico.EUNAUTHENTICATED)
	if !strings.Contains(portico.ErrorMessage(err), "revoked") {
		t.Errorf("message %q does not say the key was revoked", portico.ErrorMessage(err))
	}
	_, err = e.svc.RevokeAPIKey(as(root), revoked.ID)
	wantCode(t, err, portico.ECONFLICT)
	_, err = e.svc.RevokeAPIKey(as(root), revoked.ID+100)
	wantCode(t, err, portico.ENOTFOUND)

	if _, err := e.svc.AuthenticateAPIKey(from("192.0.2.2"), expiring); err != nil {
		t.Fatalf("before its expiry: %v", err)
	}
	e.clock.Advance(month)
	_, err = e.svc.AuthenticateAPIKey(from("192.0.2.2"), expiring)
	wantCode(t, err, portico.EUNAUTHENTICATED)
	if !strings.Contains(portico.ErrorMessage(err), "expired") {
		t.Errorf("message %q does not say the key expired", portico.ErrorMessage(err))
	}

	entries, _ := e.svc.AuditLog(e.op, store.AuditFilter{})
	var actions []string
	for _, en := range entries {
		actions = append(actions, en.Actor+" "+en.Action+" "+en.Target+" "+en.Result)
	}
	for _, want := range []string{"root apikey.revoke revoked ok", "anonymous apikey.use revoked denied", "anonymous apikey.use expiring denied"} {
		if !strings.Contains(strings.Join(actions, "\n"), want) {
			t.Errorf("audit has no %q:\n%s", want, strings.Join(actions, "\n"))
		}
	}
}

func TestAPIKeyLastUsed(t *testing.T) {
	e := newEnv(t)
	k, key := e.apiKey(t, "scripts", portico.ScopeReadOnly)
	used := func() time.Time {
		got, err := e.db.APIKeyByID(context.Background(), k.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.LastUsedAt
	}
	if !used().IsZero() {
		t.Fatal("a new key was used already")
	}
	first := e.clock.Now()
	if _, err := e.svc.AuthenticateAPIKey(from("192.0.2.1"), key); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(30 * time.Second)
	if _, err := e.svc.AuthenticateAPIKey(from("192.0.2.1"), key); err != nil {
		t.Fatal(err)
	}
	if !used().Equal(first) {
		t.Errorf("last used %v, want %v: within a minute it is not written again", used(), first)
	}
	e.clock.Advance(time.Minute)
	if _, err := e.svc.AuthenticateAPIKey(from("192.0.2.1"), key); err != nil {
		t.Fatal(err)
	}
	if !used().Equal(e.clock.Now()) {
		t.Errorf("last used %v, want %v", used(), e.clock.Now())
	}
}

func TestAPIKeyGuessesAreThrottledPerAddress(t *testing.T) {
	e := newEnv(t)
	_, key := e.apiKey(t, "scripts", portico.ScopeReadOnly)
	guesser := from("203.0.113.9")
	for range 3 { // the first failures cost nothing
		_, err := e.svc.AuthenticateAPIKey(guesser, "guess")
		wantCode(t, err, portico.EUNAUTHENTICATED)
	}
	_, err := e.svc.AuthenticateAPIKey(guesser, "guess")
	wantCode(t, err, portico.ETHROTTLED)
	// Only failures are throttled: a script whose key works is never
	// slowed, from the guesser's address (a NAT) or another.
	for _, source := range []string{"203.0.113.9", "198.51.100.3"} {
		if _, err := e.svc.AuthenticateAPIKey(from(source), key); err != nil {
			t.Errorf("a valid key from %s: %v", source, err)
		}
	}
	// A guesser who waits out each back-off reaches the lock-out: at four
	// times the sign-in limit, as for sign-ins from one address.
	failures := 3
	for range 2000 {
		e.clock.Advance(time.Second)
		_, err = e.svc.AuthenticateAPIKey(guesser, "guess")
		if portico.ErrorCode(err) == portico.EUNAUTHENTICATED {
			failures++
		} else if strings.Contains(portico.ErrorMessage(err), "Try again in") {
			break
		}
	}
	if failures != 20 || !strings.Contains(portico.ErrorMessage(err), "Try again in") {
		t.Fatalf("after %d failures: %v, want the lock-out after 20", failures, err)
	}
	e.clock.Advance(15 * time.Minute)
	if _, err := e.svc.AuthenticateAPIKey(guesser, key); err != nil {
		t.Errorf("after the lock-out the key works again: %v", err)
	}
}

func TestAPIKeyActsAsAdminUnderItsName(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false)
	k, _ := e.apiKey(t, "provisioning", portico.ScopeReadWrite)
	ctx := withKey(k)
	if _, err := e.svc.SetRoles(ctx, alice.ID, []portico.Role{portico.RoleLock}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetSettings(ctx, map[string]string{"helpdesk.name": "Service desk"}); err != nil {
		t.Fatal(err)
	}
	entries, _ := e.svc.AuditLog(e.op, store.AuditFilter{Actor: "api-key:provisioning"})
	if len(entries) != 2 || entries[0].Action != "settings.change" || entries[1].Action != "user.roles" || entries[1].Source != "192.0.2.7" {
		t.Errorf("audit = %+v", entries)
	}
	if _, err := e.svc.APIKeys(ctx); portico.ErrorCode(err) != portico.EFORBIDDEN {
		t.Errorf("a key lists the keys: %v", err)
	}
	if _, err := e.svc.APIKey(ctx, k.ID); portico.ErrorCode(err) != portico.EFORBIDDEN {
		t.Errorf("a key reads a key: %v", err)
	}
	if _, err := e.svc.RevokeAPIKey(ctx, k.ID); portico.ErrorCode(err) != portico.EFORBIDDEN {
		t.Errorf("a key revokes a key: %v", err)
	}
}

func TestSetSettingsRefusesTheSecretMask(t *testing.T) {
	e := newEnv(t)
	if err := e.svc.SetSettings(e.op, map[string]string{"mail.password": "s3cret"}); err != nil {
		t.Fatal(err)
	}
	shown, _ := e.svc.Settings(e.op)
	err := e.svc.SetSettings(e.op, map[string]string{"mail.password": shown.Get("mail.password"), "helpdesk.name": "Desk"})
	wantCode(t, err, portico.EINVALID)
	stored, _ := e.db.SettingValues(context.Background())
	if stored.Get("mail.password") != "s3cret" || stored.Get("helpdesk.name") == "Desk" {
		t.Errorf("a refused change was stored: %q, %q", stored.Get("mail.password"), stored.Get("helpdesk.name"))
	}
}

func TestInviteUser(t *testing.T) {
	e := newEnv(t)
	// The admin needs none of alice's roles, and alice needs none either.
	alice := e.addUser(t, "alice", false)
	root := e.addUser(t, "root", true)
	gone := &portico.User{Username: "gone", Email: "gone@example.com", Disabled: true, CreatedAt: e.clock.Now()}
	if err := e.db.CreateUser(context.Background(), gone, "x"); err != nil {
		t.Fatal(err)
	}
	started, err := e.svc.InviteUser(as(root), alice.ID, portico.InviteByMessage, portico.PlatformAndroid)
	if err != nil {
		t.Fatal(err)
	}
	if started.Invitation.UserID != alice.ID || started.PIN != "" || len(started.SentTo) != 1 || started.SentTo[0] != "alice@example.com" {
		t.Errorf("started = %+v", started)
	}
	d, err := e.svc.Device(e.op, started.Invitation.DeviceID)
	if err != nil || d.UserID != alice.ID || d.Status != portico.StatusPending || d.Platform != portico.PlatformAndroid {
		t.Errorf("pending device = %+v, %v", d, err)
	}
	entries, _ := e.svc.AuditLog(e.op, store.AuditFilter{Actor: "root"})
	if len(entries) != 1 || entries[0].Action != "registration.invite" || !strings.Contains(entries[0].Detail, "alice") {
		t.Errorf("audit = %+v", entries)
	}

	tests := []struct {
		name string
		ctx  context.Context
		user int64
		kind portico.InvitationKind
		code string
	}{
		{"not an admin", as(alice), alice.ID, portico.InviteByMessage, portico.EFORBIDDEN},
		{"PIN switched off", as(root), alice.ID, portico.InviteWithPIN, portico.EFORBIDDEN},
		{"QR switched off", as(root), alice.ID, portico.InviteByQR, portico.EFORBIDDEN},
		{"an unknown kind", as(root), alice.ID, "pigeon", portico.EINVALID},
		{"an unknown user", as(root), alice.ID + 100, portico.InviteByMessage, portico.ENOTFOUND},
		{"a disabled user", as(root), gone.ID, portico.InviteByMessage, portico.ECONFLICT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.InviteUser(tt.ctx, tt.user, tt.kind, portico.PlatformIOS)
			wantCode(t, err, tt.code)
		})
	}
	_, err = e.svc.InviteUser(as(root), alice.ID, portico.InviteByMessage, "palm")
	wantCode(t, err, portico.EINVALID)

	e.switchOn(t, "registration.pin_enabled", "registration.qr_enabled")
	pin, err := e.svc.InviteUser(as(root), alice.ID, portico.InviteWithPIN, portico.PlatformIOS)
	if err != nil || len(pin.PIN) != 8 {
		t.Fatalf("a PIN registration: %+v, %v", pin, err)
	}
	if _, _, err := e.svc.RegisterDevice(from("192.0.2.3"), service.Registration{
		Username: "alice", PIN: pin.PIN, Platform: portico.PlatformIOS, Details: pixel,
	}); err != nil {
		t.Errorf("alice registers with the PIN the admin started: %v", err)
	}
	if _, err := e.svc.InviteUser(as(root), alice.ID, portico.InviteByQR, portico.PlatformIOS); err != nil {
		t.Errorf("a QR registration: %v", err)
	}
	for range 3 {
		if _, err := e.svc.InviteUser(as(root), alice.ID, portico.InviteByMessage, portico.PlatformIOS); err != nil {
			t.Fatal(err)
		}
	}
	_, err = e.svc.InviteUser(as(root), alice.ID, portico.InviteByMessage, portico.PlatformIOS)
	wantCode(t, err, portico.ECONFLICT)
	if !strings.Contains(portico.ErrorMessage(err), "alice has 5 registrations waiting") {
		t.Errorf("message %q", portico.ErrorMessage(err))
	}
}

// Calls made at the same moment with a valid key never count against each
// other, however many there are.
func TestAPIKeyCallsAtOnceAreNotThrottled(t *testing.T) {
	e := newEnv(t)
	_, key := e.apiKey(t, "scripts", portico.ScopeReadOnly)
	errs := make(chan error, 64)
	for range cap(errs) {
		go func() {
			_, err := e.svc.AuthenticateAPIKey(from("192.0.2.7"), key)
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// An API key acts with an administrator's rights, but nothing it does may
// make it, or hand it, a person's administrator rights: each refusal says
// where it is done instead and is audited.
func TestAPIKeysDoNotReachAdministrators(t *testing.T) {
	type call func(ctx context.Context, e *env, target *portico.User) error
	tests := []struct {
		name, action string
		admin        call // refused on an administrator
	}{
		{"create an administrator", "user.create", func(ctx context.Context, e *env, target *portico.User) error {
			_, _, err := e.svc.CreateUser(ctx, service.NewUser{User: portico.User{Username: "new-" + target.Username, Email: "n@example.com", Admin: target.Admin}})
			return err
		}},
		{"temporary password", "user.password_temporary", func(ctx context.Context, e *env, target *portico.User) error {
			_, _, err := e.svc.SetTemporaryPassword(ctx, target.ID)
			return err
		}},
		{"password link", "user.password_link", func(ctx context.Context, e *env, target *portico.User) error {
			_, err := e.svc.SendPasswordLink(ctx, target.ID)
			return err
		}},
		{"disable", "user.disable", func(ctx context.Context, e *env, target *portico.User) error {
			_, err := e.svc.SetUserDisabled(ctx, target.ID, true)
			return err
		}},
		{"reset the second factor", "user.two_factor_reset", func(ctx context.Context, e *env, target *portico.User) error {
			_, err := e.svc.ResetTwoFactor(ctx, target.ID)
			if portico.ErrorCode(err) == portico.ECONFLICT { // has none: the reset was allowed
				return nil
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			root := e.addUser(t, "root", true)
			other := e.addUser(t, "other", true)
			alice := e.addUser(t, "alice", false)
			k, _ := e.apiKey(t, "scripts", portico.ScopeReadWrite)
			err := tt.admin(withKey(k), e, root)
			wantCode(t, err, portico.EFORBIDDEN)
			if msg := portico.ErrorMessage(err); !strings.Contains(msg, "done in the admin portal by an administrator, not with an API key") {
				t.Errorf("message %q", msg)
			}
			var denied []*portico.AuditEntry
			for _, en := range audit(t, e, tt.action) {
				if en.Result == portico.ResultDenied {
					denied = append(denied, en)
				}
			}
			if len(denied) != 1 || denied[0].Actor != k.ActorName() {
				t.Errorf("the refusal is not audited: %+v", denied)
			}
			if got := e.reload(t, root); got.Disabled || got.MustChangePassword {
				t.Errorf("root changed: %+v", got)
			}
			// The same for a user without administrator rights, and by
			// an administrator for an administrator, is allowed.
			if err := tt.admin(withKey(k), e, alice); err != nil {
				t.Errorf("on a user: %v", err)
			}
			if err := tt.admin(as(root), e, other); err != nil {
				t.Errorf("by an administrator: %v", err)
			}
		})
	}
}

func TestAPIKeysDoNotChangeAccessOrSecurity(t *testing.T) {
	e := newEnv(t)
	root := e.addUser(t, "root", true)
	k, _ := e.apiKey(t, "scripts", portico.ScopeReadWrite)
	refused := []map[string]string{
		{"access.portal_networks": "10.0.0.0/8"},
		{"access.admin_networks": "10.0.0.0/8"},
		// The key's own address (192.0.2.7) is not in the list: it would
		// lock the key out too.
		{"access.api_networks": "10.0.0.0/8"},
		{"security.require_admin_2fa": "true"},
		{"session.lifetime": "720h"},
		{"login.max_failures": "100", "branding.name": "Acme"},
	}
	for _, values := range refused {
		err := e.svc.SetSettings(withKey(k), values)
		wantCode(t, err, portico.EFORBIDDEN)
		if msg := portico.ErrorMessage(err); !strings.Contains(msg, "not with an API key") {
			t.Errorf("%v: message %q", values, msg)
		}
	}
	if n := len(audit(t, e, "settings.change")); n != len(refused) {
		t.Errorf("%d refusals audited, want %d", n, len(refused))
	}
	v, _ := e.svc.Settings(e.op)
	for _, key := range []string{"access.api_networks", "session.lifetime", "branding.name", "login.max_failures"} {
		if def, _ := portico.LookupSetting(key); v.Get(key) != def.Default {
			t.Errorf("%s changed to %q", key, v.Get(key))
		}
	}
	if err := e.svc.SetSettings(withKey(k), map[string]string{"branding.name": "Acme"}); err != nil {
		t.Errorf("another group: %v", err)
	}
	if err := e.svc.SetSettings(as(root), map[string]string{"session.lifetime": "24h"}); err != nil {
		t.Errorf("an administrator: %v", err)
	}
}
