package admin_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/server/servertest"
)

func TestCreateUserShowsPasswordOnceAndItWorks(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	root := e.SignIn("root")
	res := e.PostForm(root, "/admin/users", url.Values{
		"username": {"carol"}, "name": {"Carol Jones"}, "email": {"carol@example.com"},
		"role": {"lock", "wipe"},
	})
	if res.Status != http.StatusCreated {
		t.Fatalf("status %d:\n%s", res.Status, res.Body)
	}
	m := regexp.MustCompile(`class="secret">([^<]+)<`).FindStringSubmatch(res.Body)
	if m == nil {
		t.Fatalf("no password on the page:\n%s", res.Body)
	}
	if res := e.PostForm(e.Browser(), "/login", url.Values{"username": {"carol"}, "password": {m[1]}}); res.Status != http.StatusSeeOther {
		t.Errorf("carol cannot sign in with the shown password: status %d", res.Status)
	}
	if again := e.Get(root, "/admin/users"); strings.Contains(again.Body, m[1]) {
		t.Error("the password is shown a second time")
	}
	u, err := e.Service.UserByUsername(e.Op, "carol")
	if err != nil || !u.HasRole(portico.RoleLock) || !u.HasRole(portico.RoleWipe) || u.HasRole(portico.RoleUnlock) {
		t.Errorf("carol: %+v, %v", u, err)
	}
}

func TestCreateUserRefusalsKeepTheForm(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	root := e.SignIn("root")
	tests := []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"bad email", url.Values{"username": {"dave"}, "email": {"dave@"}}, http.StatusBadRequest, "not an email address"},
		{"taken", url.Values{"username": {"root"}, "email": {"r@example.com"}}, http.StatusConflict, "taken"},
		{"unknown role", url.Values{"username": {"dave"}, "email": {"dave@example.com"}, "role": {"fly"}}, http.StatusBadRequest, "not a portal role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.PostForm(root, "/admin/users", tt.form)
			body := html.UnescapeString(res.Body)
			if res.Status != tt.status || !strings.Contains(body, tt.want) || !strings.Contains(body, `value="`+tt.form.Get("username")+`"`) {
				t.Errorf("status %d, want %d with %q and the typed user name:\n%s", res.Status, tt.status, tt.want, body)
			}
		})
	}
	users, _ := e.Service.Users(e.Op)
	if len(users) != 1 {
		t.Errorf("refusals created users: %d", len(users))
	}
}

func TestSetRoles(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	alice := e.AddUser("alice", false, portico.RoleLock)
	root := e.SignIn("root")
	path := "/admin/users/" + strconv.FormatInt(alice.ID, 10)
	res := e.PostForm(root, path+"/roles", url.Values{"role": {"unlock", "locate"}})
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != path {
		t.Fatalf("status %d to %q", res.Status, res.Header.Get("Location"))
	}
	page := e.Get(root, path)
	if !strings.Contains(page.Body, "Saved the portal roles of alice.") {
		t.Error("no confirmation after saving roles")
	}
	for role, want := range map[portico.Role]bool{portico.RoleUnlock: true, portico.RoleLocate: true, portico.RoleLock: false} {
		checked := strings.Contains(page.Body, `value="`+string(role)+`" checked`)
		if checked != want {
			t.Errorf("role %s checked = %t, want %t", role, checked, want)
		}
	}
	if res := e.PostForm(root, path+"/roles", url.Values{"role": {"fly"}}); res.Status != http.StatusBadRequest {
		t.Errorf("an unknown role: status %d", res.Status)
	}
	if res := e.PostForm(root, "/admin/users/9999/roles", url.Values{"role": {"lock"}}); res.Status != http.StatusNotFound {
		t.Errorf("a missing user: status %d", res.Status)
	}
}

func TestHelpdeskContactIsOnEveryPage(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	root := e.SignIn("root")
	form := url.Values{
		"helpdesk.name": {"Service Desk"}, "helpdesk.phone": {"+44 20 7946 0000"},
		"helpdesk.email": {"desk@example.com"}, "helpdesk.hours": {"Mon–Fri 8–18"}, "helpdesk.text": {"Lost a phone? Call us first."},
	}
	if res := e.PostForm(root, "/admin/settings/helpdesk", form); res.Status != http.StatusSeeOther {
		t.Fatalf("saving: status %d:\n%s", res.Status, res.Body)
	}
	for _, path := range []string{"/login", "/admin/users", "/admin/settings/helpdesk"} {
		body := html.UnescapeString(e.Get(root, path).Body)
		for _, v := range form {
			if !strings.Contains(body, v[0]) {
				t.Errorf("%s lacks %q", path, v[0])
			}
		}
	}
	bad := url.Values{"helpdesk.name": {"Desk"}, "helpdesk.email": {"not-an-email"}}
	if res := e.PostForm(root, "/admin/settings/helpdesk", bad); res.Status != http.StatusBadRequest || !strings.Contains(res.Body, "not an email address") {
		t.Errorf("a bad email: status %d", res.Status)
	}
	v, _ := e.Service.Settings(e.Op)
	if v.Get("helpdesk.name") != "Service Desk" {
		t.Errorf("a refused form changed the name to %q", v.Get("helpdesk.name"))
	}
}

func TestDevicesAndAuditLog(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	e.AddUser("alice", false)
	e.RegisterDevice("alice", portico.PlatformAndroid, portico.DeviceDetails{Name: "Pixel of Alice", Model: "Pixel 8", OSVersion: "14"})
	root := e.SignIn("root")
	devices := html.UnescapeString(e.Get(root, "/admin/devices").Body)
	for _, want := range []string{"Pixel of Alice", "alice", "Android 14.0.0", "Active"} {
		if !strings.Contains(devices, want) {
			t.Errorf("the device list lacks %q", want)
		}
	}
	audit := e.Get(root, "/admin/audit?actor=alice")
	if !strings.Contains(audit.Body, "device.register") || strings.Contains(audit.Body, "user.create") {
		t.Errorf("the audit log filtered to alice:\n%s", audit.Body)
	}
}

func TestSettingsPages(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	root := e.SignIn("root")
	if res := e.Get(root, "/admin/settings"); res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/admin/settings/helpdesk" {
		t.Errorf("/admin/settings: status %d to %q", res.Status, res.Header.Get("Location"))
	}
	if res := e.Get(root, "/admin/settings/nonsense"); res.Status != http.StatusNotFound {
		t.Errorf("an unknown group: status %d", res.Status)
	}
	for _, g := range portico.SettingGroups {
		res := e.Get(root, "/admin/settings/"+g.Key)
		if res.Status != http.StatusOK {
			t.Errorf("%s: status %d", g.Key, res.Status)
		}
		for _, def := range portico.GroupSettings(g.Key) {
			if !strings.Contains(res.Body, `name="`+def.Key+`"`) {
				t.Errorf("%s has no field for %s", g.Key, def.Key)
			}
		}
	}
	res := e.PostForm(root, "/admin/settings/security", url.Values{"session.idle_timeout": {"45m"}, "login.max_failures": {"7"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("saving: status %d", res.Status)
	}
	v, _ := e.Service.Settings(e.Op)
	if v.Get("session.idle_timeout") != "45m" || v.Get("login.max_failures") != "7" || v.Get("login.lockout") != "15m" {
		t.Errorf("stored %v", v)
	}
}

// The tab bar marks the section the page belongs to, including the pages
// under a tab, and only that one.
func TestTabBarMarksTheCurrentTab(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	root := e.SignIn("root")
	tabs := regexp.MustCompile(`(?s)<nav class="tabs".*?</nav>`)
	current := regexp.MustCompile(`<a href="([^"]+)" aria-current="page">`)
	for _, c := range []struct{ path, want string }{
		{"/admin/users", "/admin/users"},
		{"/admin/users/import", "/admin/users"},
		{"/admin/settings/helpdesk", "/admin/settings"},
		{"/admin/apple/push", "/admin/apple/push"},
		{"/admin/audit", "/admin/audit"},
	} {
		res := e.Get(root, c.path)
		if res.Status != http.StatusOK {
			t.Fatalf("%s: status %d", c.path, res.Status)
		}
		var got []string
		for _, m := range current.FindAllStringSubmatch(tabs.FindString(res.Body), -1) {
			got = append(got, m[1])
		}
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("%s marks %v as current, want %q", c.path, got, c.want)
		}
	}
}
