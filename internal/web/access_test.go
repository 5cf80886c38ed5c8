package web_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/web"
)

func TestDoorOf(t *testing.T) {
	for _, tc := range []struct {
		path string
		door portico.Door // "" for no door
	}{
		{"/admin", portico.DoorAdmin},
		{"/admin/", portico.DoorAdmin},
		{"/admin/users/3", portico.DoorAdmin},
		{"/administrator", portico.DoorPortal},
		{"/api/v1/users", portico.DoorAdminAPI},
		{"/api/v1", portico.DoorAdminAPI},
		{"/api/v10/x", portico.DoorPortal},
		{"/", portico.DoorPortal},
		{"/login", portico.DoorSignIn},
		{"/login/code", portico.DoorSignIn},
		{"/logout", portico.DoorSignIn},
		{"/account/two-factor", portico.DoorSignIn},
		{"/account/two-factor/confirm", portico.DoorSignIn},
		{"/change-password", portico.DoorSignIn},
		{"/reset-password", portico.DoorSignIn},
		{"/loginx", portico.DoorPortal},
		{"/account", portico.DoorPortal},
		{"/devices/4", portico.DoorPortal},
		{"/go", portico.DoorPortal},
		{"/something-new", portico.DoorPortal},
		{"/api/device/v1/register", ""},
		{"/api/device/v1/checkin", ""},
		{"/mdm/checkin", ""},
		{"/mdm/connect", ""},
		{"/scep", ""},
		{"/healthz", ""},
		{"/readyz", ""},
		{"/metrics", ""},
		{"/static/portico.css", ""},
	} {
		door, ok := web.DoorOf(tc.path)
		if door != tc.door || ok != (tc.door != "") {
			t.Errorf("DoorOf(%q) = %q, %v; want %q", tc.path, door, ok, tc.door)
		}
	}
}

// allowList admits to each door the sources listed for it.
type allowList map[portico.Door]string

func (a allowList) CheckNetwork(_ context.Context, door portico.Door, source string) error {
	if want, ok := a[door]; ok && want != source {
		return portico.Errorf(portico.EFORBIDDEN, "Access from your network is not allowed")
	}
	return nil
}

func TestAccessRules(t *testing.T) {
	proxies, err := web.ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	rules := allowList{portico.DoorPortal: "198.51.100.1", portico.DoorSignIn: "198.51.100.1", portico.DoorAdmin: "198.51.100.1", portico.DoorAdminAPI: "198.51.100.1"}
	page := func(w http.ResponseWriter, r *http.Request, err error) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(web.Status(err))
		w.Write([]byte("<p>" + portico.ErrorMessage(err) + "</p>"))
	}
	served := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("served")) })
	h := web.Chain(served, proxies.Source, web.AccessRules(rules, page, slog.New(slog.DiscardHandler)))

	for _, tc := range []struct {
		name, path, peer, forwarded string
		status                      int
		json                        bool
	}{
		{"portal from the allowed address", "/", "198.51.100.1:4000", "", 200, false},
		{"portal through a trusted proxy", "/login", "10.0.0.2:4000", "198.51.100.1", 200, false},
		{"portal from elsewhere", "/login", "203.0.113.9:4000", "", 403, false},
		{"portal through a proxy from elsewhere", "/login", "10.0.0.2:4000", "203.0.113.9", 403, false},
		{"forged header from an untrusted peer", "/login", "203.0.113.9:4000", "198.51.100.1", 403, false},
		{"admin portal from elsewhere", "/admin/users", "203.0.113.9:4000", "", 403, false},
		{"admin API from elsewhere", "/api/v1/users", "203.0.113.9:4000", "", 403, true},
		{"device API from anywhere", "/api/device/v1/checkin", "203.0.113.9:4000", "", 200, false},
		{"Apple MDM from anywhere", "/mdm/checkin", "203.0.113.9:4000", "", 200, false},
		{"SCEP from anywhere", "/scep", "203.0.113.9:4000", "", 200, false},
		{"health from anywhere", "/healthz", "203.0.113.9:4000", "", 200, false},
		{"static files from anywhere", "/static/portico.css", "203.0.113.9:4000", "", 200, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.path, nil)
			req.RemoteAddr = tc.peer
			if tc.forwarded != "" {
				req.Header.Set("X-Forwarded-For", tc.forwarded)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status == 200 {
				return
			}
			if tc.json {
				var body struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Message != "Access from your network is not allowed" {
					t.Errorf("JSON refusal %q: %v", rec.Body, err)
				}
				return
			}
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || !strings.Contains(rec.Body.String(), "Access from your network is not allowed") {
				t.Errorf("page refusal %q (%s)", rec.Body, rec.Header().Get("Content-Type"))
			}
		})
	}
}
