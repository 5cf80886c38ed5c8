package service_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
)

// secureAppsOn licenses secure apps and sets a policy that requires a
// passcode and lets users recover it on every platform; changes override.
func (e *env) secureAppsOn(t *testing.T, changes map[string]string) {
	t.Helper()
	values := map[string]string{
		"products.secure_apps": "true", "secure_apps.passcode_required": "true",
		"secure_apps.passcode_recovery": "true", "secure_apps.applies_to": "all",
	}
	for k, v := range changes {
		values[k] = v
	}
	if err := e.svc.SetSettings(e.op, values); err != nil {
		t.Fatal(err)
	}
}

// registerWith registers a device of the platform for the user with the
// password, or with a registration PIN the user requests first.
func registerWith(t *testing.T, e *env, u *portico.User, p portico.Platform, withPIN bool) (*portico.Device, string) {
	t.Helper()
	r := service.Registration{Username: u.Username, Platform: p, Details: portico.DeviceDetails{Name: u.Username + "'s " + p.DeviceNoun()}}
	if withPIN {
		e.switchOn(t, "registration.pin_enabled")
		started, err := e.svc.StartRegistration(as(u), portico.InviteWithPIN, p)
		if err != nil {
			t.Fatal(err)
		}
		r.PIN = started.PIN
	} else {
		r.Password = u.Username + "-password"
	}
	d, token, err := e.svc.RegisterDevice(from("192.0.2.60"), r)
	if err != nil {
		t.Fatal(err)
	}
	return d, token
}

// onDevice is the agent of the device with the token, from an address.
func (e *env) onDevice(t *testing.T, token, source string) context.Context {
	t.Helper()
	d, err := e.svc.AuthenticateDevice(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return portico.NewContextWithActor(context.Background(), portico.Actor{Device: d, Source: source})
}

func TestResetSecureAppsPasscodeNeedsAllThreeConditions(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]string
		noRole   bool
		platform portico.Platform
		offered  bool
		says     string
	}{
		{"all three on an iPhone", nil, false, portico.PlatformIOS, true, ""},
		{"all three on an Android device", nil, false, portico.PlatformAndroid, true, ""},
		{"secure docs is licence enough", map[string]string{"products.secure_apps": "false", "products.secure_docs": "true"}, false, portico.PlatformIOS, true, ""},
		{"without the role", nil, true, portico.PlatformIOS, false, "may not reset"},
		{"without a licence", map[string]string{"products.secure_apps": "false"}, false, portico.PlatformIOS, false, "no licence"},
		{"no passcode required", map[string]string{"secure_apps.passcode_required": "false"}, false, portico.PlatformIOS, false, "policy"},
		{"recovery not allowed", map[string]string{"secure_apps.passcode_recovery": "false"}, false, portico.PlatformIOS, false, "policy"},
		{"the policy is for Android", map[string]string{"secure_apps.applies_to": "android"}, false, portico.PlatformIOS, false, "policy for iOS"},
		{"the policy is for iOS", map[string]string{"secure_apps.applies_to": "ios"}, false, portico.PlatformIOS, true, ""},
		{"a Mac", nil, false, portico.PlatformMacOS, false, "iPhones and Android devices only"},
		{"an iPad", nil, false, portico.PlatformIPadOS, false, "iPhones and Android devices only"},
		{"a Windows PC", nil, false, portico.PlatformWindows, false, "iPhones and Android devices only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			roles := []portico.Role{portico.RoleResetSecureAppsPasscode}
			if tt.noRole {
				roles = nil
			}
			alice := e.addUser(t, "alice", false, roles...)
			d, _ := registerWith(t, e, alice, tt.platform, false)
			e.secureAppsOn(t, tt.settings)

			actions, err := e.svc.Actions(as(alice), d)
			if err != nil {
				t.Fatal(err)
			}
			if actions.ResetSecureAppsPasscode != tt.offered {
				t.Errorf("offered = %v, want %v", actions.ResetSecureAppsPasscode, tt.offered)
			}
			_, pageErr := e.svc.SecureAppsPasscodeDevice(as(alice), d.ID)
			otp, err := e.svc.ResetSecureAppsPasscode(as(alice), d.ID)
			if tt.offered {
				if err != nil || pageErr != nil || len(otp.PIN) != 8 || otp.Owner.ID != alice.ID {
					t.Fatalf("making a PIN: %+v, %v, %v", otp, err, pageErr)
				}
				if !otp.ExpiresAt.Equal(e.clock.Now().Add(24 * time.Hour)) {
					t.Errorf("the PIN expires at %v, want in 24 hours", otp.ExpiresAt)
				}
				return
			}
			wantCode(t, err, portico.EFORBIDDEN)
			wantCode(t, pageErr, portico.EFORBIDDEN)
			if !strings.Contains(portico.ErrorMessage(err), tt.says) {
				t.Errorf("refusal %q does not say %q", portico.ErrorMessage(err), tt.says)
			}
			entries, _ := e.svc.AuditLog(e.op, store.AuditFilter{DeviceID: d.ID})
			if !hasAudit(entries, "secure_apps.pin", portico.ResultDenied) {
				t.Errorf("the refusal was not audited: %v", entries)
			}
		})
	}
}

func hasAudit(entries []*portico.AuditEntry, action, result string) bool {
	for _, a := range entries {
		if a.Action == action && a.Result == result {
			return true
		}
	}
	return false
}

func TestResetSecureAppsPasscodeOnlyOnActiveDevicesOfTheirOwner(t *testing.T) {
	e := newEnv(t)
	e.secureAppsOn(t, nil)
	e.switchOn(t, "registration.pin_enabled")
	alice := e.addUser(t, "alice", false, portico.RoleResetSecureAppsPasscode, portico.RoleRequestPIN)
	bob := e.addUser(t, "bob", false, portico.RoleResetSecureAppsPasscode)
	root := e.addUser(t, "root", true)
	started, err := e.svc.StartRegistration(as(alice), portico.InviteWithPIN, portico.PlatformIOS)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.ResetSecureAppsPasscode(as(alice), started.Invitation.DeviceID)
	wantCode(t, err, portico.ECONFLICT) // still pending
	d, _ := registerWith(t, e, alice, portico.PlatformIOS, false)
	_, err = e.svc.ResetSecureAppsPasscode(as(bob), d.ID)
	wantCode(t, err, portico.ENOTFOUND)
	// An admin may make it, for the device's user.
	otp, err := e.svc.ResetSecureAppsPasscode(as(root), d.ID)
	if err != nil || otp.Owner.ID != alice.ID {
		t.Fatalf("an admin's PIN: %+v, %v", otp, err)
	}
}

func TestOneTimePINRecoversThePasscodeOnce(t *testing.T) {
	e := newEnv(t)
	e.secureAppsOn(t, nil)
	alice := e.addUser(t, "alice", false, portico.RoleResetSecureAppsPasscode, portico.RoleRequestPIN)
	bob := e.addUser(t, "bob", false, portico.RoleResetSecureAppsPasscode, portico.RoleRequestPIN)
	phone, token := registerWith(t, e, alice, portico.PlatformIOS, true)
	bobsPhone, _ := registerWith(t, e, bob, portico.PlatformAndroid, true)
	device := e.onDevice(t, token, "198.51.100.7")
	// Failures are spaced out so that they stay under the sign-in lock-out:
	// each case tests its own refusal.
	recover := func(username, password, pin string) error {
		e.clock.Advance(16 * time.Minute)
		return e.svc.RecoverSecureAppsPasscode(device, username, password, pin)
	}
	wantRefused := func(t *testing.T, err error, code, says string) {
		t.Helper()
		wantCode(t, err, code)
		if !strings.Contains(portico.ErrorMessage(err), says) {
			t.Errorf("refusal %q does not say %q", portico.ErrorMessage(err), says)
		}
	}

	wantRefused(t, recover("alice", "", "12345678"), portico.EFORBIDDEN, "wrong") // no PIN made yet
	first, err := e.svc.ResetSecureAppsPasscode(as(alice), phone.ID)
	if err != nil {
		t.Fatal(err)
	}
	bobs, err := e.svc.ResetSecureAppsPasscode(as(bob), bobsPhone.ID)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.svc.ResetSecureAppsPasscode(as(alice), phone.ID)
	if err != nil {
		t.Fatal(err)
	}
	if second.PIN == first.PIN {
		t.Fatal("two PINs in a row are the same")
	}
	tests := []struct {
		name, username, password, pin string
		code, says                    string
	}{
		{"the replaced PIN", "alice", "", first.PIN, portico.EFORBIDDEN, "Only the newest PIN"},
		{"another user's PIN", "alice", "", bobs.PIN, portico.EFORBIDDEN, "wrong"},
		{"another user's name and PIN", "bob", "", bobs.PIN, portico.EFORBIDDEN, "another user"},
		{"a wrong PIN", "alice", "", "00000000", portico.EFORBIDDEN, "wrong"},
		{"the password of a PIN user", "alice", "alice-password", "", portico.EINVALID, "registered with a registration PIN"},
		{"both", "alice", "alice-password", second.PIN, portico.EINVALID, "not both"},
		{"neither", "alice", "", "", portico.EINVALID, "Give your password or your one-time PIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantRefused(t, recover(tt.username, tt.password, tt.pin), tt.code, tt.says)
		})
	}
	if err := recover("ALICE", "", " "+second.PIN[:4]+" "+second.PIN[4:]); err != nil {
		t.Fatalf("the newest PIN: %v", err)
	}
	wantRefused(t, recover("alice", "", second.PIN), portico.EFORBIDDEN, "already used")

	// The PIN of bob was not touched by its tries on alice's phone.
	bobsDevice := e.onDeviceOf(t, bob, portico.PlatformAndroid)
	if err := e.svc.RecoverSecureAppsPasscode(bobsDevice, "bob", "", bobs.PIN); err != nil {
		t.Errorf("bob's PIN on his own device: %v", err)
	}

	third, _ := e.svc.ResetSecureAppsPasscode(as(alice), phone.ID)
	e.clock.Advance(24*time.Hour - 16*time.Minute) // and recover moves it on to 24 hours exactly
	wantRefused(t, recover("alice", "", third.PIN), portico.EFORBIDDEN, "expired")

	entries, _ := e.svc.AuditLog(e.op, store.AuditFilter{DeviceID: phone.ID})
	if !hasAudit(entries, "secure_apps.recover", portico.ResultOK) || !hasAudit(entries, "secure_apps.recover", portico.ResultDenied) {
		t.Errorf("recoveries were not audited: %v", entries)
	}
}

// onDeviceOf registers another device of the user with a registration PIN
// and returns its agent.
func (e *env) onDeviceOf(t *testing.T, u *portico.User, p portico.Platform) context.Context {
	t.Helper()
	_, token := registerWith(t, e, u, p, true)
	return e.onDevice(t, token, "198.51.100.8")
}

func TestPasswordRecoversThePasscodeOfAPasswordUser(t *testing.T) {
	e := newEnv(t)
	e.secureAppsOn(t, nil)
	alice := e.addUser(t, "alice", false) // no portal role needed
	_, token := registerWith(t, e, alice, portico.PlatformAndroid, false)
	device := e.onDevice(t, token, "198.51.100.9")
	err := e.svc.RecoverSecureAppsPasscode(device, "alice", "", "12345678")
	wantCode(t, err, portico.EINVALID)
	err = e.svc.RecoverSecureAppsPasscode(device, "alice", "wrong-password", "")
	wantCode(t, err, portico.EFORBIDDEN)
	if err := e.svc.RecoverSecureAppsPasscode(device, "alice", "alice-password", ""); err != nil {
		t.Fatal(err)
	}
	// A password is not used up.
	if err := e.svc.RecoverSecureAppsPasscode(device, "alice", "alice-password", ""); err != nil {
		t.Fatal(err)
	}
}

// A temporary password is known to the admin who set it: it recovers no
// passcode, as it registers no device.
func TestTemporaryPasswordRecoversNoPasscode(t *testing.T) {
	e := newEnv(t)
	e.secureAppsOn(t, nil)
	alice := e.addUser(t, "alice", false)
	_, token := registerWith(t, e, alice, portico.PlatformAndroid, false)
	device := e.onDevice(t, token, "198.51.100.9")
	_, temp, err := e.svc.SetTemporaryPassword(e.op, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	err = e.svc.RecoverSecureAppsPasscode(device, "alice", temp, "")
	wantCode(t, err, portico.EFORBIDDEN)
	if msg := portico.ErrorMessage(err); !strings.Contains(msg, "choose your own password") {
		t.Errorf("message %q", msg)
	}
	entries := audit(t, e, "secure_apps.recover")
	if len(entries) != 1 || entries[0].Result != portico.ResultDenied {
		t.Errorf("audit = %+v", entries)
	}
}

func TestRecoveryFollowsThePolicyOfTheDevice(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]string
		platform portico.Platform
	}{
		{"no licence", map[string]string{"products.secure_apps": "false"}, portico.PlatformIOS},
		{"no recovery", map[string]string{"secure_apps.passcode_recovery": "false"}, portico.PlatformIOS},
		{"no passcode", map[string]string{"secure_apps.passcode_required": "false"}, portico.PlatformIOS},
		{"another platform's policy", map[string]string{"secure_apps.applies_to": "android"}, portico.PlatformIOS},
		{"a Mac", nil, portico.PlatformMacOS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.secureAppsOn(t, nil)
			alice := e.addUser(t, "alice", false, portico.RoleResetSecureAppsPasscode, portico.RoleRequestPIN)
			phone, token := registerWith(t, e, alice, portico.PlatformIOS, true)
			otp, err := e.svc.ResetSecureAppsPasscode(as(alice), phone.ID)
			if err != nil {
				t.Fatal(err)
			}
			if tt.platform != portico.PlatformIOS {
				_, token = registerWith(t, e, alice, tt.platform, true)
			}
			e.secureAppsOn(t, tt.settings)
			err = e.svc.RecoverSecureAppsPasscode(e.onDevice(t, token, "198.51.100.10"), "alice", "", otp.PIN)
			wantCode(t, err, portico.EFORBIDDEN)
			// Refused before the PIN was tried: it still works once the
			// policy allows it again.
			e.secureAppsOn(t, nil)
			if err := e.svc.RecoverSecureAppsPasscode(e.onDevice(t, token, "198.51.100.10"), "alice", "", otp.PIN); tt.platform == portico.PlatformIOS && err != nil {
				t.Errorf("after the policy allowed it again: %v", err)
			}
		})
	}
}

func TestOneTimePINUsedAtOnceWorksOnce(t *testing.T) {
	e := newEnv(t)
	e.secureAppsOn(t, nil)
	alice := e.addUser(t, "alice", false, portico.RoleResetSecureAppsPasscode, portico.RoleRequestPIN)
	phone, token := registerWith(t, e, alice, portico.PlatformIOS, true)
	otp, err := e.svc.ResetSecureAppsPasscode(as(alice), phone.ID)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		device := e.onDevice(t, token, fmt.Sprintf("203.0.113.%d", i+1))
		wg.Go(func() { errs <- e.svc.RecoverSecureAppsPasscode(device, "alice", "", otp.PIN) })
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch portico.ErrorCode(err) {
		case "":
			won++
		case portico.EFORBIDDEN, portico.ETHROTTLED:
		default:
			t.Errorf("a use at once: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d uses of one PIN at once succeeded, want 1", won)
	}
}

func TestWrongOneTimePINsAreThrottled(t *testing.T) {
	e := newEnv(t)
	e.secureAppsOn(t, nil)
	alice := e.addUser(t, "alice", false, portico.RoleResetSecureAppsPasscode, portico.RoleRequestPIN)
	phone, token := registerWith(t, e, alice, portico.PlatformIOS, true)
	otp, _ := e.svc.ResetSecureAppsPasscode(as(alice), phone.ID)
	device := e.onDevice(t, token, "198.51.100.11")
	for range 3 {
		wantCode(t, e.svc.RecoverSecureAppsPasscode(device, "alice", "", "00000000"), portico.EFORBIDDEN)
	}
	wantCode(t, e.svc.RecoverSecureAppsPasscode(device, "alice", "", otp.PIN), portico.ETHROTTLED)
	// After the wait the right PIN still works: the throttled try was never
	// checked, so it did not count against the PIN's own limit.
	e.clock.Advance(time.Minute)
	if err := e.svc.RecoverSecureAppsPasscode(device, "alice", "", otp.PIN); err != nil {
		t.Fatal(err)
	}
}

// TestTakingTheRoleStopsTheOneTimePIN: the PIN goes with the role that
// made it.
func TestTakingTheRoleStopsTheOneTimePIN(t *testing.T) {
	e := newEnv(t)
	e.secureAppsOn(t, nil)
	alice := e.addUser(t, "alice", false, portico.RoleResetSecureAppsPasscode, portico.RoleRequestPIN)
	phone, token := registerWith(t, e, alice, portico.PlatformIOS, true)
	made, err := e.svc.ResetSecureAppsPasscode(as(alice), phone.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ChangeRoles(e.op, "alice", nil, []portico.Role{portico.RoleResetSecureAppsPasscode}); err != nil {
		t.Fatal(err)
	}
	err = e.svc.RecoverSecureAppsPasscode(e.onDevice(t, token, "198.51.100.8"), "alice", "", made.PIN)
	wantCode(t, err, portico.EFORBIDDEN)
}
