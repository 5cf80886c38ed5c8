package admin_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/store"
)

func userPath(u *portico.User) string { return "/admin/users/" + strconv.FormatInt(u.ID, 10) }

func TestUserListSearchesAndPages(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	for i := range 120 {
		e.AddUser(fmt.Sprintf("user%03d", i), false)
	}
	root := e.SignIn("root")
	tests := []struct {
		path      string
		want      []string
		not       []string
		morePages bool
	}{
		{"/admin/users", []string{"root", "user000", "user048"}, []string{"user049"}, true},
		{"/admin/users?page=2", []string{"user049", "user098"}, []string{"user048", "user099"}, true},
		{"/admin/users?page=3", []string{"user099", "user119"}, []string{"user098"}, false},
		{"/admin/users?q=USER11", []string{"user110", "user119"}, []string{"user100", "root"}, false},
		{"/admin/users?q=nobody", []string{"No user matches"}, []string{"user000"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := e.Get(root, tt.path)
			body := html.UnescapeString(res.Body)
			if res.Status != http.StatusOK {
				t.Fatalf("status %d", res.Status)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s is missing", w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(body, ">"+n+"<") {
					t.Errorf("%s is shown", n)
				}
			}
			if got := strings.Contains(body, "Next →"); got != tt.morePages {
				t.Errorf("next page link: %t, want %t", got, tt.morePages)
			}
		})
	}
}

func TestEditAndDisableUser(t *testing.T) {
	e := servertest.New(t)
	root := e.AddUser("root", true)
	alice := e.AddUser("alice", false)
	admin := e.SignIn("root")
	aliceBrowser := e.SignIn("alice")

	res := e.PostForm(admin, userPath(alice)+"/details", url.Values{"name": {"Alice L"}, "email": {"bad@"}, "phone": {""}})
	if res.Status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(res.Body), "not an email address") || !strings.Contains(res.Body, `value="bad@"`) {
		t.Errorf("bad email: status %d", res.Status)
	}
	res = e.PostForm(admin, userPath(alice)+"/details", url.Values{"name": {"Alice L"}, "email": {"al@example.com"}, "phone": {"+41 79 111 22 33"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("edit: status %d\n%s", res.Status, res.Body)
	}
	if u, _ := e.Service.User(e.Op, alice.ID); u.Email != "al@example.com" || u.Phone != "+41 79 111 22 33" {
		t.Errorf("stored %+v", u)
	}

	// Disabling needs the confirmation box.
	res = e.PostForm(admin, userPath(alice)+"/disable", url.Values{})
	if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, "Tick the box") {
		t.Errorf("unconfirmed disable: status %d", res.Status)
	}
	if res := e.Get(aliceBrowser, "/"); res.Status != http.StatusOK {
		t.Fatalf("alice's session before disabling: %d", res.Status)
	}
	res = e.PostForm(admin, userPath(alice)+"/disable", url.Values{"confirm": {"on"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("disable: status %d\n%s", res.Status, res.Body)
	}
	if res := e.Get(aliceBrowser, "/"); res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Errorf("alice's session after disabling: status %d to %s", res.Status, res.Header.Get("Location"))
	}
	res = e.PostForm(e.Browser(), "/login", url.Values{"username": {"alice"}, "password": {servertest.Password("alice")}})
	if res.Status != http.StatusForbidden || !strings.Contains(res.Body, "disabled") {
		t.Errorf("alice signs in: status %d", res.Status)
	}
	res = e.PostForm(admin, userPath(root)+"/disable", url.Values{"confirm": {"on"}})
	if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, "your own account") {
		t.Errorf("disabling oneself: status %d", res.Status)
	}
	if res := e.PostForm(admin, userPath(alice)+"/enable", url.Values{}); res.Status != http.StatusSeeOther {
		t.Errorf("enable: status %d", res.Status)
	}
	e.SignIn("alice")
}

func TestPasswordLinkPage(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	alice := e.AddUser("alice", false)
	admin := e.SignIn("root")
	res := e.PostForm(admin, userPath(alice)+"/password-link", url.Values{})
	m := regexp.MustCompile(`class="secret">http[^"<]*(/reset-password\?t=[^<"]+)<`).FindStringSubmatch(res.Body)
	if res.Status != http.StatusCreated || m == nil {
		t.Fatalf("status %d, no link:\n%s", res.Status, res.Body)
	}
	path := html.UnescapeString(m[1])
	token := strings.TrimPrefix(path, "/reset-password?t=")
	token, _ = url.QueryUnescape(token)
	visitor := e.Browser()
	if res := e.Get(visitor, path); res.Status != http.StatusOK || !strings.Contains(res.Body, "alice") {
		t.Fatalf("link page: status %d", res.Status)
	}
	res = e.PostForm(visitor, "/reset-password", url.Values{"t": {token}, "password": {"short"}, "repeat": {"short"}})
	if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, "at least") {
		t.Errorf("too short: status %d", res.Status)
	}
	res = e.PostForm(visitor, "/reset-password", url.Values{"t": {token}, "password": {"a-good-password-1"}, "repeat": {"a-good-password-1"}})
	if res.Status != http.StatusOK || !strings.Contains(res.Body, "is set") {
		t.Fatalf("set: status %d\n%s", res.Status, res.Body)
	}
	if res := e.Get(visitor, path); res.Status != http.StatusConflict || !strings.Contains(res.Body, "already used") {
		t.Errorf("used link: status %d", res.Status)
	}
	if res := e.Get(visitor, "/reset-password?t=nonsense"); res.Status != http.StatusNotFound || !strings.Contains(res.Body, "not valid") {
		t.Errorf("unknown link: status %d", res.Status)
	}
	res = e.PostForm(e.Browser(), "/login", url.Values{"username": {"alice"}, "password": {"a-good-password-1"}})
	if res.Status != http.StatusSeeOther {
		t.Errorf("sign-in with the new password: status %d", res.Status)
	}
}

func TestTemporaryPasswordLeadsToTheChangePage(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	alice := e.AddUser("alice", false, portico.RoleChangeAccount)
	admin := e.SignIn("root")
	if res := e.PostForm(admin, userPath(alice)+"/temporary-password", url.Values{}); res.Status != http.StatusBadRequest {
		t.Errorf("unconfirmed: status %d", res.Status)
	}
	res := e.PostForm(admin, userPath(alice)+"/temporary-password", url.Values{"confirm": {"on"}})
	m := regexp.MustCompile(`class="secret">([^<]+)<`).FindStringSubmatch(res.Body)
	if res.Status != http.StatusCreated || m == nil {
		t.Fatalf("status %d:\n%s", res.Status, res.Body)
	}
	c := e.Browser()
	if res := e.PostForm(c, "/login", url.Values{"username": {"alice"}, "password": {m[1]}, "next": {"/account"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", res.Status)
	}
	for _, path := range []string{"/", "/account", "/register"} {
		if res := e.Get(c, path); res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/change-password" {
			t.Errorf("%s: status %d to %q", path, res.Status, res.Header.Get("Location"))
		}
	}
	if res := e.PostForm(c, "/account", url.Values{"name": {"x"}}); res.Status != http.StatusForbidden {
		t.Errorf("posting elsewhere: status %d", res.Status)
	}
	if res := e.PostForm(c, "/change-password", url.Values{"password": {"a-new-one-1"}, "repeat": {"other-1"}}); res.Status != http.StatusBadRequest {
		t.Errorf("differing: status %d", res.Status)
	}
	if res := e.PostForm(c, "/change-password", url.Values{"password": {"a-new-one-1"}, "repeat": {"a-new-one-1"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("change: status %d", res.Status)
	}
	if res := e.Get(c, "/account"); res.Status != http.StatusOK {
		t.Errorf("account page after the change: status %d", res.Status)
	}
}

func TestBulkRolesAndRoleSets(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	alice := e.AddUser("alice", false)
	bob := e.AddUser("bob", false)
	carol := e.AddUser("carol", false)
	admin := e.SignIn("root")
	ids := []string{strconv.FormatInt(alice.ID, 10), strconv.FormatInt(bob.ID, 10)}

	res := e.PostForm(admin, "/admin/users/bulk", url.Values{"user": ids, "action": {"grant"}, "role": {"lock", "wipe"}, "q": {"a"}})
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/admin/users?q=a" {
		t.Fatalf("grant: status %d to %s\n%s", res.Status, res.Header.Get("Location"), res.Body)
	}
	res = e.PostForm(admin, "/admin/users/bulk", url.Values{"user": ids, "action": {"revoke"}, "role": {"wipe"}})
	if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, "Tick the box") || !strings.Contains(res.Body, `value="`+ids[0]+`" aria-label="Tick alice" checked`) {
		t.Errorf("unconfirmed revoke: status %d", res.Status)
	}
	if res := e.PostForm(admin, "/admin/users/bulk", url.Values{"action": {"grant"}, "role": {"lock"}}); res.Status != http.StatusBadRequest || !strings.Contains(res.Body, "Tick at least one user") {
		t.Errorf("nobody ticked: status %d", res.Status)
	}

	res = e.PostForm(admin, "/admin/rolesets", url.Values{"name": {"Executive"}, "role": {"locate", "retire"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("create set: status %d\n%s", res.Status, res.Body)
	}
	if res := e.PostForm(admin, "/admin/rolesets", url.Values{"name": {"executive"}}); res.Status != http.StatusConflict {
		t.Errorf("same name: status %d", res.Status)
	}
	sets, _ := e.Service.RoleSets(e.Op)
	set := strconv.FormatInt(sets[0].ID, 10)
	res = e.PostForm(admin, "/admin/users/bulk", url.Values{"user": ids, "action": {"assign"}, "set": {set}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("assign: status %d\n%s", res.Status, res.Body)
	}
	page := html.UnescapeString(e.Get(admin, userPath(bob)).Body)
	if !strings.Contains(page, "Lock, Locate, Retire, Wipe") && !strings.Contains(page, "Locate, Lock, Retire, Wipe") {
		t.Errorf("bob's effective roles are not shown:\n%s", page)
	}
	if u, _ := e.Service.User(e.Op, bob.ID); !u.HasRole(portico.RoleRetire) || u.HasOwnRole(portico.RoleRetire) {
		t.Errorf("bob: %+v", u)
	}
	if u, _ := e.Service.User(e.Op, carol.ID); u.HasRole(portico.RoleRetire) {
		t.Error("carol, not ticked, has the set's role")
	}
	if res := e.PostForm(admin, "/admin/rolesets/"+set+"/delete", url.Values{}); res.Status != http.StatusBadRequest {
		t.Errorf("unconfirmed delete: status %d", res.Status)
	}
	if res := e.PostForm(admin, "/admin/rolesets/"+set+"/delete", url.Values{"confirm": {"on"}}); res.Status != http.StatusSeeOther {
		t.Errorf("delete: status %d", res.Status)
	}
	if u, _ := e.Service.User(e.Op, bob.ID); u.HasRole(portico.RoleRetire) || !u.HasRole(portico.RoleWipe) {
		t.Errorf("bob after the set went: %v", u.Roles)
	}
}

func TestImportPreviewThenImport(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	admin := e.SignIn("root")
	bad := "username,email,name,phone,roles\nann,ann@example.com,Ann,,lock\nben,ben@,Ben,,\ncid,cid@example.com,Cid,,fly\n"
	res := e.PostMultipart(admin, "/admin/users/import/preview", url.Values{}, servertest.File{Field: "file", Name: "users.csv", Data: []byte(bad)})
	body := html.UnescapeString(res.Body)
	if res.Status != http.StatusBadRequest || !strings.Contains(body, "2 of 3 rows have a problem") ||
		!strings.Contains(body, `"ben@" is not an email address`) || !strings.Contains(body, `"fly" is not a portal role`) {
		t.Fatalf("preview: status %d\n%s", res.Status, body)
	}
	if !strings.Contains(body, "ben,ben@,Ben,,") || strings.Contains(body, `id="import"`) {
		t.Error("the preview does not keep the CSV, or offers Import with problems")
	}
	// Import refuses the bad file even when asked directly.
	if res := e.PostMultipart(admin, "/admin/users/import", url.Values{"csv": {bad}}); res.Status != http.StatusBadRequest {
		t.Errorf("import of a bad file: status %d", res.Status)
	}
	if users, _ := e.Service.SearchUsers(e.Op, store.UserFilter{}); len(users) != 1 {
		t.Fatalf("a refused import wrote users: %d", len(users))
	}
	good := strings.NewReplacer("ben@,", "ben@example.com,", "fly", "wipe").Replace(bad)
	res = e.PostMultipart(admin, "/admin/users/import/preview", url.Values{"csv": {good}})
	if res.Status != http.StatusOK || !strings.Contains(res.Body, `id="import"`) {
		t.Fatalf("preview of the fixed file: status %d", res.Status)
	}
	res = e.PostMultipart(admin, "/admin/users/import", url.Values{"csv": {good}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("import: status %d\n%s", res.Status, res.Body)
	}
	flash := html.UnescapeString(e.Get(admin, "/admin/users").Body)
	if !strings.Contains(flash, "Imported 3 users; 3 users were mailed") {
		t.Errorf("the result is not shown:\n%s", flash)
	}
	if res := e.PostForm(admin, "/admin/users/import", url.Values{"csv": {"nonsense"}}); res.Status != http.StatusBadRequest {
		t.Errorf("no header: status %d", res.Status)
	}
}
