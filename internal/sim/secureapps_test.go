package sim_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/sim"
)

// TestRecoverPasscodeWithAOneTimePIN: a device registered with a
// registration PIN recovers its secure apps passcode with the one-time
// PIN, once, and not after 24 hours.
func TestRecoverPasscodeWithAOneTimePIN(t *testing.T) {
	e := servertest.New(t)
	err := e.Service.SetSettings(e.Op, map[string]string{
		"registration.pin_enabled": "true", "products.secure_web": "true",
		"secure_apps.passcode_required": "true", "secure_apps.passcode_recovery": "true",
	})
	if err != nil {
		t.Fatal(err)
	}
	alice := e.AddUser("alice", false, portico.RoleRequestPIN, portico.RoleResetSecureAppsPasscode)
	asAlice := portico.NewContextWithActor(context.Background(), portico.Actor{User: alice})
	started, err := e.Service.StartRegistration(asAlice, portico.InviteWithPIN, portico.PlatformIOS)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d := sim.New(sim.Config{Server: e.URL, Platform: portico.PlatformIOS, Username: "alice", PIN: started.PIN,
		Details: portico.DeviceDetails{Name: "Alice's iPhone"}})
	if err := d.Register(ctx); err != nil {
		t.Fatal(err)
	}
	refused := func(err error, says string) {
		t.Helper()
		var se *sim.Error
		if !errors.As(err, &se) || se.Status != http.StatusForbidden || !strings.Contains(se.Message, says) {
			t.Errorf("error %v, want a 403 that says %q", err, says)
		}
	}

	otp, err := e.Service.ResetSecureAppsPasscode(asAlice, d.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.RecoverPasscode(ctx, "", otp.PIN); err != nil {
		t.Fatalf("the one-time PIN: %v", err)
	}
	refused(d.RecoverPasscode(ctx, "", otp.PIN), "already used")

	otp, _ = e.Service.ResetSecureAppsPasscode(asAlice, d.ID())
	e.Clock.Advance(24 * time.Hour)
	refused(d.RecoverPasscode(ctx, "", otp.PIN), "expired")
	if _, err := d.Checkin(ctx); err != nil {
		t.Errorf("after refusals the device's token must still work: %v", err)
	}
}

func TestRecoverPasscodeWithThePassword(t *testing.T) {
	s := newServer(t)
	if err := s.Service.SetSettings(s.Op, map[string]string{
		"products.secure_apps": "true", "secure_apps.passcode_required": "true", "secure_apps.passcode_recovery": "true",
	}); err != nil {
		t.Fatal(err)
	}
	d := s.device(portico.PlatformAndroid, servertest.Password("alice"))
	if err := d.RecoverPasscode(context.Background(), servertest.Password("alice"), ""); err == nil {
		t.Error("a device that has not registered recovered a passcode")
	}
	if err := d.Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.RecoverPasscode(context.Background(), servertest.Password("alice"), ""); err != nil {
		t.Fatal(err)
	}
}
