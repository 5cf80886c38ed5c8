package service_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
)

// totpCode is what an authenticator app with the secret shows at t.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// enrol sets up a second factor for u and returns its secret and recovery
// codes; the clock then stands one step later, so that the next code is
// new.
func enrol(t *testing.T, e *env, u *portico.User) (string, []string) {
	t.Helper()
	if err := e.svc.StartTwoFactor(as(u)); err != nil {
		t.Fatal(err)
	}
	tf, err := e.svc.TwoFactor(as(u))
	if err != nil || tf.Pending == nil {
		t.Fatalf("after starting: %+v, %v", tf, err)
	}
	codes, err := e.svc.ConfirmTwoFactor(as(u), totpCode(t, tf.Pending.Secret, e.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(30 * time.Second)
	return tf.Pending.Secret, codes
}

func TestTwoFactorSetUp(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false)

	tf, err := e.svc.TwoFactor(as(alice))
	if err != nil || tf.Enabled || tf.Pending != nil {
		t.Fatalf("before setting up: %+v, %v", tf, err)
	}
	_, err = e.svc.ConfirmTwoFactor(as(alice), "123456")
	wantCode(t, err, portico.ECONFLICT) // nothing to confirm

	if err := e.svc.StartTwoFactor(as(alice)); err != nil {
		t.Fatal(err)
	}
	tf, err = e.svc.TwoFactor(as(alice))
	if err != nil || tf.Pending == nil || tf.Enabled {
		t.Fatalf("pending: %+v, %v", tf, err)
	}
	if key, err := otp.NewKeyFromURL(tf.Pending.URL); err != nil || key.Secret() != tf.Pending.Secret || key.AccountName() != "alice" || key.Issuer() != "Portico" {
		t.Errorf("otpauth URL %q does not carry the secret: %v", tf.Pending.URL, err)
	}
	// Authenticator apps list the code under the portal's name.
	if err := e.svc.SetSettings(e.op, map[string]string{"branding.name": "ACME Devices"}); err != nil {
		t.Fatal(err)
	}
	if tf, err := e.svc.TwoFactor(as(alice)); err != nil {
		t.Fatal(err)
	} else if key, err := otp.NewKeyFromURL(tf.Pending.URL); err != nil || key.Issuer() != "ACME Devices" || !strings.Contains(tf.Pending.URL, "/ACME%20Devices:alice?") {
		t.Errorf("otpauth URL %q after renaming the portal (issuer %v)", tf.Pending.URL, err)
	}
	// Sign-in does not ask for a factor that is not confirmed.
	if held, err := e.svc.BeginSignIn(from("192.0.2.1"), alice); err != nil || held != nil {
		t.Errorf("pending factor holds the sign-in: %+v, %v", held, err)
	}

	// A wrong code, or one from far off, does not switch it on.
	for _, code := range []string{"000000", "abc", "", totpCode(t, tf.Pending.Secret, e.clock.Now().Add(-2*time.Minute))} {
		if _, err := e.svc.ConfirmTwoFactor(as(alice), code); portico.ErrorCode(err) != portico.EUNAUTHENTICATED {
			t.Errorf("confirming with %q: %v", code, err)
		}
		e.clock.Advance(time.Minute) // past the wait after failures
	}
	tf, _ = e.svc.TwoFactor(as(alice))
	secret := tf.Pending.Secret
	codes, err := e.svc.ConfirmTwoFactor(as(alice), totpCode(t, secret, e.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 {
		t.Errorf("%d recovery codes, want 10", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 19 || seen[c] {
			t.Errorf("recovery code %q is malformed or repeated", c)
		}
		seen[c] = true
	}
	tf, err = e.svc.TwoFactor(as(alice))
	if err != nil || !tf.Enabled || tf.CodesLeft != 10 || tf.Pending != nil {
		t.Errorf("after confirming: %+v, %v", tf, err)
	}
	// Starting again does not replace an enabled factor.
	wantCode(t, e.svc.StartTwoFactor(as(alice)), portico.ECONFLICT)
	if got := audit(t, e, "two_factor.start"); len(got) != 2 || got[0].Result != portico.ResultDenied || got[1].Result != portico.ResultOK {
		t.Errorf("audit of starting: %+v", got)
	}
	if got := audit(t, e, "two_factor.enable"); len(got) != 6 || got[0].Result != portico.ResultOK || got[0].Target != "alice" {
		t.Errorf("audit: %+v", got)
	}
	// The secret is sealed: the database does not hold it in clear.
	stored, err := e.db.TOTP(context.Background(), alice.ID)
	if err != nil || strings.Contains(string(stored.Sealed), secret) {
		t.Errorf("stored secret in clear: %v", err)
	}
}

func TestSecondFactorSignIn(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false)
	bob := e.addUser(t, "bob", false)
	if held, err := e.svc.BeginSignIn(from("192.0.2.1"), bob); err != nil || held != nil {
		t.Errorf("bob has no second factor, yet: %+v, %v", held, err)
	}
	secret, _ := enrol(t, e, alice)

	begin := func() portico.PendingSignIn {
		t.Helper()
		u, err := e.svc.Login(from("192.0.2.1"), "alice", "alice-password")
		if err != nil {
			t.Fatal(err)
		}
		held, err := e.svc.BeginSignIn(from("192.0.2.1"), u)
		if err != nil || held == nil {
			t.Fatalf("alice's sign-in is not held: %+v, %v", held, err)
		}
		return *held
	}
	finish := func(p portico.PendingSignIn, code string) error {
		t.Helper()
		u, err := e.svc.FinishSignIn(from("192.0.2.1"), p, code)
		if err == nil && u.ID != alice.ID {
			t.Fatalf("signed in as %s", u.Username)
		}
		return err
	}
	wait := func() { e.clock.Advance(30 * time.Second) }

	held := begin()
	// The code that confirmed the set-up is spent.
	if err := finish(held, totpCode(t, secret, e.clock.Now().Add(-30*time.Second))); portico.ErrorCode(err) != portico.EUNAUTHENTICATED {
		t.Errorf("the confirming code again: %v", err)
	}
	e.clock.Advance(2 * time.Second) // past the wait after a failure
	code := totpCode(t, secret, e.clock.Now())
	if err := finish(held, code); err != nil {
		t.Fatalf("a current code: %v", err)
	}
	// Replayed within its window, the code is refused, with the reason.
	if err := finish(begin(), code); portico.ErrorCode(err) != portico.EUNAUTHENTICATED || !strings.Contains(portico.ErrorMessage(err), "used already") {
		t.Errorf("a replayed code: %v", err)
	}

	// One step of skew either way; two is too far.
	wait()
	wait()
	if err := finish(begin(), totpCode(t, secret, e.clock.Now().Add(-30*time.Second))); err != nil {
		t.Errorf("the previous step's code: %v", err)
	}
	if err := finish(begin(), totpCode(t, secret, e.clock.Now().Add(30*time.Second))); err != nil {
		t.Errorf("the next step's code: %v", err)
	}
	e.clock.Advance(2 * time.Second)
	if err := finish(begin(), totpCode(t, secret, e.clock.Now().Add(90*time.Second))); portico.ErrorCode(err) != portico.EUNAUTHENTICATED {
		t.Errorf("a code two steps ahead: %v", err)
	}

	// A held sign-in lapses, and ends when the password changes.
	wait()
	wait()
	held = begin()
	e.clock.Advance(service.SecondFactorWait + time.Second)
	if err := finish(held, totpCode(t, secret, e.clock.Now())); !errors.Is(err, service.ErrSignInAgain) {
		t.Errorf("after the wait: %v", err)
	}
	held = begin()
	if _, err := e.db.EndUserSessions(context.Background(), alice.ID); err != nil {
		t.Fatal(err)
	}
	if err := finish(held, totpCode(t, secret, e.clock.Now())); !errors.Is(err, service.ErrSignInAgain) {
		t.Errorf("after the password changed: %v", err)
	}
	// So does one whose second factor an admin reset meanwhile.
	held = begin()
	if _, err := e.svc.ResetTwoFactor(e.op, alice.ID); err != nil {
		t.Fatal(err)
	}
	if err := finish(held, totpCode(t, secret, e.clock.Now())); !errors.Is(err, service.ErrSignInAgain) {
		t.Errorf("after a reset: %v", err)
	}
	if got := audit(t, e, "login.second_factor"); len(got) == 0 || got[0].Target != "alice" || got[0].Result != portico.ResultDenied {
		t.Errorf("audit: %+v", got)
	}
}

func TestRecoveryCodesWorkOnce(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false)
	_, codes := enrol(t, e, alice)
	held := portico.PendingSignIn{UserID: alice.ID, Started: e.clock.Now()}
	// As people type it: in capitals, without the dashes.
	typed := strings.ToUpper(strings.ReplaceAll(codes[3], "-", " "))
	if _, err := e.svc.FinishSignIn(from("192.0.2.1"), held, typed); err != nil {
		t.Fatalf("a recovery code: %v", err)
	}
	e.clock.Advance(time.Second)
	if _, err := e.svc.FinishSignIn(from("192.0.2.1"), held, codes[3]); portico.ErrorCode(err) != portico.EUNAUTHENTICATED {
		t.Errorf("a recovery code used twice: %v", err)
	}
	e.clock.Advance(time.Minute)
	if _, err := e.svc.FinishSignIn(from("192.0.2.1"), portico.PendingSignIn{UserID: alice.ID, Started: e.clock.Now()}, codes[4]); err != nil {
		t.Errorf("another recovery code: %v", err)
	}
	if tf, _ := e.svc.TwoFactor(as(alice)); tf.CodesLeft != 8 {
		t.Errorf("codes left = %d, want 8", tf.CodesLeft)
	}
}

func TestSecondFactorThrottled(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false)
	secret, _ := enrol(t, e, alice)
	held := portico.PendingSignIn{UserID: alice.ID, Started: e.clock.Now()}
	for i := range 5 {
		if _, err := e.svc.FinishSignIn(from("192.0.2.1"), held, "000000"); portico.ErrorCode(err) != portico.EUNAUTHENTICATED {
			t.Fatalf("wrong code %d: %v", i+1, err)
		}
		e.clock.Advance(5 * time.Second)
	}
	// A right password clears the password's failures, not the codes'.
	if _, err := e.svc.Login(from("192.0.2.9"), "alice", "alice-password"); err != nil {
		t.Fatal(err)
	}
	held.Started = e.clock.Now()
	_, err := e.svc.FinishSignIn(from("192.0.2.9"), held, totpCode(t, secret, e.clock.Now()))
	wantCode(t, err, portico.ETHROTTLED)
	// Turning it off takes a code too, and is throttled the same.
	wantCode(t, e.svc.DisableTwoFactor(as(alice), totpCode(t, secret, e.clock.Now())), portico.ETHROTTLED)

	e.clock.Advance(16 * time.Minute) // the lock-out ends
	held.Started = e.clock.Now()
	if _, err := e.svc.FinishSignIn(from("192.0.2.9"), held, totpCode(t, secret, e.clock.Now())); err != nil {
		t.Errorf("after the lock-out: %v", err)
	}
}

func TestDisableTwoFactor(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false)
	secret, _ := enrol(t, e, alice)
	wantCode(t, e.svc.DisableTwoFactor(as(alice), "999999"), portico.EUNAUTHENTICATED)
	if tf, _ := e.svc.TwoFactor(as(alice)); !tf.Enabled {
		t.Fatal("a wrong code switched it off")
	}
	e.clock.Advance(time.Minute)
	if err := e.svc.DisableTwoFactor(as(alice), totpCode(t, secret, e.clock.Now())); err != nil {
		t.Fatal(err)
	}
	if tf, _ := e.svc.TwoFactor(as(alice)); tf.Enabled || tf.Pending != nil {
		t.Errorf("after switching off: %+v", tf)
	}
	if held, err := e.svc.BeginSignIn(from("192.0.2.1"), alice); err != nil || held != nil {
		t.Errorf("sign-in still held: %+v, %v", held, err)
	}
	if got := audit(t, e, "two_factor.disable"); len(got) != 2 || got[0].Result != portico.ResultOK || got[1].Result != portico.ResultDenied {
		t.Errorf("audit: %+v", got)
	}
}

func TestResetTwoFactor(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false)
	root := e.addUser(t, "root", true)
	enrol(t, e, alice)

	_, err := e.svc.ResetTwoFactor(as(alice), alice.ID)
	wantCode(t, err, portico.EFORBIDDEN)
	if on, err := e.svc.UserTwoFactor(as(root), alice.ID); err != nil || !on {
		t.Fatalf("before the reset: %v, %v", on, err)
	}
	if _, err := e.svc.ResetTwoFactor(as(root), alice.ID); err != nil {
		t.Fatal(err)
	}
	if on, _ := e.svc.UserTwoFactor(as(root), alice.ID); on {
		t.Error("still on after the reset")
	}
	_, err = e.svc.ResetTwoFactor(as(root), alice.ID)
	wantCode(t, err, portico.ECONFLICT)
	_, err = e.svc.ResetTwoFactor(as(root), 4242)
	wantCode(t, err, portico.ENOTFOUND)
	_, err = e.svc.UserTwoFactor(as(alice), alice.ID)
	wantCode(t, err, portico.EFORBIDDEN)
	got := audit(t, e, "user.two_factor_reset")
	if len(got) != 2 || got[0].Actor != "root" || got[0].Target != "alice" || got[0].Result != portico.ResultOK || got[1].Result != portico.ResultDenied {
		t.Errorf("audit: %+v", got)
	}
}

func TestAdminMustEnrol(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false)
	root := e.addUser(t, "root", true)
	for _, tc := range []struct {
		name     string
		required bool
		u        *portico.User
		enrolled bool
		want     bool
	}{
		{"not required", false, root, false, false},
		{"required, admin without", true, root, false, true},
		{"required, not an admin", true, alice, false, false},
		{"required, admin with", true, root, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := e.svc.SetSettings(e.op, map[string]string{"security.require_admin_2fa": map[bool]string{true: "true", false: "false"}[tc.required]}); err != nil {
				t.Fatal(err)
			}
			if tc.enrolled {
				enrol(t, e, tc.u)
			}
			if got, err := e.svc.AdminMustEnrol(context.Background(), tc.u); err != nil || got != tc.want {
				t.Errorf("AdminMustEnrol = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// A user with two-step sign-in registers a device with the password only
// together with a code, on the device and at /go; a registration PIN, made
// in the portal after signing in with both, needs none.
func TestRegistrationWithPasswordNeedsTheSecondFactor(t *testing.T) {
	e := newEnv(t)
	e.switchOn(t, "registration.pin_enabled")
	alice := e.addUser(t, "alice", false, portico.RoleRegisterDevice, portico.RoleRequestPIN)
	secret, recovery := enrol(t, e, alice)
	register := func(r service.Registration) error {
		r.Username, r.Platform, r.Details = "alice", portico.PlatformAndroid, pixel
		_, _, err := e.svc.RegisterDevice(from("198.51.100.7"), r)
		return err
	}
	open := func(password, code string) error {
		_, err := e.svc.OpenRegistration(from("198.51.100.8"), "alice", password, "", code, "", portico.PlatformAndroid)
		return err
	}
	for name, try := range map[string]func() error{
		"device API": func() error { return register(service.Registration{Password: "alice-password"}) },
		"/go":        func() error { return open("alice-password", "") },
	} {
		err := try()
		if !errors.Is(err, service.ErrCodeNeeded) {
			t.Errorf("%s without a code: %v", name, err)
		}
	}
	err := register(service.Registration{Password: "alice-password", Code: "000000"})
	wantCode(t, err, portico.EUNAUTHENTICATED)
	err = register(service.Registration{Password: "wrong-password", Code: totpCode(t, secret, e.clock.Now())})
	wantCode(t, err, portico.EUNAUTHENTICATED)
	if devices, _ := e.svc.MyDevices(as(alice)); len(devices) != 0 {
		t.Fatalf("%d devices registered without the second factor", len(devices))
	}

	e.clock.Advance(30 * time.Second)
	if err := register(service.Registration{Password: "alice-password", Code: totpCode(t, secret, e.clock.Now())}); err != nil {
		t.Fatalf("with a code: %v", err)
	}
	if err := open("alice-password", recovery[0]); err != nil {
		t.Fatalf("/go with a recovery code: %v", err)
	}
	err = open("alice-password", recovery[0])
	wantCode(t, err, portico.EUNAUTHENTICATED) // used up

	started, err := e.svc.StartRegistration(as(alice), portico.InviteWithPIN, portico.PlatformAndroid)
	if err != nil {
		t.Fatal(err)
	}
	if err := register(service.Registration{PIN: started.PIN}); err != nil {
		t.Errorf("with a registration PIN: %v", err)
	}
	if devices, _ := e.svc.MyDevices(as(alice)); len(devices) != 2 {
		t.Errorf("%d devices, want 2", len(devices))
	}
}
