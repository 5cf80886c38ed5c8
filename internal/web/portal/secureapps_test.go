package portal_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/deviceapi"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/store"
)

var oneTimePIN = regexp.MustCompile(`class="pin secret"[^>]*>(\d{8})<`)

func secureAppsOn(t *testing.T, e *servertest.Env, changes map[string]string) {
	t.Helper()
	values := map[string]string{"products.secure_apps": "true", "secure_apps.passcode_required": "true", "secure_apps.passcode_recovery": "true"}
	for k, v := range changes {
		values[k] = v
	}
	if err := e.Service.SetSettings(e.Op, values); err != nil {
		t.Fatal(err)
	}
}

func TestResetSecureAppsPasscodeInTwoSteps(t *testing.T) {
	e := servertest.New(t)
	secureAppsOn(t, e, nil)
	e.AddUser("alice", false, portico.RoleResetSecureAppsPasscode)
	phone, token := e.RegisterDevice("alice", portico.PlatformIOS, iPhone)
	mac, _ := e.RegisterDevice("alice", portico.PlatformMacOS, portico.DeviceDetails{Name: "Alice's Mac"})
	alice := e.SignIn("alice")
	path := "/devices/" + itoa(phone.ID) + "/secure-apps-passcode"

	home := e.Get(alice, "/").Body
	if strings.Count(home, "Reset secure apps passcode") != 1 || !strings.Contains(home, `href="`+path+`"`) {
		t.Errorf("the home page does not offer the reset on the iPhone alone:\n%s", home)
	}
	if page := e.Get(alice, "/devices/"+itoa(mac.ID)).Body; strings.Contains(page, "secure-apps-passcode") {
		t.Error("the Mac's page offers the reset")
	}
	if page := e.Get(alice, "/devices/"+itoa(phone.ID)).Body; !strings.Contains(page, `href="`+path+`"`) {
		t.Error("the iPhone's page does not offer the reset")
	}

	page := e.Get(alice, path)
	if page.Status != http.StatusOK || !strings.Contains(page.Body, `action="`+path+`"`) || oneTimePIN.MatchString(page.Body) {
		t.Fatalf("the first step: status %d\n%s", page.Status, page.Body)
	}
	res := e.PostForm(alice, path, url.Values{})
	m := oneTimePIN.FindStringSubmatch(res.Body)
	if res.Status != http.StatusOK || m == nil || !strings.Contains(res.Body, "only time the PIN is shown") || !strings.Contains(res.Body, "<strong>alice</strong>") {
		t.Fatalf("the second step: status %d\n%s", res.Status, res.Body)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the PIN's page may be cached: %q", cc)
	}
	if strings.Contains(e.Get(alice, "/devices/"+itoa(phone.ID)).Body, m[1]) {
		t.Error("the PIN shows again on the device page")
	}

	// The PIN is refused on a device that registered with the password,
	// which recovers with the password instead.
	recover := func(body string) int {
		req, _ := http.NewRequest("POST", e.URL+deviceapi.Prefix+"/passcode-recovery", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := recover(`{"username":"alice","pin":"` + m[1] + `"}`); code != http.StatusBadRequest {
		t.Errorf("a PIN on a password device: status %d", code)
	}
	if code := recover(`{"username":"alice","password":"` + servertest.Password("alice") + `"}`); code != http.StatusOK {
		t.Errorf("the password: status %d", code)
	}
	if code := recover(`{"username":"alice","password":"wrong"}`); code != http.StatusForbidden {
		t.Errorf("a wrong password: status %d, want 403 (the device token is fine)", code)
	}
}

func TestResetSecureAppsPasscodeRefusedWithoutAnyCondition(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]string
		roles    []portico.Role
	}{
		{"no role", nil, nil},
		{"no licence", map[string]string{"products.secure_apps": "false"}, []portico.Role{portico.RoleResetSecureAppsPasscode}},
		{"no recovery in the policy", map[string]string{"secure_apps.passcode_recovery": "false"}, []portico.Role{portico.RoleResetSecureAppsPasscode}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := servertest.New(t)
			secureAppsOn(t, e, tt.settings)
			e.AddUser("alice", false, append(tt.roles, portico.RoleLock)...)
			phone, _ := e.RegisterDevice("alice", portico.PlatformIOS, iPhone)
			alice := e.SignIn("alice")
			path := "/devices/" + itoa(phone.ID) + "/secure-apps-passcode"
			if home := e.Get(alice, "/").Body; strings.Contains(home, "Reset secure apps passcode") {
				t.Error("the card offers the reset")
			}
			if res := e.Get(alice, path); res.Status != http.StatusForbidden {
				t.Errorf("the first step: status %d", res.Status)
			}
			res := e.PostForm(alice, path, url.Values{})
			if res.Status != http.StatusForbidden || oneTimePIN.MatchString(res.Body) {
				t.Errorf("the second step: status %d\n%s", res.Status, res.Body)
			}
			entries, _ := e.Service.AuditLog(e.Op, store.AuditFilter{DeviceID: phone.ID})
			denied := false
			for _, a := range entries {
				denied = denied || (a.Action == "secure_apps.pin" && a.Result == portico.ResultDenied)
			}
			if !denied {
				t.Error("the refusal was not audited")
			}
			if _, _, err := e.Store.SecureAppsPIN(context.Background(), phone.UserID); portico.ErrorCode(err) != portico.ENOTFOUND {
				t.Errorf("a refusal left a PIN behind: %v", err)
			}
		})
	}
}
