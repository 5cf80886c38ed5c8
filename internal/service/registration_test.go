package service_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
)

var pixel = portico.DeviceDetails{Name: "Pixel", Model: "Pixel 8", Manufacturer: "Google", OSVersion: "14.0.0"}

func (e *env) switchOn(t *testing.T, keys ...string) {
	t.Helper()
	values := map[string]string{}
	for _, k := range keys {
		values[k] = "true"
	}
	if err := e.svc.SetSettings(e.op, values); err != nil {
		t.Fatal(err)
	}
}

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("t") == "" {
		t.Fatalf("link %q has no token", link)
	}
	return u.Query().Get("t")
}

func TestStartRegistrationNeedsRoleAndSwitch(t *testing.T) {
	e := newEnv(t)
	none := e.addUser(t, "none", false)
	all := e.addUser(t, "all", false, portico.RoleRegisterDevice, portico.RoleRequestPIN, portico.RoleGenerateQR)
	kinds := []portico.InvitationKind{portico.InviteByMessage, portico.InviteWithPIN, portico.InviteByQR}
	for _, k := range kinds {
		_, err := e.svc.StartRegistration(as(none), k, portico.PlatformIOS)
		wantCode(t, err, portico.EFORBIDDEN)
	}
	if _, err := e.svc.StartRegistration(as(all), portico.InviteByMessage, portico.PlatformIOS); err != nil {
		t.Errorf("an invitation needs only the role: %v", err)
	}
	for _, k := range kinds[1:] { // PIN and QR need their switch too (SPEC SWITCH)
		_, err := e.svc.StartRegistration(as(all), k, portico.PlatformIOS)
		wantCode(t, err, portico.EFORBIDDEN)
	}
	caps, _ := e.svc.Capabilities(as(all))
	if caps != (portico.Capabilities{Invite: true}) {
		t.Errorf("capabilities with the switches off: %+v", caps)
	}
	e.switchOn(t, "registration.pin_enabled", "registration.qr_enabled")
	for _, k := range kinds[1:] {
		if _, err := e.svc.StartRegistration(as(all), k, portico.PlatformIOS); err != nil {
			t.Errorf("%s with its switch on: %v", k, err)
		}
	}
	_, err := e.svc.StartRegistration(as(all), portico.InviteByMessage, "palm")
	wantCode(t, err, portico.EINVALID)
	_, err = e.svc.StartRegistration(context.Background(), portico.InviteByMessage, portico.PlatformIOS)
	wantCode(t, err, portico.EUNAUTHENTICATED)
}

func TestInvitationIsSentAndShowsPending(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false, portico.RoleRegisterDevice)
	started, err := e.svc.StartRegistration(as(alice), portico.InviteByMessage, portico.PlatformIOS)
	if err != nil {
		t.Fatal(err)
	}
	if started.PIN != "" || len(started.SentTo) != 1 || started.SentTo[0] != "alice@example.com" {
		t.Errorf("started = %+v", started)
	}
	msgs, _ := e.db.ListMessages(context.Background(), store.MessageFilter{})
	if len(msgs) != 1 || msgs[0].Channel != portico.ChannelMail || !strings.Contains(msgs[0].Text, started.Link) ||
		!strings.Contains(msgs[0].Text, "Profile Downloaded") || msgs[0].Subject != "Register your iPhone with Portico" {
		t.Fatalf("messages = %+v", msgs)
	}
	devices, _ := e.svc.MyDevices(as(alice))
	if len(devices) != 1 || devices[0].Status != portico.StatusPending || devices[0].ID != started.Invitation.DeviceID {
		t.Fatalf("devices = %+v", devices)
	}
	entries, _ := e.svc.AuditLog(e.op, store.AuditFilter{Actor: "alice"})
	if len(entries) != 1 || entries[0].Action != "registration.start" || strings.Contains(entries[0].Detail, tokenOf(t, started.Link)) {
		t.Errorf("audit = %+v", entries)
	}
}

func TestPINRegistrationActivatesThePendingDevice(t *testing.T) {
	e := newEnv(t)
	e.switchOn(t, "registration.pin_enabled")
	u, _, err := e.svc.CreateUser(e.op, service.NewUser{User: portico.User{
		Username: "alice", Email: "alice@example.com", Phone: "+1 555 0100", Roles: []portico.Role{portico.RoleRequestPIN},
	}, Password: "alice-password"})
	if err != nil {
		t.Fatal(err)
	}
	started, err := e.svc.StartRegistration(as(u), portico.InviteWithPIN, portico.PlatformAndroid)
	if err != nil {
		t.Fatal(err)
	}
	if len(started.PIN) != 8 || len(started.SentTo) != 2 {
		t.Fatalf("started = %+v", started)
	}
	sms, _ := e.db.ListMessages(context.Background(), store.MessageFilter{Channel: portico.ChannelSMS})
	if len(sms) != 1 || sms[0].To != "+1 555 0100" || !strings.Contains(sms[0].Text, started.PIN) {
		t.Errorf("SMS = %+v", sms)
	}

	register := func(r service.Registration) (*portico.Device, error) {
		r.Username, r.Platform, r.Details = "alice", portico.PlatformAndroid, pixel
		d, _, err := e.svc.RegisterDevice(from("198.51.100.7"), r)
		return d, err
	}
	_, err = register(service.Registration{Password: "alice-password", Token: tokenOf(t, started.Link)})
	wantCode(t, err, portico.EUNAUTHENTICATED) // a PIN was issued: it is required
	_, err = register(service.Registration{PIN: "00000000"})
	wantCode(t, err, portico.EUNAUTHENTICATED)
	d, err := register(service.Registration{PIN: started.PIN[:4] + " " + started.PIN[4:]})
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != started.Invitation.DeviceID || d.Status != portico.StatusActive || d.Details != pixel {
		t.Errorf("registered %+v, want the pending device %d made active", d, started.Invitation.DeviceID)
	}
	devices, _ := e.svc.MyDevices(as(u))
	if len(devices) != 1 {
		t.Errorf("%d devices after completing a registration, want 1", len(devices))
	}
	_, err = register(service.Registration{PIN: started.PIN})
	wantCode(t, err, portico.EUNAUTHENTICATED) // single use
	_, err = register(service.Registration{PIN: started.PIN, Token: tokenOf(t, started.Link)})
	wantCode(t, err, portico.ECONFLICT)
	if !strings.Contains(portico.ErrorMessage(err), "already used") {
		t.Errorf("a used link says %q", portico.ErrorMessage(err))
	}
}

func TestPINStopsAfterFiveWrongTries(t *testing.T) {
	e := newEnv(t)
	e.switchOn(t, "registration.pin_enabled")
	alice := e.addUser(t, "alice", false, portico.RoleRequestPIN)
	started, _ := e.svc.StartRegistration(as(alice), portico.InviteWithPIN, portico.PlatformIOS)
	token := tokenOf(t, started.Link)
	for i := range portico.MaxPINAttempts {
		// From a new address each time: the limit is the registration's own.
		_, _, err := e.svc.RegisterDevice(from("203.0.113."+string(rune('1'+i))), service.Registration{
			Username: "alice", PIN: "11111111", Token: token, Platform: portico.PlatformIOS,
		})
		wantCode(t, err, portico.EUNAUTHENTICATED)
	}
	_, _, err := e.svc.RegisterDevice(from("203.0.113.99"), service.Registration{
		Username: "alice", PIN: started.PIN, Token: token, Platform: portico.PlatformIOS,
	})
	wantCode(t, err, portico.EUNAUTHENTICATED)
	if !strings.Contains(portico.ErrorMessage(err), "stopped working") {
		t.Errorf("after five wrong PINs the right one says %q", portico.ErrorMessage(err))
	}
}

func TestRegistrationLinks(t *testing.T) {
	e := newEnv(t)
	e.switchOn(t, "registration.qr_enabled")
	alice := e.addUser(t, "alice", false, portico.RoleGenerateQR, portico.RoleRegisterDevice)
	e.addUser(t, "bob", false)
	qr, err := e.svc.StartRegistration(as(alice), portico.InviteByQR, portico.PlatformIOS)
	if err != nil {
		t.Fatal(err)
	}
	if msgs, _ := e.db.ListMessages(context.Background(), store.MessageFilter{}); len(msgs) != 0 {
		t.Errorf("a QR code sent %d messages", len(msgs))
	}
	token := tokenOf(t, qr.Link)
	register := func(user, password, token string) error {
		_, _, err := e.svc.RegisterDevice(from("192.0.2.80"), service.Registration{
			Username: user, Password: password, Token: token, Platform: portico.PlatformIOS,
		})
		return err
	}
	tests := []struct {
		name, user, password, token, code, says string
	}{
		{"unknown token", "alice", "alice-password", "forged", portico.EUNAUTHENTICATED, "not valid"},
		{"another user's link", "bob", "bob-password", token, portico.EFORBIDDEN, "another user"},
		{"wrong password", "alice", "nope", token, portico.EUNAUTHENTICATED, "wrong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := register(tt.user, tt.password, tt.token)
			wantCode(t, err, tt.code)
			if !strings.Contains(portico.ErrorMessage(err), tt.says) {
				t.Errorf("message %q lacks %q", portico.ErrorMessage(err), tt.says)
			}
		})
	}

	// Resending makes a new link; the old one stops working.
	again, err := e.svc.ResendRegistration(as(alice), qr.Invitation.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, register("alice", "alice-password", token), portico.EUNAUTHENTICATED)
	if err := register("alice", "alice-password", tokenOf(t, again.Link)); err != nil {
		t.Fatalf("the new link: %v", err)
	}

	// Cancelled and expired links each say so.
	cancelled, _ := e.svc.StartRegistration(as(alice), portico.InviteByMessage, portico.PlatformIOS)
	if err := e.svc.CancelRegistration(as(alice), cancelled.Invitation.ID); err != nil {
		t.Fatal(err)
	}
	err = register("alice", "alice-password", tokenOf(t, cancelled.Link))
	if wantCode(t, err, portico.ECONFLICT); !strings.Contains(portico.ErrorMessage(err), "cancelled") {
		t.Errorf("a cancelled link says %q", portico.ErrorMessage(err))
	}
	expiring, _ := e.svc.StartRegistration(as(alice), portico.InviteByMessage, portico.PlatformIOS)
	e.clock.Advance(8 * 24 * time.Hour)
	if devices, _ := e.svc.MyDevices(as(alice)); len(devices) != 1 {
		t.Errorf("an expired registration's pending device is still listed before housekeeping: %d devices", len(devices))
	}
	err = register("alice", "alice-password", tokenOf(t, expiring.Link))
	if wantCode(t, err, portico.ECONFLICT); !strings.Contains(portico.ErrorMessage(err), "expired") {
		t.Errorf("an expired link says %q", portico.ErrorMessage(err))
	}
	if err := e.svc.Housekeep(context.Background()); err != nil {
		t.Fatal(err)
	}
	devices, _ := e.svc.MyDevices(as(alice))
	if len(devices) != 1 || devices[0].Status != portico.StatusActive {
		t.Errorf("after cancel and expiry alice has %d devices; want only the registered one", len(devices))
	}
}

func TestCancelAndResendOnlyYourOwn(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false, portico.RoleRegisterDevice)
	bob := e.addUser(t, "bob", false, portico.RoleRegisterDevice)
	started, _ := e.svc.StartRegistration(as(alice), portico.InviteByMessage, portico.PlatformMacOS)
	wantCode(t, e.svc.CancelRegistration(as(bob), started.Invitation.ID), portico.ENOTFOUND)
	_, err := e.svc.ResendRegistration(as(bob), started.Invitation.ID)
	wantCode(t, err, portico.ENOTFOUND)
	if err := e.svc.CancelRegistration(as(alice), started.Invitation.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, e.svc.CancelRegistration(as(alice), started.Invitation.ID), portico.ENOTFOUND)
}

func TestPasswordRegistrationCompletesAMatchingInvitation(t *testing.T) {
	e := newEnv(t)
	if err := e.svc.SetSettings(e.op, map[string]string{"registration.default_ownership": "company"}); err != nil {
		t.Fatal(err)
	}
	alice := e.addUser(t, "alice", false, portico.RoleRegisterDevice)
	mac, _ := e.svc.StartRegistration(as(alice), portico.InviteByMessage, portico.PlatformMacOS)
	d, _, err := e.svc.RegisterDevice(from("192.0.2.5"), service.Registration{
		Username: "alice", Password: "alice-password", Platform: portico.PlatformMacOS,
		Details: portico.DeviceDetails{Model: "MacBook Air", OSVersion: "14.4.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != mac.Invitation.DeviceID || d.Ownership != portico.OwnershipCompany {
		t.Errorf("registered %+v; want the pending Mac, owned by the company", d)
	}
}

func TestOpenRegistration(t *testing.T) {
	e := newEnv(t)
	e.switchOn(t, "registration.qr_enabled")
	if err := e.svc.SetSettings(e.op, map[string]string{"registration.android_agent_url": "https://play.example/store/apps/details?id=agent"}); err != nil {
		t.Fatal(err)
	}
	alice := e.addUser(t, "alice", false, portico.RoleGenerateQR)
	qr, _ := e.svc.StartRegistration(as(alice), portico.InviteByQR, portico.PlatformAndroid)
	token := tokenOf(t, qr.Link)
	steps, err := e.svc.OpenRegistration(from("192.0.2.9"), "alice", "alice-password", "", "", token, "")
	if err != nil {
		t.Fatal(err)
	}
	agent, _ := url.Parse(steps.AgentURL)
	if steps.Platform != portico.PlatformAndroid || agent.Query().Get("id") != "agent" || agent.Query().Get("referrer") != "portico_token="+token {
		t.Errorf("steps = %+v", steps)
	}
	steps, err = e.svc.OpenRegistration(from("192.0.2.9"), "alice", "alice-password", "", "", "", portico.PlatformIOS)
	if err != nil || steps.AgentURL != "" || !strings.Contains(steps.Instructions, "Profile Downloaded") {
		t.Errorf("steps without a link = %+v, %v", steps, err)
	}
	steps, err = e.svc.OpenRegistration(from("192.0.2.9"), "alice", "alice-password", "", "", "", portico.PlatformWindows)
	if err != nil || steps.AgentURL != "" {
		t.Errorf("Windows steps before a download is set = %+v, %v", steps, err)
	}
	if err := e.svc.SetSettings(e.op, map[string]string{"registration.windows_agent_url": "https://downloads.example/agent.msi"}); err != nil {
		t.Fatal(err)
	}
	steps, err = e.svc.OpenRegistration(from("192.0.2.9"), "alice", "alice-password", "", "", token, portico.PlatformWindows)
	if err != nil || steps.AgentURL != "https://downloads.example/agent.msi" || !strings.Contains(steps.Instructions, "Windows PC") {
		t.Errorf("Windows steps = %+v, %v", steps, err)
	}
	_, err = e.svc.OpenRegistration(from("192.0.2.9"), "alice", "wrong", "", "", token, "")
	wantCode(t, err, portico.EUNAUTHENTICATED)
	if devices, _ := e.svc.MyDevices(as(alice)); len(devices) != 1 || devices[0].Status != portico.StatusPending {
		t.Error("opening the registration page completed the registration")
	}
}
