package service_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
)

const providerSecret = "0123456789abcdef0123456789abcdef-provider"

// withProvider configures the derived-credential provider and PIN
// registration, and returns alice, who may request a PIN.
func withProvider(t *testing.T, e *env) *portico.User {
	t.Helper()
	configureProvider(t, e)
	return e.addUser(t, "alice", false, portico.RoleRequestPIN, portico.RoleRegisterDevice)
}

func configureProvider(t *testing.T, e *env) {
	t.Helper()
	check(t, e.svc.SetSettings(e.op, map[string]string{
		"derived.provider": "Company ID", "derived.url": "https://id.example/self-service?lang=en",
		"derived.secret": providerSecret, "registration.pin_enabled": "true",
	}))
}

func startPIN(t *testing.T, e *env, u *portico.User, p portico.Platform) *portico.Invitation {
	t.Helper()
	started, err := e.svc.StartRegistration(as(u), portico.InviteWithPIN, p)
	if err != nil {
		t.Fatal(err)
	}
	return started.Invitation
}

// requestState starts a trip to the provider and returns its state.
func requestState(t *testing.T, e *env, u *portico.User, inv *portico.Invitation) string {
	t.Helper()
	trip, err := e.svc.RequestDerivedCredential(as(u), inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(trip.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := target.Query()
	if target.Host != "id.example" || target.Path != "/self-service" || q.Get("lang") != "en" ||
		q.Get("return_url") != "/"+service.DerivedReturnPath || len(q.Get("state")) < 43 || trip.Provider != "Company ID" {
		t.Fatalf("trip = %+v", trip)
	}
	return q.Get("state")
}

func signed(state, result string) service.DerivedAnswer {
	return service.DerivedAnswer{State: state, Result: result, Signature: service.DerivedSignature(providerSecret, state, result)}
}

func offer(t *testing.T, e *env, u *portico.User, inv *portico.Invitation) service.DerivedOffer {
	t.Helper()
	o, err := e.svc.DerivedCredentialOffer(as(u), inv)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestDerivedCredentialOfferedOnlyWhereAllowed(t *testing.T) {
	e := newEnv(t)
	alice := withProvider(t, e)
	bob := e.addUser(t, "bob", false, portico.RoleRequestPIN)
	for _, p := range []portico.Platform{portico.PlatformIOS, portico.PlatformIPadOS, portico.PlatformAndroid} {
		if o := offer(t, e, alice, startPIN(t, e, alice, p)); !o.Offered || o.Issued || o.Provider != "Company ID" {
			t.Errorf("%s: offer %+v", p, o)
		}
	}
	e.clock.Advance(time.Second)
	mac := startPIN(t, e, bob, portico.PlatformMacOS)
	windows := startPIN(t, e, bob, portico.PlatformWindows)
	phone := startPIN(t, e, bob, portico.PlatformIOS)
	carol := e.addUser(t, "carol", false, portico.RoleRegisterDevice)
	carols, err := e.svc.StartRegistration(as(carol), portico.InviteByMessage, portico.PlatformIOS)
	check(t, err)

	tests := []struct {
		name     string
		settings map[string]string
		user     *portico.User
		inv      *portico.Invitation
		code     string
	}{
		{"a Mac", nil, bob, mac, portico.EINVALID},
		{"a Windows PC", nil, bob, windows, portico.EINVALID},
		{"another user's registration", nil, alice, phone, portico.ENOTFOUND},
		{"no provider name", map[string]string{"derived.provider": ""}, bob, phone, portico.EFORBIDDEN},
		{"no provider address", map[string]string{"derived.url": ""}, bob, phone, portico.EFORBIDDEN},
		{"no shared secret", map[string]string{"derived.secret": ""}, bob, phone, portico.EFORBIDDEN},
		{"PIN registration off", map[string]string{"registration.pin_enabled": "false"}, bob, phone, portico.EFORBIDDEN},
		{"without the role to request a PIN", nil, carol, carols.Invitation, portico.EFORBIDDEN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.settings != nil {
				check(t, e.svc.SetSettings(e.op, tt.settings))
				defer configureProvider(t, e)
			}
			if o := offer(t, e, tt.user, tt.inv); o.Offered {
				t.Errorf("offered: %+v", o)
			}
			_, err := e.svc.RequestDerivedCredential(as(tt.user), tt.inv.ID)
			wantCode(t, err, tt.code)
		})
	}
	// An ended registration offers nothing.
	check(t, e.svc.CancelRegistration(as(bob), phone.ID))
	_, err = e.svc.RequestDerivedCredential(as(bob), phone.ID)
	wantCode(t, err, portico.ENOTFOUND)
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDerivedCredentialRoundTrip(t *testing.T) {
	e := newEnv(t)
	alice := withProvider(t, e)
	inv := startPIN(t, e, alice, portico.PlatformIOS)

	// A failure is said plainly, and the user may try again.
	res, err := e.svc.ReturnDerivedCredential(as(alice), signed(requestState(t, e, alice, inv), service.DerivedResultFailure))
	check(t, err)
	if res.Succeeded || res.Provider != "Company ID" || res.Device != "iPhone" {
		t.Errorf("failure = %+v", res)
	}
	if offer(t, e, alice, inv).Issued {
		t.Error("a failure counts as issued")
	}

	res, err = e.svc.ReturnDerivedCredential(as(alice), signed(requestState(t, e, alice, inv), service.DerivedResultSuccess))
	check(t, err)
	if !res.Succeeded {
		t.Errorf("success = %+v", res)
	}
	if o := offer(t, e, alice, inv); !o.Offered || !o.Issued {
		t.Errorf("after a success the offer is %+v, want issued", o)
	}
	_, err = e.svc.RequestDerivedCredential(as(alice), inv.ID)
	wantCode(t, err, portico.ECONFLICT)

	entries, _ := e.svc.AuditLog(e.op, store.AuditFilter{Actor: "alice"})
	var actions []string
	for _, en := range entries {
		if strings.HasPrefix(en.Action, "derived.") {
			actions = append(actions, en.Action+" "+en.Result)
			if en.DeviceID != inv.DeviceID {
				t.Errorf("%s names device %d, want %d", en.Action, en.DeviceID, inv.DeviceID)
			}
		}
	}
	want := "derived.request denied|derived.return ok|derived.request ok|derived.return failed|derived.request ok"
	if got := strings.Join(actions, "|"); got != want {
		t.Errorf("audit = %s, want %s", got, want)
	}
}

func TestDerivedReturnRefusals(t *testing.T) {
	e := newEnv(t)
	alice := withProvider(t, e)
	bob := e.addUser(t, "bob", false, portico.RoleRequestPIN)
	inv := startPIN(t, e, alice, portico.PlatformAndroid)
	state := requestState(t, e, alice, inv)
	bobsState := requestState(t, e, bob, startPIN(t, e, bob, portico.PlatformIOS))
	used := requestState(t, e, alice, inv)
	check(t, func() error {
		_, err := e.svc.ReturnDerivedCredential(as(alice), signed(used, service.DerivedResultFailure))
		return err
	}())

	good := signed(state, service.DerivedResultSuccess)
	forged := good
	forged.Signature = service.DerivedSignature("another-secret-of-thirty-two-characters", state, "success")
	flipped := good
	flipped.Result = service.DerivedResultFailure
	short := good
	short.Signature = good.Signature[:60]
	tests := []struct {
		name   string
		ctx    context.Context
		answer service.DerivedAnswer
		code   string
		says   string
	}{
		{"forged signature", as(alice), forged, portico.EFORBIDDEN, "signature"},
		{"result changed after signing", as(alice), flipped, portico.EFORBIDDEN, "signature"},
		{"signature cut short", as(alice), short, portico.EFORBIDDEN, "signature"},
		{"signature not hexadecimal", as(alice), service.DerivedAnswer{State: state, Result: "success", Signature: "zz"}, portico.EFORBIDDEN, "signature"},
		{"no signature", as(alice), service.DerivedAnswer{State: state, Result: "success"}, portico.EINVALID, "incomplete"},
		{"no state", as(alice), signed("", "success"), portico.EINVALID, "incomplete"},
		{"unknown result", as(alice), signed(state, "maybe"), portico.EINVALID, "incomplete"},
		{"unknown state", as(alice), signed("no-such-state", "success"), portico.ENOTFOUND, "names no request"},
		{"another user's state", as(alice), signed(bobsState, "success"), portico.EFORBIDDEN, "another user"},
		{"a used state", as(alice), signed(used, "success"), portico.ECONFLICT, "already used"},
		{"not signed in", context.Background(), good, portico.EUNAUTHENTICATED, "sign in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.ReturnDerivedCredential(tt.ctx, tt.answer)
			wantCode(t, err, tt.code)
			if msg := portico.ErrorMessage(err); !strings.Contains(strings.ToLower(msg), tt.says) {
				t.Errorf("message %q does not say %q", msg, tt.says)
			}
			if offer(t, e, alice, inv).Issued {
				t.Fatal("a refused return issued a credential")
			}
		})
	}
	entries, _ := e.svc.AuditLog(e.op, store.AuditFilter{})
	denied := 0
	for _, en := range entries {
		if en.Action == "derived.return" && en.Result == portico.ResultDenied {
			denied++
		}
	}
	if denied != len(tests) {
		t.Errorf("%d refusals audited, want %d", denied, len(tests))
	}

	// Every refusal left the state as it was: it still works, once.
	if _, err := e.svc.ReturnDerivedCredential(as(alice), good); err != nil {
		t.Fatalf("the state stopped working after refusals: %v", err)
	}
	_, err := e.svc.ReturnDerivedCredential(as(alice), good)
	wantCode(t, err, portico.ECONFLICT)
	// bob's state is still bob's.
	if _, err := e.svc.ReturnDerivedCredential(as(bob), signed(bobsState, "success")); err != nil {
		t.Errorf("bob's own return after alice tried it: %v", err)
	}
}

func TestDerivedStateExpires(t *testing.T) {
	e := newEnv(t)
	alice := withProvider(t, e)
	inv := startPIN(t, e, alice, portico.PlatformIOS)
	state := requestState(t, e, alice, inv)
	e.clock.Advance(service.DerivedStateLifetime)
	_, err := e.svc.ReturnDerivedCredential(as(alice), signed(state, "success"))
	wantCode(t, err, portico.ECONFLICT)
	if !strings.Contains(portico.ErrorMessage(err), "expired") {
		t.Errorf("message %q does not say it expired", portico.ErrorMessage(err))
	}
	if offer(t, e, alice, inv).Issued {
		t.Error("an expired state issued a credential")
	}
	e.clock.Advance(time.Second)
	check(t, e.svc.Housekeep(e.op))
	_, err = e.svc.ReturnDerivedCredential(as(alice), signed(state, "success"))
	wantCode(t, err, portico.ENOTFOUND) // housekeeping forgot it
}

// TestDerivedReturnOnceInParallel replays one return from many browsers at
// the same moment: exactly one is recorded.
func TestDerivedReturnOnceInParallel(t *testing.T) {
	e := newEnv(t)
	alice := withProvider(t, e)
	answer := signed(requestState(t, e, alice, startPIN(t, e, alice, portico.PlatformIOS)), "success")
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := e.svc.ReturnDerivedCredential(as(alice), answer)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch portico.ErrorCode(err) {
		case "":
			won++
		case portico.ECONFLICT:
		default:
			t.Errorf("a parallel return failed: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d parallel returns were recorded, want 1", won, n)
	}
	entries, _ := e.svc.AuditLog(e.op, store.AuditFilter{Actor: "alice"})
	ok := 0
	for _, en := range entries {
		if en.Action == "derived.return" && en.Result == portico.ResultOK {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("%d successful returns audited, want 1", ok)
	}
}

func TestDerivedSettingsChecked(t *testing.T) {
	e := newEnv(t)
	for key, bad := range map[string][]string{
		"derived.url":    {"ftp://id.example/", "http://id.example/", "https://id.example/#x", "id.example"},
		"derived.secret": {"too-short", strings.Repeat("x", 31), "two\nlines-0123456789abcdef0123456789"},
	} {
		for _, v := range bad {
			err := e.svc.SetSettings(e.op, map[string]string{key: v})
			wantCode(t, err, portico.EINVALID)
		}
	}
	for key, good := range map[string]string{
		"derived.url":    "http://127.0.0.1:8443/piv",
		"derived.secret": strings.Repeat("x", 32),
	} {
		check(t, e.svc.SetSettings(e.op, map[string]string{key: good}))
	}
	v, _ := e.svc.Settings(e.op)
	if v.Get("derived.secret") == strings.Repeat("x", 32) {
		t.Error("the shared secret is shown")
	}
}

// TestDerivedSignatureMatchesTheDocs keeps the example of
// docs/derived-credentials.md, which integrators check against, true.
func TestDerivedSignatureMatchesTheDocs(t *testing.T) {
	got := service.DerivedSignature("0123456789abcdef0123456789abcdef", "u1b7Zt0w7Qy3p0-S6vQe0Qk4g8JXb2mXz1c8S5d3QwE", "success")
	if want := "02ef470efbde96a3c340658a3d1cc61f68d2a62579ae3cb54b78324789a6d347"; got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
}

// TestDerivedOnlyForOpenPINRegistrations: a registration by link or QR code
// offers no derived credential, and an answer that arrives after its
// registration was cancelled records nothing.
func TestDerivedOnlyForOpenPINRegistrations(t *testing.T) {
	e := newEnv(t)
	alice := withProvider(t, e)
	byLink, err := e.svc.StartRegistration(as(alice), portico.InviteByMessage, portico.PlatformAndroid)
	check(t, err)
	if o := offer(t, e, alice, byLink.Invitation); o.Offered {
		t.Errorf("a registration without a PIN offers a derived credential: %+v", o)
	}
	_, err = e.svc.RequestDerivedCredential(as(alice), byLink.Invitation.ID)
	wantCode(t, err, portico.EINVALID)

	inv := startPIN(t, e, alice, portico.PlatformIOS)
	state := requestState(t, e, alice, inv)
	check(t, e.svc.CancelRegistration(as(alice), inv.ID))
	_, err = e.svc.ReturnDerivedCredential(as(alice), signed(state, service.DerivedResultSuccess))
	wantCode(t, err, portico.ECONFLICT)
	if !strings.Contains(portico.ErrorMessage(err), "has ended") {
		t.Errorf("an answer for a cancelled registration says %q", portico.ErrorMessage(err))
	}
}
