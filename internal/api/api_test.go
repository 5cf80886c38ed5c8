package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/api"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/store"
	"github.com/portico-mdm/portico/internal/web"
)

// call sends body to the API path with the key, if any, and returns the
// response with its body read.
func call(t *testing.T, e *servertest.Env, method, path, key, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.URL+api.Prefix+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// fixture is a server with an admin's keys, alice with an iPhone, and bob.
type fixture struct {
	*servertest.Env
	rw, ro string
	alice  *portico.User
	device *portico.Device
}

func newFixture(t *testing.T) *fixture {
	e := servertest.New(t)
	f := &fixture{Env: e}
	_, f.rw = e.APIKey("provisioning", portico.ScopeReadWrite)
	_, f.ro = e.APIKey("reporting", portico.ScopeReadOnly)
	f.alice = e.AddUser("alice", false)
	e.AddUser("bob", false)
	f.device, _ = e.RegisterDevice("alice", portico.PlatformIOS, portico.DeviceDetails{Name: "Alice's iPhone", Model: "iPhone 15", OSVersion: "17.4.1"})
	return f
}

func id(n int64) string { return fmt.Sprint(n) }

// TestDocumentMatchesRoutes holds the OpenAPI document and the routes
// equal: every documented operation is served, every route documented,
// each with the security and the refusals its access level has.
func TestDocumentMatchesRoutes(t *testing.T) {
	f := newFixture(t)
	res, b := call(t, f.Env, "GET", "/openapi.json", "", "")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("the document: status %d, %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Servers []struct {
			URL string `json:"url"`
		} `json:"servers"`
		Paths map[string]map[string]struct {
			OperationID string            `json:"operationId"`
			Security    *[]map[string]any `json:"security"`
			Responses   map[string]any    `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Servers) != 1 || doc.Servers[0].URL != api.Prefix {
		t.Fatalf("openapi %q, servers %+v", doc.OpenAPI, doc.Servers)
	}
	access := map[string]web.Access{}
	for _, r := range f.Server.Routes() {
		if strings.Contains(r.Pattern, " "+api.Prefix+"/") {
			access[r.Pattern] = r.Access
		}
	}
	documented := map[string]bool{}
	ids := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			pattern := strings.ToUpper(method) + " " + api.Prefix + path
			documented[pattern] = true
			a, ok := access[pattern]
			if !ok {
				t.Errorf("%s is documented but not served", pattern)
				continue
			}
			if op.OperationID == "" || ids[op.OperationID] {
				t.Errorf("%s: operationId %q is missing or not unique", pattern, op.OperationID)
			}
			ids[op.OperationID] = true
			public := op.Security != nil && len(*op.Security) == 0
			if public != (a == web.Public) {
				t.Errorf("%s: documented public %t, served as %s", pattern, public, a)
			}
			var want []string
			switch a {
			case web.APIRead:
				want = []string{"200", "401"}
			case web.APIWrite:
				want = []string{"400", "401", "403"}
			}
			for _, code := range want {
				if op.Responses[code] == nil {
					t.Errorf("%s: no %s response documented", pattern, code)
				}
			}
		}
	}
	for pattern := range access {
		if !documented[pattern] {
			t.Errorf("%s is served but not documented", pattern)
		}
	}
	if len(access) < 10 {
		t.Errorf("only %d routes found under %s", len(access), api.Prefix)
	}
}

func TestUsers(t *testing.T) {
	f := newFixture(t)
	res, b := call(t, f.Env, "POST", "/users", f.rw, `{"username":"carol","name":"Carol Jones","email":"carol@example.com","roles":["lock","wipe"]}`)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create: status %d: %s", res.StatusCode, b)
	}
	created := decode[api.CreateUserResponse](t, b)
	if created.User.Username != "carol" || !slices.Equal(created.User.Roles, []portico.Role{portico.RoleLock, portico.RoleWipe}) || len(created.Password) < 20 {
		t.Fatalf("created %s", b)
	}
	if _, err := f.Service.Login(f.Op, "carol", created.Password); err != nil {
		t.Errorf("carol cannot sign in with the generated password: %v", err)
	}
	res, b = call(t, f.Env, "POST", "/users", f.rw, `{"username":"dave","email":"dave@example.com","password":"a long chosen password"}`)
	if res.StatusCode != http.StatusCreated || strings.Contains(string(b), `"password"`) {
		t.Errorf("a chosen password is not sent back: status %d: %s", res.StatusCode, b)
	}

	res, b = call(t, f.Env, "PUT", "/users/"+id(created.User.ID)+"/roles", f.rw, `{"roles":["unlock"]}`)
	if u := decode[portico.User](t, b); res.StatusCode != http.StatusOK || !slices.Equal(u.Roles, []portico.Role{portico.RoleUnlock}) {
		t.Errorf("set roles: status %d: %s", res.StatusCode, b)
	}
	res, b = call(t, f.Env, "PUT", "/users/"+id(created.User.ID)+"/roles", f.rw, `{"roles":[]}`)
	if u := decode[portico.User](t, b); res.StatusCode != http.StatusOK || len(u.Roles) != 0 {
		t.Errorf("taking every role: status %d: %s", res.StatusCode, b)
	}

	res, b = call(t, f.Env, "GET", "/users/"+id(f.alice.ID), f.ro, "")
	if u := decode[portico.User](t, b); res.StatusCode != http.StatusOK || u.Username != "alice" {
		t.Errorf("get: status %d: %s", res.StatusCode, b)
	}

	// Four users, three to a page, in the order they were created.
	var names []string
	offset := ""
	for range 5 {
		res, b = call(t, f.Env, "GET", "/users?limit=3"+offset, f.ro, "")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("list: status %d: %s", res.StatusCode, b)
		}
		page := decode[api.List[portico.User]](t, b)
		for _, u := range page.Items {
			names = append(names, u.Username)
		}
		if page.NextOffset == 0 {
			break
		}
		offset = fmt.Sprintf("&offset=%d", page.NextOffset)
	}
	if want := []string{"alice", "bob", "carol", "dave"}; !slices.Equal(names, want) {
		t.Errorf("paged users %v, want %v", names, want)
	}

	res, b = call(t, f.Env, "GET", "/roles", f.ro, "")
	roles := decode[api.List[api.Role]](t, b)
	if res.StatusCode != http.StatusOK || len(roles.Items) != len(portico.Roles) || roles.Items[0].Label == "" {
		t.Errorf("roles: status %d: %s", res.StatusCode, b)
	}
	if res, _ := call(t, f.Env, "HEAD", "/roles", f.ro, ""); res.StatusCode != http.StatusOK {
		t.Errorf("HEAD with a read-only key: status %d", res.StatusCode)
	}
}

func TestDevicesAndActions(t *testing.T) {
	f := newFixture(t)
	bobs, _ := f.RegisterDevice("bob", portico.PlatformAndroid, portico.DeviceDetails{Model: "Pixel 8"})
	res, b := call(t, f.Env, "GET", "/devices?limit=1", f.ro, "")
	first := decode[api.List[portico.Device]](t, b)
	if res.StatusCode != http.StatusOK || len(first.Items) != 1 || first.NextOffset != 1 {
		t.Fatalf("first page: status %d: %s", res.StatusCode, b)
	}
	_, b = call(t, f.Env, "GET", "/devices?limit=1&offset=1", f.ro, "")
	second := decode[api.List[portico.Device]](t, b)
	if len(second.Items) != 1 || second.NextOffset != 0 || second.Items[0].ID == first.Items[0].ID {
		t.Errorf("second page: %s", b)
	}
	_, b = call(t, f.Env, "GET", "/devices?user_id="+id(f.alice.ID), f.ro, "")
	if mine := decode[api.List[portico.Device]](t, b); len(mine.Items) != 1 || mine.Items[0].ID != f.device.ID {
		t.Errorf("alice's devices: %s", b)
	}
	res, b = call(t, f.Env, "GET", "/devices/"+id(bobs.ID), f.ro, "")
	if d := decode[portico.Device](t, b); res.StatusCode != http.StatusOK || d.Details.Model != "Pixel 8" {
		t.Errorf("get device: status %d: %s", res.StatusCode, b)
	}

	res, b = call(t, f.Env, "POST", "/devices/"+id(f.device.ID)+"/actions", f.rw, `{"action":"lock"}`)
	lock := decode[portico.Command](t, b)
	if res.StatusCode != http.StatusCreated || lock.Kind != portico.CommandLock || lock.Status != portico.CommandQueued || lock.CreatedBy != "api-key:provisioning" {
		t.Fatalf("lock: status %d: %s", res.StatusCode, b)
	}
	res, b = call(t, f.Env, "POST", "/devices/"+id(f.device.ID)+"/actions", f.rw, `{"action":"lock"}`)
	if res.StatusCode != http.StatusConflict {
		t.Errorf("a second lock while one is under way: status %d: %s", res.StatusCode, b)
	}

	// A wipe needs the device's name, and waits out the grace period.
	res, b = call(t, f.Env, "POST", "/devices/"+id(f.device.ID)+"/actions", f.rw, `{"action":"wipe"}`)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "Alice's iPhone") {
		t.Errorf("an unconfirmed wipe: status %d: %s", res.StatusCode, b)
	}
	res, b = call(t, f.Env, "POST", "/devices/"+id(f.device.ID)+"/actions", f.rw, `{"action":"wipe","confirm":"Alice's iPhone"}`)
	wipe := decode[portico.Command](t, b)
	if res.StatusCode != http.StatusCreated || wipe.Status != portico.CommandHeld || !wipe.ReleaseAt.Equal(f.Clock.Now().Add(time.Minute)) {
		t.Fatalf("wipe: status %d: %s", res.StatusCode, b)
	}
	res, b = call(t, f.Env, "POST", "/commands/"+id(wipe.ID)+"/cancel", f.rw, "")
	if c := decode[portico.Command](t, b); res.StatusCode != http.StatusOK || c.Status != portico.CommandCancelled {
		t.Errorf("cancel: status %d: %s", res.StatusCode, b)
	}
	res, b = call(t, f.Env, "POST", "/commands/"+id(wipe.ID)+"/cancel", f.rw, "")
	if res.StatusCode != http.StatusConflict {
		t.Errorf("cancelling twice: status %d: %s", res.StatusCode, b)
	}

	res, b = call(t, f.Env, "GET", "/devices/"+id(f.device.ID)+"/commands", f.ro, "")
	cmds := decode[api.List[portico.Command]](t, b)
	if res.StatusCode != http.StatusOK || len(cmds.Items) != 2 {
		t.Errorf("commands: status %d: %s", res.StatusCode, b)
	}
}

func TestInvitations(t *testing.T) {
	f := newFixture(t)
	res, b := call(t, f.Env, "POST", "/users/"+id(f.alice.ID)+"/invitations", f.rw, `{"kind":"pin","platform":"android"}`)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "registration.pin_enabled") {
		t.Errorf("a PIN while switched off: status %d: %s", res.StatusCode, b)
	}
	res, b = call(t, f.Env, "PATCH", "/settings", f.rw, `{"registration.pin_enabled":"true","registration.qr_enabled":"true"}`)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("switching on: status %d: %s", res.StatusCode, b)
	}
	res, b = call(t, f.Env, "POST", "/users/"+id(f.alice.ID)+"/invitations", f.rw, `{"kind":"pin","platform":"android"}`)
	pin := decode[api.InvitationResponse](t, b)
	if res.StatusCode != http.StatusCreated || len(pin.PIN) != 8 || pin.Link != "" || !slices.Equal(pin.SentTo, []string{"alice@example.com"}) ||
		pin.Invitation.UserID != f.alice.ID || !pin.Invitation.HasPIN {
		t.Errorf("PIN: status %d: %s", res.StatusCode, b)
	}
	res, b = call(t, f.Env, "POST", "/users/"+id(f.alice.ID)+"/invitations", f.rw, `{"kind":"qr","platform":"ios"}`)
	qr := decode[api.InvitationResponse](t, b)
	if res.StatusCode != http.StatusCreated || !strings.Contains(qr.Link, "/go?t=") || qr.PIN != "" || len(qr.SentTo) != 0 {
		t.Errorf("QR: status %d: %s", res.StatusCode, b)
	}
	if !strings.Contains(string(b), `"sent_to":[]`) {
		t.Errorf("sent_to must be an array: %s", b)
	}
}

func TestSettings(t *testing.T) {
	f := newFixture(t)
	res, b := call(t, f.Env, "PATCH", "/settings", f.rw, `{"helpdesk.phone":"+41 44 000 00 00","mail.password":"s3cret"}`)
	got := decode[map[string]string](t, b)
	if res.StatusCode != http.StatusOK || got["helpdesk.phone"] != "+41 44 000 00 00" || got["mail.password"] != "********" || got["helpdesk.name"] != "IT Helpdesk" {
		t.Fatalf("patch: status %d: %s", res.StatusCode, b)
	}
	if len(got) != len(portico.Settings) {
		t.Errorf("%d settings, want all %d", len(got), len(portico.Settings))
	}
	tests := []struct {
		name, body, want string
	}{
		{"an unknown key", `{"helpdesk.phone":"1","no.such":"x"}`, "no.such"},
		{"a bad value", `{"helpdesk.phone":"2","session.lifetime":"forever"}`, "Longest session"},
		{"the mask of a secret", `{"helpdesk.phone":"3","mail.password":"********"}`, "stands for the stored secret"},
		{"a number", `{"login.max_failures":7}`, "string"},
		{"nothing", `{}`, "Send the settings to change"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, b := call(t, f.Env, "PATCH", "/settings", f.rw, tt.body)
			if e := decode[apiError](t, b); res.StatusCode != http.StatusBadRequest || e.Error.Code != portico.EINVALID || !strings.Contains(e.Error.Message, tt.want) {
				t.Errorf("status %d: %s", res.StatusCode, b)
			}
		})
	}
	_, b = call(t, f.Env, "GET", "/settings", f.ro, "")
	if got := decode[map[string]string](t, b); got["helpdesk.phone"] != "+41 44 000 00 00" {
		t.Errorf("a refused change was stored in part: %s", got["helpdesk.phone"])
	}
	stored, _ := f.Store.SettingValues(t.Context())
	if stored.Get("mail.password") != "s3cret" {
		t.Errorf("the secret is %q", stored.Get("mail.password"))
	}
}

func TestAuditNamesTheKey(t *testing.T) {
	f := newFixture(t)
	if res, b := call(t, f.Env, "PUT", "/users/"+id(f.alice.ID)+"/roles", f.rw, `{"roles":["lock"]}`); res.StatusCode != http.StatusOK {
		t.Fatalf("set roles: status %d: %s", res.StatusCode, b)
	}
	call(t, f.Env, "POST", "/devices/"+id(f.device.ID)+"/actions", f.rw, `{"action":"checkin"}`)
	res, b := call(t, f.Env, "GET", "/audit?actor=api-key:provisioning", f.ro, "")
	entries := decode[api.List[portico.AuditEntry]](t, b)
	if res.StatusCode != http.StatusOK || len(entries.Items) != 2 || entries.Items[0].Action != "device.checkin" || entries.Items[1].Action != "user.roles" {
		t.Fatalf("audit: status %d: %s", res.StatusCode, b)
	}
	_, b = call(t, f.Env, "GET", "/audit?device_id="+id(f.device.ID)+"&limit=1", f.ro, "")
	if one := decode[api.List[portico.AuditEntry]](t, b); len(one.Items) != 1 || one.Items[0].DeviceID != f.device.ID {
		t.Errorf("the device's newest entry: %s", b)
	}
}

// TestRefusals checks that bad calls are answered in JSON with a message
// that says what was wrong, and change nothing.
func TestRefusals(t *testing.T) {
	f := newFixture(t)
	users := "/users/" + id(f.alice.ID)
	tests := []struct {
		name, method, path, key, body string
		status                        int
		code, want                    string
	}{
		{"no key", "GET", "/users", "", "", 401, portico.EUNAUTHENTICATED, "An API key is required"},
		{"a wrong key", "GET", "/users", "wrong", "", 401, portico.EUNAUTHENTICATED, "not valid"},
		{"a read-only key writing", "POST", "/users", f.ro, `{"username":"x","email":"x@example.com"}`, 403, portico.EFORBIDDEN, "read-only"},
		{"an unknown field", "POST", "/users", f.rw, `{"username":"x","email":"x@example.com","superuser":true}`, 400, portico.EINVALID, "superuser"},
		{"two values", "POST", "/users", f.rw, `{"username":"x","email":"x@example.com"} {}`, 400, portico.EINVALID, "after the JSON value"},
		{"not JSON", "POST", "/users", f.rw, `username=x`, 400, portico.EINVALID, "not valid JSON"},
		{"too large", "POST", "/users", f.rw, `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, 400, portico.EINVALID, "larger than"},
		{"a bad email", "POST", "/users", f.rw, `{"username":"x","email":"x@"}`, 400, portico.EINVALID, "not an email address"},
		{"a taken name", "POST", "/users", f.rw, `{"username":"alice","email":"a2@example.com"}`, 409, portico.ECONFLICT, ""},
		{"an unknown role", "PUT", users + "/roles", f.rw, `{"roles":["fly"]}`, 400, portico.EINVALID, "not a portal role"},
		{"roles missing", "PUT", users + "/roles", f.rw, `{}`, 400, portico.EINVALID, "roles is required"},
		{"an unknown user", "GET", "/users/999", f.ro, "", 404, portico.ENOTFOUND, ""},
		{"a user id that is no number", "GET", "/users/alice", f.ro, "", 404, portico.ENOTFOUND, "alice"},
		{"an unknown action", "POST", "/devices/" + id(f.device.ID) + "/actions", f.rw, `{"action":"explode"}`, 400, portico.EINVALID, ""},
		{"an unknown device", "POST", "/devices/999/actions", f.rw, `{"action":"lock"}`, 404, portico.ENOTFOUND, ""},
		{"a bad limit", "GET", "/devices?limit=0", f.ro, "", 400, portico.EINVALID, "limit is a whole number from 1 to 500"},
		{"a bad offset", "GET", "/users?offset=-1", f.ro, "", 400, portico.EINVALID, "offset"},
		{"a bad audit limit", "GET", "/audit?limit=5000", f.ro, "", 400, portico.EINVALID, "from 1 to 500"},
		{"an unknown kind", "POST", users + "/invitations", f.rw, `{"kind":"pigeon","platform":"ios"}`, 400, portico.EINVALID, "not a way to register"},
		{"an unknown path", "GET", "/nothing", f.ro, "", 404, portico.ENOTFOUND, "admin API"},
		{"an unknown path without a key", "GET", "/nothing", "", "", 404, portico.ENOTFOUND, "admin API"},
		{"a wrong method", "DELETE", "/users", f.rw, "", 405, portico.EINVALID, "GET, HEAD, POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, b := call(t, f.Env, tt.method, tt.path, tt.key, tt.body)
			if res.Header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", res.Header.Get("Content-Type"))
			}
			e := decode[apiError](t, b)
			if res.StatusCode != tt.status || e.Error.Code != tt.code || !strings.Contains(e.Error.Message, tt.want) {
				t.Errorf("status %d, want %d with %s %q: %s", res.StatusCode, tt.status, tt.code, tt.want, b)
			}
			if tt.status == http.StatusUnauthorized && res.Header.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("WWW-Authenticate %q", res.Header.Get("WWW-Authenticate"))
			}
		})
	}
	users2, _ := f.Service.Users(f.Op)
	if len(users2) != 2 {
		t.Errorf("%d users after the refusals, want alice and bob", len(users2))
	}
	if u, _ := f.Service.User(f.Op, f.alice.ID); len(u.Roles) != 0 {
		t.Errorf("alice's roles changed: %v", u.Roles)
	}
	if cmds, _ := f.Service.Commands(f.Op, f.device.ID); len(cmds) != 0 {
		t.Errorf("a refused action queued %+v", cmds)
	}
}

func TestKeyStopsAtOnce(t *testing.T) {
	f := newFixture(t)
	k, key := f.APIKey("short-lived", portico.ScopeReadWrite)
	if res, b := call(t, f.Env, "GET", "/roles", key, ""); res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	f.Clock.Advance(30 * 24 * time.Hour)
	res, b := call(t, f.Env, "GET", "/roles", key, "")
	if e := decode[apiError](t, b); res.StatusCode != http.StatusUnauthorized || !strings.Contains(e.Error.Message, "expired") {
		t.Errorf("an expired key: status %d: %s", res.StatusCode, b)
	}
	k2, key2 := f.APIKey("revoked-soon", portico.ScopeReadOnly)
	if res, _ := call(t, f.Env, "GET", "/roles", key2, ""); res.StatusCode != http.StatusOK {
		t.Fatal("a new key does not work")
	}
	if _, err := f.Service.RevokeAPIKey(f.Op, k2.ID); err != nil {
		t.Fatal(err)
	}
	res, b = call(t, f.Env, "GET", "/roles", key2, "")
	if e := decode[apiError](t, b); res.StatusCode != http.StatusUnauthorized || !strings.Contains(e.Error.Message, "revoked") {
		t.Errorf("a revoked key: status %d: %s", res.StatusCode, b)
	}
	entries, _ := f.Service.AuditLog(f.Op, store.AuditFilter{Actor: "anonymous"})
	if len(entries) != 2 || entries[0].Target != k2.Name || entries[1].Target != k.Name || entries[0].Result != portico.ResultDenied {
		t.Errorf("refusals in the audit log: %+v", entries)
	}
}
