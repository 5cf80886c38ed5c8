package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/server/servertest"
)

const refusal = "Access from your network is not allowed"

func setNetworks(t *testing.T, e *servertest.Env, values map[string]string) {
	t.Helper()
	if err := e.Service.SetSettings(e.Op, values); err != nil {
		t.Fatal(err)
	}
}

// TestAllowListsPerDoor closes every door to the test's own address
// (127.0.0.1) and checks that each refuses in its own format, while the
// devices' and operators' routes stay open.
func TestAllowListsPerDoor(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false, portico.Roles...)
	e.AddUser("root", true)
	alice, root := e.SignIn("alice"), e.SignIn("root")
	setNetworks(t, e, map[string]string{
		"access.portal_networks": "10.0.0.0/8", "access.admin_networks": "10.0.0.0/8", "access.api_networks": "10.0.0.0/8",
	})

	for _, tc := range []struct {
		name   string
		c      *http.Client
		method string
		path   string
		json   bool
	}{
		{"sign-in page", e.Browser(), "GET", "/login", false},
		{"signing in", e.Browser(), "POST", "/login", false},
		{"home", alice, "GET", "/", false},
		{"registration from a link", e.Browser(), "GET", "/go", false},
		{"account", alice, "GET", "/account/two-factor", false},
		{"admin portal", root, "GET", "/admin/users", false},
		{"admin portal write", root, "POST", "/admin/settings/access", false},
		{"admin API", http.DefaultClient, "GET", "/api/v1/users", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var res servertest.Response
			if tc.method == "POST" {
				res = e.PostForm(tc.c, tc.path, url.Values{"username": {"alice"}, "password": {servertest.Password("alice")}})
			} else {
				res = e.Get(tc.c, tc.path)
			}
			if res.Status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", res.Status)
			}
			if tc.json {
				var body struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal([]byte(res.Body), &body); err != nil || body.Error.Message != refusal {
					t.Errorf("JSON refusal %q: %v", res.Body, err)
				}
				return
			}
			if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(res.Body, refusal) {
				t.Errorf("page refusal %q", res.Body)
			}
		})
	}

	for _, tc := range []struct {
		path   string
		header http.Header
		want   int
	}{
		{"/healthz", nil, http.StatusOK},
		{"/readyz", nil, http.StatusOK},
		{"/static/portico.css", nil, http.StatusOK},
		{"/favicon.ico", nil, http.StatusOK}, // by way of the redirect to the icon
		{"/metrics", http.Header{"Authorization": {"Bearer " + servertest.MetricsToken}}, http.StatusOK},
		{"/api/device/v1/openapi.yaml", nil, http.StatusOK},
		{"/api/device/v1/checkin", nil, http.StatusMethodNotAllowed}, // reached: it answers for itself
		{"/mdm/checkin", nil, http.StatusMethodNotAllowed},
		{"/scep", nil, http.StatusBadRequest}, // reached: no operation asked
	} {
		req, _ := http.NewRequest("GET", e.URL+tc.path, nil)
		if tc.header != nil {
			req.Header = tc.header
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.path, res.StatusCode, tc.want)
		}
	}

	// The change applies to the next request, without a restart.
	setNetworks(t, e, map[string]string{"access.portal_networks": "127.0.0.0/8, ::1"})
	if res := e.Get(alice, "/"); res.Status != http.StatusOK {
		t.Errorf("home after opening the portal: status %d", res.Status)
	}
}

// TestAdminAllowListLeavesThePortalOpen closes the admin portal to the
// admin's address: the admin pages refuse, the admin's own portal pages
// still work.
func TestAdminAllowListLeavesThePortalOpen(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true, portico.RoleChangeAccount)
	root := e.SignIn("root")

	// Saved from the admin portal, a list without one's own address is
	// refused, and nothing changes.
	res := e.PostForm(root, "/admin/settings/access", url.Values{"access.admin_networks": {"10.0.0.0/8"}})
	if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, "lock you out") {
		t.Fatalf("saving a list without one's address: status %d\n%s", res.Status, res.Body)
	}
	if res := e.Get(root, "/admin/users"); res.Status != http.StatusOK {
		t.Fatalf("the admin portal closed all the same: status %d", res.Status)
	}

	setNetworks(t, e, map[string]string{"access.admin_networks": "10.0.0.0/8"}) // from the command line
	if res := e.Get(root, "/admin/users"); res.Status != http.StatusForbidden || !strings.Contains(res.Body, refusal) {
		t.Errorf("admin portal: status %d", res.Status)
	}
	for _, path := range []string{"/", "/account", "/login"} {
		if res := e.Get(root, path); res.Status != http.StatusOK {
			t.Errorf("%s: status %d, want 200", path, res.Status)
		}
	}
}

// TestAdminOutsideThePortalNetworks keeps the user portal to networks the
// admin is not in, while the admin portal lets them in: they still sign
// in, set up two-step sign-in and reach the admin portal, but not the
// user portal's pages.
func TestAdminOutsideThePortalNetworks(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	setNetworks(t, e, map[string]string{"access.portal_networks": "10.0.0.0/8", "access.admin_networks": "127.0.0.0/8, ::1"})
	root := e.SignIn("root")
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/admin/users", http.StatusOK},
		{"/account/two-factor", http.StatusOK},
		{"/login", http.StatusOK},
		{"/", http.StatusForbidden},
		{"/account", http.StatusForbidden},
	} {
		if res := e.Get(root, tc.path); res.Status != tc.want {
			t.Errorf("%s: status %d, want %d", tc.path, res.Status, tc.want)
		}
	}
}
