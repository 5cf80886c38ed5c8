package api_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/api"
	"github.com/portico-mdm/portico/internal/outbox/outboxtest"
	"github.com/portico-mdm/portico/internal/store"
)

// callAs is call with another content type.
func callAs(t *testing.T, f *fixture, method, path, contentType, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.URL+api.Prefix+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+f.rw)
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

// wantError checks a refusal's status and that its message says want.
func wantError(t *testing.T, res *http.Response, b []byte, status int, want string) {
	t.Helper()
	e := decode[apiError](t, b)
	if res.StatusCode != status || !strings.Contains(e.Error.Message, want) {
		t.Errorf("status %d, want %d with %q: %s", res.StatusCode, status, want, b)
	}
}

func usernames(users []portico.User) []string {
	out := []string{}
	for _, u := range users {
		out = append(out, u.Username)
	}
	return out
}

func TestUserSearchAndManagement(t *testing.T) {
	f := newFixture(t)
	carol := f.AddUser("carol", false)
	f.AddUser("Alicia", false)

	res, b := call(t, f.Env, "GET", "/users?q=ALI&limit=1", f.ro, "")
	first := decode[api.List[portico.User]](t, b)
	if res.StatusCode != http.StatusOK || !slices.Equal(usernames(first.Items), []string{"alice"}) || first.NextOffset != 1 {
		t.Fatalf("search, first page: status %d: %s", res.StatusCode, b)
	}
	_, b = call(t, f.Env, "GET", "/users?q=ALI&limit=1&offset=1", f.ro, "")
	if second := decode[api.List[portico.User]](t, b); !slices.Equal(usernames(second.Items), []string{"Alicia"}) || second.NextOffset != 0 {
		t.Errorf("search, second page: %s", b)
	}

	path := "/users/" + id(carol.ID)
	res, b = call(t, f.Env, "PATCH", path, f.rw, `{"name":"Carol Jones","phone":"+41 79 000 00 00"}`)
	if u := decode[portico.User](t, b); res.StatusCode != http.StatusOK || u.Name != "Carol Jones" || u.Phone != "+41 79 000 00 00" || u.Email != "carol@example.com" {
		t.Errorf("patch: status %d: %s", res.StatusCode, b)
	}
	res, b = call(t, f.Env, "POST", path+"/disable", f.rw, "")
	if u := decode[portico.User](t, b); res.StatusCode != http.StatusOK || !u.Disabled {
		t.Errorf("disable: status %d: %s", res.StatusCode, b)
	}
	if _, err := f.Service.Login(f.Op, "carol", "carol-password"); err == nil {
		t.Error("a disabled user signed in")
	}
	res, b = call(t, f.Env, "POST", path+"/enable", f.rw, "")
	if u := decode[portico.User](t, b); res.StatusCode != http.StatusOK || u.Disabled {
		t.Errorf("enable: status %d: %s", res.StatusCode, b)
	}

	res, b = call(t, f.Env, "POST", path+"/password-link", f.rw, "")
	link := decode[api.PasswordLinkResponse](t, b)
	if res.StatusCode != http.StatusCreated || !strings.HasPrefix(link.Link, f.URL) || link.MailedTo != "carol@example.com" || !link.ExpiresAt.After(f.Clock.Now()) {
		t.Errorf("password link: status %d: %s", res.StatusCode, b)
	}
	res, b = call(t, f.Env, "POST", path+"/temporary-password", f.rw, "")
	temp := decode[api.TemporaryPasswordResponse](t, b)
	if res.StatusCode != http.StatusCreated || len(temp.Password) < 12 || !temp.User.MustChangePassword {
		t.Fatalf("temporary password: status %d: %s", res.StatusCode, b)
	}
	if _, err := f.Service.Login(f.Op, "carol", temp.Password); err != nil {
		t.Errorf("the temporary password does not sign in: %v", err)
	}

	res, b = call(t, f.Env, "POST", "/users/roles", f.rw, `{"user_ids":[`+id(carol.ID)+`,`+id(f.alice.ID)+`],"grant":["lock","locate"]}`)
	if got := decode[api.BulkRolesResponse](t, b); res.StatusCode != http.StatusOK || got.Changed != 2 {
		t.Errorf("bulk grant: status %d: %s", res.StatusCode, b)
	}
	res, b = call(t, f.Env, "POST", "/users/roles", f.rw, `{"user_ids":[`+id(carol.ID)+`],"revoke":["lock"]}`)
	if got := decode[api.BulkRolesResponse](t, b); res.StatusCode != http.StatusOK || got.Changed != 1 {
		t.Errorf("bulk revoke: status %d: %s", res.StatusCode, b)
	}
	if u, _ := f.Service.User(f.Op, carol.ID); !slices.Equal(u.OwnRoles, []portico.Role{portico.RoleLocate}) {
		t.Errorf("carol's roles after the bulk changes: %v", u.OwnRoles)
	}

	refusals := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"a bad email", "PATCH", path, `{"email":"carol@"}`, 400, "not an email address"},
		{"an unknown field", "PATCH", path, `{"nickname":"cj"}`, 400, "nickname"},
		{"nothing to change", "PATCH", path, `{}`, 400, "at least one of name, email and phone"},
		{"a taken email", "PATCH", path, `{"email":"alice@example.com"}`, 409, ""},
		{"an unknown user", "PATCH", "/users/999", `{"name":"x"}`, 404, ""},
		{"a user id that is no number", "POST", "/users/carol/disable", "", 404, "carol"},
		{"no second factor to reset", "DELETE", path + "/two-factor", "", 409, "does not use two-step sign-in"},
		{"bulk with no users", "POST", "/users/roles", `{"user_ids":[],"grant":["lock"]}`, 400, "at least one user"},
		{"bulk with no roles", "POST", "/users/roles", `{"user_ids":[` + id(carol.ID) + `]}`, 400, "Choose a role"},
		{"bulk with an unknown role", "POST", "/users/roles", `{"user_ids":[` + id(carol.ID) + `],"grant":["fly"]}`, 400, "not a portal role"},
		{"bulk with an unknown user", "POST", "/users/roles", `{"user_ids":[` + id(carol.ID) + `,999],"grant":["wipe"]}`, 404, ""},
		{"a search too long", "GET", "/users?q=" + strings.Repeat("x", 201), "", 400, "at most 200 characters"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			res, b := call(t, f.Env, tt.method, tt.path, f.rw, tt.body)
			wantError(t, res, b, tt.status, tt.want)
		})
	}
	if u, _ := f.Service.User(f.Op, carol.ID); u.Email != "carol@example.com" || slices.Contains(u.OwnRoles, portico.RoleWipe) {
		t.Errorf("a refused call changed carol: %+v", u)
	}
}

func TestRoleSets(t *testing.T) {
	f := newFixture(t)
	res, b := call(t, f.Env, "POST", "/role-sets", f.rw, `{"name":"Helpdesk","roles":["lock","locate"]}`)
	set := decode[portico.RoleSet](t, b)
	if res.StatusCode != http.StatusCreated || set.Name != "Helpdesk" || len(set.Roles) != 2 {
		t.Fatalf("create: status %d: %s", res.StatusCode, b)
	}
	path := "/role-sets/" + id(set.ID)
	res, b = call(t, f.Env, "POST", path+"/members", f.rw, `{"user_ids":[`+id(f.alice.ID)+`]}`)
	if got := decode[portico.RoleSet](t, b); res.StatusCode != http.StatusOK || got.Members != 1 {
		t.Errorf("assign: status %d: %s", res.StatusCode, b)
	}
	if u, _ := f.Service.User(f.Op, f.alice.ID); !u.HasRole(portico.RoleLocate) {
		t.Error("alice has not got the set's roles")
	}
	_, b = call(t, f.Env, "GET", "/users/"+id(f.alice.ID)+"/role-sets", f.ro, "")
	if sets := decode[api.List[portico.RoleSet]](t, b); len(sets.Items) != 1 || sets.Items[0].ID != set.ID {
		t.Errorf("alice's role sets: %s", b)
	}
	res, b = call(t, f.Env, "PUT", path, f.rw, `{"name":"Support","roles":["lock"]}`)
	if got := decode[portico.RoleSet](t, b); res.StatusCode != http.StatusOK || got.Name != "Support" || !slices.Equal(got.Roles, []portico.Role{portico.RoleLock}) {
		t.Errorf("update: status %d: %s", res.StatusCode, b)
	}
	_, b = call(t, f.Env, "GET", "/role-sets", f.ro, "")
	if sets := decode[api.List[portico.RoleSet]](t, b); len(sets.Items) != 1 || sets.Items[0].Name != "Support" {
		t.Errorf("list: %s", b)
	}
	res, b = call(t, f.Env, "POST", path+"/members/remove", f.rw, `{"user_ids":[`+id(f.alice.ID)+`]}`)
	if got := decode[portico.RoleSet](t, b); res.StatusCode != http.StatusOK || got.Members != 0 {
		t.Errorf("unassign: status %d: %s", res.StatusCode, b)
	}
	if u, _ := f.Service.User(f.Op, f.alice.ID); u.HasRole(portico.RoleLock) {
		t.Error("alice kept the set's roles")
	}

	refusals := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"a taken name", "POST", "/role-sets", `{"name":"support","roles":["lock"]}`, 409, ""},
		{"an unknown role", "POST", "/role-sets", `{"name":"Other","roles":["fly"]}`, 400, "not a portal role"},
		{"an unknown field", "PUT", path, `{"name":"x","roles":[],"colour":"red"}`, 400, "colour"},
		{"an unknown set", "GET", "/role-sets/999", "", 404, ""},
		{"a set id that is no number", "GET", "/role-sets/support", "", 404, "support"},
		{"no members named", "POST", path + "/members", `{"user_ids":[]}`, 400, "at least one user"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			res, b := call(t, f.Env, tt.method, tt.path, f.rw, tt.body)
			wantError(t, res, b, tt.status, tt.want)
		})
	}

	if res, b := call(t, f.Env, "DELETE", path, f.rw, ""); res.StatusCode != http.StatusNoContent || len(b) != 0 {
		t.Errorf("delete: status %d: %s", res.StatusCode, b)
	}
	if res, _ := call(t, f.Env, "GET", path, f.ro, ""); res.StatusCode != http.StatusNotFound {
		t.Errorf("a deleted set: status %d", res.StatusCode)
	}
}

func TestImport(t *testing.T) {
	f := newFixture(t)
	bad := "username,email,roles\ncarol,carol@example.com,lock\nalice,a2@example.com,\ndave,dave@,fly\n"
	res, b := callAs(t, f, "POST", "/users/import/preview", "text/csv", bad)
	p := decode[api.ImportPreview](t, b)
	if res.StatusCode != http.StatusOK || len(p.Rows) != 3 || p.Bad != 2 || len(p.Rows[0].Problems) != 0 || p.Rows[1].Line != 3 || len(p.Rows[2].Problems) != 2 {
		t.Fatalf("preview: status %d: %s", res.StatusCode, b)
	}

	res, b = call(t, f.Env, "POST", "/users/import", f.rw, `{"csv":`+quote(bad)+`}`)
	refusal := decode[api.ImportRefusal](t, b)
	if res.StatusCode != http.StatusBadRequest || refusal.Error.Code != portico.EINVALID || len(refusal.Error.Rows) != 2 ||
		refusal.Error.Rows[0].Line != 3 || !strings.Contains(refusal.Error.Rows[0].Problems[0], "taken") {
		t.Errorf("an import with problems: status %d: %s", res.StatusCode, b)
	}
	if users, _ := f.Service.Users(f.Op); len(users) != 2 {
		t.Fatalf("a refused import created users: %d users", len(users))
	}

	good := "username,email,name,roles\ncarol,carol@example.com,Carol,lock\ndave,dave@example.com,Dave,\n"
	res, b = callAs(t, f, "POST", "/users/import", "text/csv; charset=utf-8", good)
	done := decode[api.ImportResponse](t, b)
	if res.StatusCode != http.StatusCreated || len(done.Users) != 2 || done.Mailed != 2 || done.Users[0].Username != "carol" {
		t.Errorf("import: status %d: %s", res.StatusCode, b)
	}

	for _, tt := range []struct{ name, contentType, body, want string }{
		{"no csv field", "application/json", `{}`, "Send the CSV file"},
		{"an unknown field", "application/json", `{"csv":"username\n","file":"x"}`, "file"},
		{"an unknown column", "text/csv", "username,shoe_size\nx,42\n", "shoe_size"},
		{"too large", "text/csv", "username\n" + strings.Repeat("x", 1<<20), "larger than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, b := callAs(t, f, "POST", "/users/import/preview", tt.contentType, tt.body)
			wantError(t, res, b, http.StatusBadRequest, tt.want)
		})
	}
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func TestDeviceFilters(t *testing.T) {
	f := newFixture(t)
	// Alice's iPhone goes unseen for 40 days; the keys would expire, so
	// new ones are made.
	f.Clock.Advance(40 * 24 * time.Hour)
	_, f.rw = f.APIKey("provisioning-2", portico.ScopeReadWrite)
	_, f.ro = f.APIKey("reporting-2", portico.ScopeReadOnly)
	pixel, _ := f.RegisterDevice("bob", portico.PlatformAndroid, portico.DeviceDetails{Name: "Émile's Pixel", Model: "Pixel 8"})
	if _, err := f.Service.ChangeOwnership(f.Op, pixel.ID, portico.OwnershipCompany); err != nil {
		t.Fatal(err)
	}
	names := func(b []byte) []string {
		out := []string{}
		for _, d := range decode[api.List[portico.Device]](t, b).Items {
			out = append(out, d.Details.Name)
		}
		return out
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"platform=android", []string{"Émile's Pixel"}},
		{"status=active", []string{"Alice's iPhone", "Émile's Pixel"}},
		{"ownership=company", []string{"Émile's Pixel"}},
		{"owner=ALICE", []string{"Alice's iPhone"}},
		{"not_seen_days=30", []string{"Alice's iPhone"}},
		{"q=%C3%89MILE", []string{"Émile's Pixel"}},
		{"q=iphone&platform=android", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			res, b := call(t, f.Env, "GET", "/devices?"+tt.query, f.ro, "")
			if got := names(b); res.StatusCode != http.StatusOK || !slices.Equal(got, tt.want) {
				t.Errorf("status %d, devices %q, want %q", res.StatusCode, got, tt.want)
			}
		})
	}
	for _, tt := range []struct{ query, want string }{
		{"platform=palm", "not a platform"},
		{"status=lost", "not a device status"},
		{"ownership=mine", "not an ownership"},
		{"not_seen_days=0", "not a number of days from 1 to 3650"},
		{"q=" + strings.Repeat("x", 101), "at most 100 characters"},
	} {
		t.Run(tt.query, func(t *testing.T) {
			res, b := call(t, f.Env, "GET", "/devices?"+tt.query, f.ro, "")
			wantError(t, res, b, http.StatusBadRequest, tt.want)
		})
	}

	res, b := call(t, f.Env, "PUT", "/devices/"+id(f.device.ID)+"/ownership", f.rw, `{"ownership":"company"}`)
	if d := decode[portico.Device](t, b); res.StatusCode != http.StatusOK || d.Ownership != portico.OwnershipCompany {
		t.Errorf("ownership: status %d: %s", res.StatusCode, b)
	}
	res, b = call(t, f.Env, "PUT", "/devices/"+id(f.device.ID)+"/ownership", f.rw, `{"ownership":"borrowed"}`)
	wantError(t, res, b, http.StatusBadRequest, "not an ownership")
}

func TestAuditFilters(t *testing.T) {
	f := newFixture(t)
	day := f.Clock.Now().UTC().Truncate(24 * time.Hour)
	entries := []*portico.AuditEntry{
		{At: day.Add(-24 * time.Hour), Actor: "root", Action: "device.wipe", DeviceID: f.device.ID, Result: portico.ResultOK},
		{At: day, Actor: "Root", Action: "device.retire", DeviceID: f.device.ID, Result: portico.ResultDenied},
		{At: day.Add(time.Hour), Actor: "bob", Action: "devices", Result: portico.ResultFailed},
	}
	for _, e := range entries {
		if err := f.Store.AppendAudit(f.Op, e); err != nil {
			t.Fatal(err)
		}
	}
	onDay := day.Format("2006-01-02")
	tests := []struct {
		query string
		want  []*portico.AuditEntry
	}{
		{"actor=ROOT", []*portico.AuditEntry{entries[1], entries[0]}},
		{"action=device&actor=root", []*portico.AuditEntry{entries[1], entries[0]}},
		{"action=device.wipe", []*portico.AuditEntry{entries[0]}},
		{"result=failed", []*portico.AuditEntry{entries[2]}},
		{"from=" + onDay + "&actor=root", []*portico.AuditEntry{entries[1]}},
		{"to=" + day.Add(-24*time.Hour).Format("2006-01-02") + "&actor=root", []*portico.AuditEntry{entries[0]}},
		{"device_id=" + id(f.device.ID) + "&result=denied", []*portico.AuditEntry{entries[1]}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			res, b := call(t, f.Env, "GET", "/audit?"+tt.query, f.ro, "")
			got := decode[api.List[portico.AuditEntry]](t, b).Items
			if res.StatusCode != http.StatusOK || len(got) != len(tt.want) {
				t.Fatalf("status %d: %s", res.StatusCode, b)
			}
			for i := range got {
				if got[i].ID != tt.want[i].ID {
					t.Errorf("entry %d is %d, want %d", i, got[i].ID, tt.want[i].ID)
				}
			}
		})
	}
	_, b := call(t, f.Env, "GET", "/audit?actor=root&limit=1", f.ro, "")
	first := decode[api.List[portico.AuditEntry]](t, b)
	_, b = call(t, f.Env, "GET", "/audit?actor=root&limit=1&offset=1", f.ro, "")
	second := decode[api.List[portico.AuditEntry]](t, b)
	if len(first.Items) != 1 || first.NextOffset != 1 || len(second.Items) != 1 || second.NextOffset != 0 || second.Items[0].ID != entries[0].ID {
		t.Errorf("pages: %+v then %+v", first, second)
	}
	for _, tt := range []struct{ query, want string }{
		{"device_id=phone", "device_id is a whole number"},
		{"result=maybe", `"maybe" is not a result`},
		{"from=yesterday", `From: "yesterday" is not a date`},
		{"from=2026-03-05&to=2026-03-04", "The From date is after the To date."},
		{"actor=" + strings.Repeat("x", 101), "at most 100 characters"},
		{"offset=-1", "offset"},
	} {
		t.Run(tt.query, func(t *testing.T) {
			res, b := call(t, f.Env, "GET", "/audit?"+tt.query, f.ro, "")
			wantError(t, res, b, http.StatusBadRequest, tt.want)
		})
	}
}

func TestOutboxAndPushCertificate(t *testing.T) {
	f := newFixture(t)
	if res, b := call(t, f.Env, "POST", "/users/"+id(f.alice.ID)+"/password-link", f.rw, ""); res.StatusCode != http.StatusCreated {
		t.Fatalf("password link: status %d: %s", res.StatusCode, b)
	}
	res, b := call(t, f.Env, "GET", "/outbox?channel=mail&status=pending", f.ro, "")
	msgs := decode[api.List[portico.Message]](t, b).Items
	if res.StatusCode != http.StatusOK || len(msgs) != 1 || msgs[0].To != "alice@example.com" || !strings.Contains(msgs[0].Text, "/reset-password?t=") {
		t.Fatalf("outbox: status %d: %s", res.StatusCode, b)
	}
	res, b = call(t, f.Env, "GET", "/outbox/"+id(msgs[0].ID), f.ro, "")
	if m := decode[portico.Message](t, b); res.StatusCode != http.StatusOK || m.ID != msgs[0].ID {
		t.Errorf("message: status %d: %s", res.StatusCode, b)
	}
	_, b = call(t, f.Env, "GET", "/outbox?status=sent", f.ro, "")
	if sent := decode[api.List[portico.Message]](t, b); len(sent.Items) != 0 || !strings.Contains(string(b), `"items":[]`) {
		t.Errorf("sent messages: %s", b)
	}
	for _, tt := range []struct{ query, want string }{
		{"status=lost", "not a message status"},
		{"channel=pigeon", "not a channel"},
		{"limit=501", "limit is a whole number from 1 to 500"},
	} {
		res, b := call(t, f.Env, "GET", "/outbox?"+tt.query, f.ro, "")
		wantError(t, res, b, http.StatusBadRequest, tt.want)
	}
	res, b = call(t, f.Env, "GET", "/outbox/999", f.ro, "")
	wantError(t, res, b, http.StatusNotFound, "")

	res, b = call(t, f.Env, "GET", "/apple/push-certificate", f.ro, "")
	if res.StatusCode != http.StatusOK || string(b) != `{"certificate":null,"last_push":null}`+"\n" {
		t.Errorf("push certificate before any upload: status %d: %s", res.StatusCode, b)
	}
}

func TestTestMessage(t *testing.T) {
	f := newFixture(t)
	res, b := call(t, f.Env, "POST", "/settings/test", f.rw, `{"channel":"sms","to":"+44 20 7946 0000"}`)
	wantError(t, res, b, http.StatusConflict, "No SMS gateway is set up")

	gw := outboxtest.NewSMSGateway(t)
	if res, b := call(t, f.Env, "PATCH", "/settings", f.rw, `{"sms.url":"`+gw.URL+`/send"}`); res.StatusCode != http.StatusOK {
		t.Fatalf("settings: status %d: %s", res.StatusCode, b)
	}
	res, b = call(t, f.Env, "POST", "/settings/test", f.rw, `{"channel":"sms","to":"+44 20 7946 0000"}`)
	if got := decode[api.TestMessageResponse](t, b); res.StatusCode != http.StatusOK || !got.Sent || len(gw.Requests()) != 1 {
		t.Errorf("sent: status %d: %s", res.StatusCode, b)
	}
	gw.Answer(http.StatusServiceUnavailable)
	res, b = call(t, f.Env, "POST", "/settings/test", f.rw, `{"channel":"sms","to":"+44 20 7946 0000"}`)
	if got := decode[api.TestMessageResponse](t, b); res.StatusCode != http.StatusBadGateway || got.Sent || !strings.Contains(got.Failure, "503 Service Unavailable: request was:") {
		t.Errorf("refused by the gateway: status %d: %s", res.StatusCode, b)
	}
	entries, err := f.Service.AuditLog(f.Op, store.AuditFilter{Action: "settings.test_sms"})
	if err != nil || len(entries) != 2 || entries[0].Actor != "api-key:provisioning" || entries[0].Result != portico.ResultFailed ||
		entries[0].Detail != "the gateway answered 503 Service Unavailable" {
		t.Errorf("audited %+v, %v", entries, err)
	}
	for _, tt := range []struct{ body, want string }{
		{`{"channel":"apns","to":"x"}`, "not a channel with a test message"},
		{`{"channel":"sms","to":"call me"}`, "not a phone number"},
		{`{"channel":"sms","to":"+44 20 7946 0000","cc":"x"}`, "cc"},
	} {
		res, b := call(t, f.Env, "POST", "/settings/test", f.rw, tt.body)
		wantError(t, res, b, http.StatusBadRequest, tt.want)
	}
	if n := len(gw.Requests()); n != 2 {
		t.Errorf("the gateway received %d requests, want 2", n)
	}
}
