package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSecureAppsPasscodeReset is the secure apps passcode reset as an
// admin sets it up and alice lives it (SPEC SECPIN-1..3): with the role, a
// licence and a policy, her iPhone offers the reset and her Mac does not;
// taking away any one of the three hides it and the server refuses; the
// one-time PIN works once from the simulator. That it stops after 24 hours
// is tried with a moved clock in internal/sim, as serve runs on the wall
// clock.
func TestSecureAppsPasscodeReset(t *testing.T) {
	data := t.TempDir()
	in := serve(t, "--data", data)
	settings := func(kv ...string) { run(t, "", append([]string{"--data", data, "settings", "set"}, kv...)...) }
	settings("registration.pin_enabled=true", "products.secure_apps=true",
		"secure_apps.passcode_required=true", "secure_apps.passcode_recovery=true", "secure_apps.applies_to=all")
	out := run(t, "", "--data", data, "user", "add", "alice", "--email", "alice@example.com",
		"--role", "request_pin", "--role", "reset_secure_apps_passcode")
	password := createdPassword.FindStringSubmatch(out)[1]
	alice := browserClient()
	if code := signIn(t, alice, in.URL, "alice", password); code != http.StatusSeeOther {
		t.Fatalf("alice's sign-in: status %d", code)
	}

	// The iPhone registers with a registration PIN, as its agent would; the
	// Mac with the password, through the simulator.
	res, err := alice.PostForm(in.URL+"/register", url.Values{"how": {"pin"}, "platform": {"ios"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := pinOnPage.FindSubmatch(page)
	if m == nil {
		t.Fatalf("requesting a registration PIN: status %d\n%s", res.StatusCode, page)
	}
	res, err = http.Post(in.URL+"/api/device/v1/register", "application/json", strings.NewReader(
		`{"username":"alice","pin":"`+string(m[1])+`","platform":"ios","device":{"name":"Alice's iPhone","model":"iPhone 15","os_version":"17.4.1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var iphone struct {
		DeviceID    int64  `json:"device_id"`
		DeviceToken string `json:"device_token"`
	}
	json.NewDecoder(res.Body).Decode(&iphone)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || iphone.DeviceToken == "" {
		t.Fatalf("registering the iPhone: status %d", res.StatusCode)
	}
	out = run(t, "", "device", "sim", "--server", in.URL, "--platform", "macos", "--user", "alice", "--password", password, "--every", "0")
	macID := registeredAs.FindStringSubmatch(out)[1]
	reset := "/devices/" + strconv.FormatInt(iphone.DeviceID, 10) + "/secure-apps-passcode"

	offered := func() bool {
		t.Helper()
		_, home := get(t, alice, in.URL+"/")
		return strings.Contains(home, `href="`+reset+`"`)
	}
	makePIN := func() (int, string) {
		t.Helper()
		res, err := alice.PostForm(in.URL+reset, url.Values{})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		page, _ := io.ReadAll(res.Body)
		if m := pinOnPage.FindSubmatch(page); m != nil {
			return res.StatusCode, string(m[1])
		}
		return res.StatusCode, string(page)
	}

	if !offered() {
		t.Fatal("with the role, a licence and a policy, the iPhone does not offer the reset")
	}
	if _, mac := get(t, alice, in.URL+"/devices/"+macID); strings.Contains(mac, "secure-apps-passcode") {
		t.Error("the Mac offers the reset")
	}
	if code, _ := get(t, alice, in.URL+"/devices/"+macID+"/secure-apps-passcode"); code != http.StatusForbidden {
		t.Errorf("the Mac's reset page: status %d, want 403", code)
	}
	if code, first := get(t, alice, in.URL+reset); code != http.StatusOK || !strings.Contains(first, "Make a one-time PIN") {
		t.Fatalf("the first step: status %d\n%s", code, first)
	}
	code, pin := makePIN()
	if code != http.StatusOK || len(pin) != 8 {
		t.Fatalf("making the one-time PIN: status %d\n%s", code, pin)
	}

	recover := func(pin string) (string, bool) {
		t.Helper()
		args := []string{"device", "sim", "--server", in.URL, "--platform", "ios", "--user", "alice",
			"--device-token", iphone.DeviceToken, "--pin", pin, "--recover-passcode"}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, portico, args...).CombinedOutput()
		return string(out), err == nil
	}

	// Take each condition away in turn: the reset disappears, the portal
	// refuses it, and so does the device where the policy is the reason.
	conditions := []struct {
		name, off, on string
		device        bool
	}{
		{"the role", "revoke", "grant", false},
		{"the licence", "products.secure_apps=false", "products.secure_apps=true", true},
		{"the policy's recovery", "secure_apps.passcode_recovery=false", "secure_apps.passcode_recovery=true", true},
		{"the policy's passcode", "secure_apps.passcode_required=false", "secure_apps.passcode_required=true", true},
		{"the policy's platform", "secure_apps.applies_to=android", "secure_apps.applies_to=all", true},
	}
	for _, c := range conditions {
		t.Run("without "+c.name, func(t *testing.T) {
			if c.off == "revoke" {
				run(t, "", "--data", data, "user", "roles", "alice", "--revoke", "reset_secure_apps_passcode")
				defer run(t, "", "--data", data, "user", "roles", "alice", "--grant", "reset_secure_apps_passcode")
			} else {
				settings(c.off)
				defer settings(c.on)
			}
			if offered() {
				t.Error("the reset is still offered")
			}
			if code, body := makePIN(); code != http.StatusForbidden || len(body) == 8 {
				t.Errorf("making a PIN: status %d, want 403", code)
			}
			if c.device {
				if out, ok := recover(pin); ok || !strings.Contains(out, "policy") {
					t.Errorf("the device recovered without %s: %s", c.name, out)
				}
			}
		})
	}

	if !offered() {
		t.Fatal("with every condition back, the reset is not offered")
	}
	// Taking the role away stopped the PIN made before: the device refuses
	// it, and a new one must be made.
	if out, ok := recover(pin); ok {
		t.Errorf("a PIN made before the role was taken away still works: %s", out)
	}
	if code, body := makePIN(); code != http.StatusOK {
		t.Fatalf("making a new PIN: status %d", code)
	} else {
		pin = body
	}
	if out, ok := recover(pin); !ok || !strings.Contains(out, "Recovered the secure apps passcode for alice") {
		t.Fatalf("the one-time PIN from the simulator: %s", out)
	}
	if out, ok := recover(pin); ok || !strings.Contains(out, "already used") {
		t.Errorf("the one-time PIN worked twice, or failed without saying why: %s", out)
	}
	// A new PIN replaces one not yet used.
	_, replaced := makePIN()
	_, newest := makePIN()
	if out, ok := recover(replaced); ok || !strings.Contains(out, "Only the newest PIN") {
		t.Errorf("a replaced PIN: %s", out)
	}
	// Three refused tries in a row make the next one wait a second, as
	// failed sign-ins do.
	time.Sleep(1500 * time.Millisecond)
	if out, ok := recover(newest); !ok {
		t.Errorf("the newest PIN: %s", out)
	}
	admin := browserClient()
	signIn(t, admin, in.URL, "admin", in.AdminPassword)
	if _, audit := get(t, admin, in.URL+"/admin/audit"); !strings.Contains(audit, "secure_apps.recover") || !strings.Contains(audit, "secure_apps.pin") {
		t.Errorf("the audit log lacks the reset:\n%s", audit)
	}
}
