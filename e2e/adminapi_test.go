package e2e

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

var shownAPIKey = regexp.MustCompile(`class="secret">([^<]+)<`)

// createAPIKey creates a key through the admin portal's form, as an admin
// signed in with c, and returns the key the page shows once.
func createAPIKey(t *testing.T, c *http.Client, base, name, scope string) string {
	t.Helper()
	res, err := c.PostForm(base+"/admin/api-keys", url.Values{"name": {name}, "scope": {scope}, "days": {"30"}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	m := shownAPIKey.FindStringSubmatch(string(b))
	if res.StatusCode != http.StatusCreated || m == nil {
		t.Fatalf("creating the key %s: status %d:\n%s", name, res.StatusCode, b)
	}
	return html.UnescapeString(m[1])
}

// apiCall calls the admin API with the key and decodes its answer into
// out, when given.
func apiCall(t *testing.T, base, method, path, key, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, base+"/api/v1"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: status %d, %v: %s", method, path, res.StatusCode, err, b)
		}
	}
	return res.StatusCode
}

// TestAdminAPI follows a script's author: an admin creates a read-write
// and a read-only key in the admin portal; the read-write key provisions
// a user and a device registration, acts on the device, changes a setting
// and reads the audit log; the read-only key reads all of that and is
// refused every write the API documents.
func TestAdminAPI(t *testing.T) {
	in := serve(t, "--data", filepath.Join(t.TempDir(), "data"))
	admin := browserClient()
	if code := signIn(t, admin, in.URL, "admin", in.AdminPassword); code != http.StatusSeeOther {
		t.Fatalf("admin sign-in: status %d", code)
	}
	rw := createAPIKey(t, admin, in.URL, "provisioning", "read-write")
	ro := createAPIKey(t, admin, in.URL, "reporting", "read-only")

	var created struct {
		User struct {
			ID int64 `json:"id"`
		} `json:"user"`
		Password string `json:"password"`
	}
	if code := apiCall(t, in.URL, "POST", "/users", rw, `{"username":"alice","name":"Alice Example","email":"alice@example.com"}`, &created); code != http.StatusCreated || created.Password == "" {
		t.Fatalf("creating alice: status %d", code)
	}
	alice := fmt.Sprint(created.User.ID)
	var user struct {
		Roles []string `json:"roles"`
	}
	if code := apiCall(t, in.URL, "PUT", "/users/"+alice+"/roles", rw, `{"roles":["lock","register_device"]}`, &user); code != http.StatusOK || strings.Join(user.Roles, ",") != "lock,register_device" {
		t.Fatalf("setting alice's roles: status %d, roles %v", code, user.Roles)
	}
	var started struct {
		Invitation struct {
			DeviceID int64 `json:"device_id"`
		} `json:"invitation"`
		SentTo []string `json:"sent_to"`
	}
	if code := apiCall(t, in.URL, "POST", "/users/"+alice+"/invitations", rw, `{"kind":"invitation","platform":"ios"}`, &started); code != http.StatusCreated || len(started.SentTo) != 1 {
		t.Fatalf("inviting alice: status %d, sent to %v", code, started.SentTo)
	}
	// Her iPhone completes the registration the key started.
	if out := run(t, "", "device", "sim", "--server", in.URL, "--platform", "ios",
		"--user", "alice", "--password", created.Password, "--every", "0"); !strings.Contains(out, "Registered") {
		t.Fatalf("device sim: %s", out)
	}
	var devices struct {
		Items []struct {
			ID     int64  `json:"id"`
			UserID int64  `json:"user_id"`
			Status string `json:"status"`
		} `json:"items"`
	}
	if code := apiCall(t, in.URL, "GET", "/devices?user_id="+alice, rw, "", &devices); code != http.StatusOK || len(devices.Items) != 1 ||
		devices.Items[0].ID != started.Invitation.DeviceID || devices.Items[0].Status != "active" {
		t.Fatalf("alice's devices: status %d, %+v", code, devices.Items)
	}
	device := fmt.Sprint(devices.Items[0].ID)
	var cmd struct {
		Status    string `json:"status"`
		CreatedBy string `json:"created_by"`
	}
	if code := apiCall(t, in.URL, "POST", "/devices/"+device+"/actions", rw, `{"action":"lock"}`, &cmd); code != http.StatusCreated || cmd.Status != "queued" || cmd.CreatedBy != "api-key:provisioning" {
		t.Fatalf("locking: status %d, %+v", code, cmd)
	}
	var settings map[string]string
	if code := apiCall(t, in.URL, "PATCH", "/settings", rw, `{"helpdesk.name":"Service Desk"}`, &settings); code != http.StatusOK || settings["helpdesk.name"] != "Service Desk" {
		t.Fatalf("changing a setting: status %d", code)
	}
	if _, login := get(t, http.DefaultClient, in.URL+"/login"); !strings.Contains(login, "Service Desk") {
		t.Error("the sign-in page does not show the helpdesk name the key set")
	}
	var audit struct {
		Items []struct {
			Action string `json:"action"`
		} `json:"items"`
	}
	if code := apiCall(t, in.URL, "GET", "/audit?actor=api-key:provisioning", rw, "", &audit); code != http.StatusOK {
		t.Fatalf("audit: status %d", code)
	}
	var actions []string
	for _, e := range audit.Items {
		actions = append(actions, e.Action)
	}
	if want := "settings.change device.lock registration.invite user.roles user.create"; strings.Join(actions, " ") != want {
		t.Errorf("the key's audit entries, newest first: %v, want %s", actions, want)
	}

	// The read-only key reads everything.
	for _, path := range []string{"/users", "/users/" + alice, "/roles", "/devices", "/devices/" + device, "/devices/" + device + "/commands", "/settings", "/audit"} {
		if code := apiCall(t, in.URL, "GET", path, ro, "", nil); code != http.StatusOK {
			t.Errorf("GET %s with the read-only key: status %d", path, code)
		}
	}
	// ... and is refused every documented write, with a message that says
	// why.
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if code := apiCall(t, in.URL, "GET", "/openapi.json", "", "", &doc); code != http.StatusOK {
		t.Fatalf("the OpenAPI document: status %d", code)
	}
	writes := 0
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "get" {
				continue
			}
			writes++
			var refusal struct {
				Error struct {
					Message string `json:"message"`
				} `json:"error"`
			}
			p := strings.ReplaceAll(path, "{id}", device)
			if code := apiCall(t, in.URL, strings.ToUpper(method), p, ro, "{}", &refusal); code != http.StatusForbidden || !strings.Contains(refusal.Error.Message, "read-only") {
				t.Errorf("%s %s with the read-only key: status %d, %q", method, p, code, refusal.Error.Message)
			}
		}
	}
	if writes < 6 {
		t.Errorf("the document lists only %d writes", writes)
	}
	if code, page := get(t, admin, in.URL+"/admin/api-keys"); code != http.StatusOK || !strings.Contains(page, "provisioning") || !strings.Contains(page, "reporting") {
		t.Errorf("the admin's list of keys: status %d", code)
	}
}

// TestBrowserAPIKeysOnAPhone creates a key and revokes it in a real
// browser on a phone-sized screen; the key works until the confirmation
// is clicked.
func TestBrowserAPIKeysOnAPhone(t *testing.T) {
	ctx := newBrowser(t)
	in := serve(t, "--data", filepath.Join(t.TempDir(), "data"))
	if err := browserSignIn(ctx, in.URL, "admin", in.AdminPassword, 390, 844); err != nil {
		t.Fatal(err)
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(in.URL+"/admin/api-keys"),
		chromedp.WaitVisible(`input[name="name"]`),
		chromedp.SendKeys(`input[name="name"]`, "inventory-sync"),
		chromedp.Click(`input[value="read-write"]`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := clickAndLoad(ctx, `form[action="/admin/api-keys"] button[type="submit"]`); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "admin-api-key-created-phone")
	key, err := chromedp.Run(ctx, chromedp.Text(`.flash .secret`))
	if err != nil {
		t.Fatal(err)
	}
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > document.documentElement.clientWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if wide {
		t.Error("the API keys page is wider than a phone's screen")
	}
	if code := apiCall(t, in.URL, "POST", "/devices/999/actions", key, `{"action":"lock"}`, nil); code != http.StatusNotFound {
		t.Fatalf("the new read-write key on an unknown device: status %d, want 404", code)
	}

	if err := clickAndLoad(ctx, `a[href$="/revoke"]`); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "admin-api-key-revoke-phone")
	if code := apiCall(t, in.URL, "GET", "/roles", key, "", nil); code != http.StatusOK {
		t.Fatalf("the key stopped before the revocation was confirmed: status %d", code)
	}
	if err := clickAndLoad(ctx, `button.danger`); err != nil {
		t.Fatal(err)
	}
	notice, err := chromedp.Run(ctx, chromedp.Text(`.flash`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notice, "Revoked the API key inventory-sync") {
		t.Errorf("after revoking the page says %q", notice)
	}
	if code := apiCall(t, in.URL, "GET", "/roles", key, "", nil); code != http.StatusUnauthorized {
		t.Errorf("the revoked key: status %d, want 401", code)
	}
}
