package server_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/applemdm/mdmtest"
	"github.com/portico-mdm/portico/internal/deviceapi/deviceapitest"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/web"
)

// publicRoutes is the explicit list of routes anyone may call. A new route
// that is not on it must refuse a caller without credentials.
var publicRoutes = []string{
	"GET /healthz",
	"GET /readyz",
	"GET /static/",
	"GET /favicon.ico",
	"GET /brand.css",
	"GET /brand/logo",
	"GET /login",
	"POST /login",
	// The second step of signing in: it acts only on the sign-in its
	// session holds after a right password.
	"GET /login/code",
	"POST /login/code",
	"GET /go",
	"POST /go",
	"GET /reset-password",
	"POST /reset-password",
	"POST /api/device/v1/register",
	"/api/device/v1/",
	"GET /api/device/v1/openapi.yaml",
	"/api/v1/",
	"GET /api/v1/openapi.json",
	"GET /scep",
	"POST /scep",
}

type fixture struct {
	*servertest.Env
	aliceDevice  *portico.Device
	aliceCommand *portico.Command
	bobToken     string
	// Admin API keys: readOnly may make no write, revoked and expired no
	// call at all.
	readOnly, revoked, expired string
}

func newFixture(t *testing.T) *fixture {
	e := servertest.New(t)
	f := &fixture{Env: e}
	// Every capability on, so that bob reaches each route and its refusal
	// is about whose the thing is.
	if err := e.Service.SetSettings(e.Op, map[string]string{"certificates.signing": "Signing certificate"}); err != nil {
		t.Fatal(err)
	}
	e.AddUser("root", true)
	e.AddUser("alice", false, portico.Roles...)
	e.AddUser("bob", false, portico.Roles...)
	details := portico.DeviceDetails{Model: "iPhone 15", OSVersion: "17.4.1"}
	f.aliceDevice, _ = e.RegisterDevice("alice", portico.PlatformIOS, details)
	_, f.bobToken = e.RegisterDevice("bob", portico.PlatformIOS, details)
	f.aliceCommand = deviceapitest.Queue(t, e, f.aliceDevice.ID, portico.CommandLock)
	k, revoked := e.APIKey("revoked", portico.ScopeReadWrite)
	if _, err := e.Service.RevokeAPIKey(e.Op, k.ID); err != nil {
		t.Fatal(err)
	}
	f.revoked = revoked
	// Made straight in the store: the service makes no key that has
	// expired already, and moving the clock would age everything else.
	expired, hash := secret.NewToken()
	err := e.Store.CreateAPIKey(t.Context(), &portico.APIKey{Name: "expired", Scope: portico.ScopeReadWrite, CreatedBy: "root",
		CreatedAt: e.Clock.Now().Add(-48 * time.Hour), ExpiresAt: e.Clock.Now().Add(-time.Hour)}, hash)
	if err != nil {
		t.Fatal(err)
	}
	f.expired = expired
	_, f.readOnly = e.APIKey("read-only", portico.ScopeReadOnly)
	return f
}

// path turns a route pattern into a path that reaches it, naming alice's
// device wherever the pattern has an id, or alice's command on the device
// API, where ids name commands.
func (f *fixture) path(pattern string, access web.Access) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = strings.ReplaceAll(path, "{$}", "")
	id := f.aliceDevice.ID
	if access == web.Device {
		id = f.aliceCommand.ID
	}
	path = strings.ReplaceAll(path, "{id}", strconv.FormatInt(id, 10))
	if strings.HasSuffix(path, "/") && path != "/" && !strings.HasSuffix(pattern, "{$}") {
		path += "x"
	}
	return method, path
}

func do(t *testing.T, c *http.Client, method, u string, header http.Header) *http.Response {
	t.Helper()
	return send(t, c, method, u, header, "{}")
}

func send(t *testing.T, c *http.Client, method, u string, header http.Header, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if header != nil {
		req.Header = header
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

func TestPublicRoutesAreExactlyTheListedOnes(t *testing.T) {
	f := newFixture(t)
	var public []string
	for _, r := range f.Server.Routes() {
		if r.Access == web.Public || r.Access == web.Visitor {
			public = append(public, r.Pattern)
		}
	}
	slices.Sort(public)
	want := slices.Sorted(slices.Values(publicRoutes))
	if !slices.Equal(public, want) {
		t.Errorf("public routes = %q, want exactly %q", public, want)
	}
}

// TestEveryRouteRefusesWithoutCredentials walks every registered route
// without credentials and with the wrong ones.
func TestEveryRouteRefusesWithoutCredentials(t *testing.T) {
	f := newFixture(t)
	anonymous := f.Browser()
	bob := f.SignIn("bob")
	root := f.SignIn("root")
	for _, r := range f.Server.Routes() {
		if r.Access == web.Public || r.Access == web.Visitor {
			continue
		}
		method, path := f.path(r.Pattern, r.Access)
		t.Run(r.Pattern, func(t *testing.T) {
			res := do(t, anonymous, method, f.URL+path, nil)
			if !refused(res) {
				t.Errorf("without credentials: status %d, want a refusal", res.StatusCode)
			}
			switch r.Access {
			case web.SignedIn:
				// bob is signed in, but the id names alice's device.
				if strings.Contains(r.Pattern, "{id}") {
					if res := do(t, bob, method, f.URL+path, nil); res.StatusCode != http.StatusNotFound {
						t.Errorf("as bob on alice's device: status %d, want 404", res.StatusCode)
					}
				}
			case web.Admin:
				if res := do(t, bob, method, f.URL+path, nil); res.StatusCode != http.StatusForbidden {
					t.Errorf("as bob, not an admin: status %d, want 403", res.StatusCode)
				}
			case web.Device:
				bad := http.Header{"Authorization": {"Bearer not-a-token"}}
				if res := do(t, anonymous, method, f.URL+path, bad); res.StatusCode != http.StatusUnauthorized {
					t.Errorf("with a wrong device token: status %d, want 401", res.StatusCode)
				}
				if strings.Contains(r.Pattern, "{id}") {
					// A valid body, so that only the id can be the reason
					// for refusing bob's device.
					bobs := http.Header{"Authorization": {"Bearer " + f.bobToken}, "Content-Type": {"application/json"}}
					if res := send(t, anonymous, method, f.URL+path, bobs, `{"status":"done"}`); res.StatusCode != http.StatusNotFound {
						t.Errorf("with bob's device token on alice's command: status %d, want 404", res.StatusCode)
					}
				}
			case web.APIRead, web.APIWrite:
				// An admin's browser session is no API key.
				if res := do(t, root, method, f.URL+path, nil); res.StatusCode != http.StatusUnauthorized {
					t.Errorf("with an admin's session and no key: status %d, want 401", res.StatusCode)
				}
				for name, key := range map[string]string{"a wrong": "not-a-key", "a revoked": f.revoked, "an expired": f.expired} {
					// The walk fails more keys than the throttle lets
					// through; the throttle is tested on its own.
					if err := f.Store.DeleteLoginFailuresBefore(t.Context(), f.Clock.Now().Add(time.Hour)); err != nil {
						t.Fatal(err)
					}
					h := http.Header{"Authorization": {"Bearer " + key}}
					if res := do(t, anonymous, method, f.URL+path, h); res.StatusCode != http.StatusUnauthorized {
						t.Errorf("with %s key: status %d, want 401", name, res.StatusCode)
					}
				}
				if r.Access == web.APIWrite {
					h := http.Header{"Authorization": {"Bearer " + f.readOnly}}
					if res := do(t, anonymous, method, f.URL+path, h); res.StatusCode != http.StatusForbidden {
						t.Errorf("with a read-only key: status %d, want 403", res.StatusCode)
					}
				}
			case web.AppleDevice:
				// A signature that is not of the body, and a true signature
				// by a certificate this server did not issue.
				body := mdmtest.Message(t, map[string]any{"UDID": "UDID-1", "Status": "Idle", "MessageType": "Authenticate", "Topic": "com.apple.mgmt.x"})
				stranger := mdmtest.NewDevice(t, "UDID-1")
				stranger.Identity = stranger.Self
				for name, sig := range map[string]string{"a wrong signature": "AAAA", "a stranger's signature": stranger.Sign(t, body)} {
					h := http.Header{"Mdm-Signature": {sig}}
					if res := send(t, anonymous, method, f.URL+path, h, string(body)); res.StatusCode != http.StatusUnauthorized {
						t.Errorf("with %s: status %d, want 401", name, res.StatusCode)
					}
				}
			case web.Operator:
				bad := http.Header{"Authorization": {"Bearer wrong"}}
				if res := do(t, anonymous, method, f.URL+path, bad); res.StatusCode != http.StatusUnauthorized {
					t.Errorf("with a wrong token: status %d, want 401", res.StatusCode)
				}
			}
		})
	}
}

func refused(res *http.Response) bool {
	switch res.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return true
	case http.StatusSeeOther:
		return strings.HasPrefix(res.Header.Get("Location"), "/login")
	}
	return false
}

func TestOperations(t *testing.T) {
	e := servertest.New(t)
	c := e.Browser()
	tests := []struct {
		name   string
		path   string
		token  string
		status int
		want   string
	}{
		{"health", "/healthz", "", http.StatusOK, "ok"},
		{"readiness", "/readyz", "", http.StatusOK, "ready"},
		{"metrics with the token", "/metrics", servertest.MetricsToken, http.StatusOK, "portico_http_requests_total"},
		{"metrics without it", "/metrics", "", http.StatusUnauthorized, ""},
		{"an unknown path", "/no/such/page", "", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.URL+tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body := make([]byte, 1<<20)
			n, _ := res.Body.Read(body)
			if res.StatusCode != tt.status || !strings.Contains(string(body[:n]), tt.want) {
				t.Errorf("status %d, want %d with %q", res.StatusCode, tt.status, tt.want)
			}
			if res.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
		})
	}
}
