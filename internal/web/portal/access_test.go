package portal_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/portico-mdm/portico/internal/server/servertest"
)

// An admin on a network that only the admin portal's list admits signs
// in, with a second factor or a temporary password to replace, and lands
// in the admin portal rather than on a refusal.
func TestAdminOutsideThePortalSignsInToTheAdminPortal(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	e.AddUser("alice", false)
	temp := e.AddUser("temp", true)
	login := func(c *http.Client, user, password, next string) string {
		t.Helper()
		form := url.Values{"username": {user}, "password": {password}}
		if next != "" {
			form.Set("next", next)
		}
		res := e.PostForm(c, "/login", form)
		if res.Status != http.StatusSeeOther {
			t.Fatalf("%s signing in: status %d\n%s", user, res.Status, res.Body)
		}
		return res.Header.Get("Location")
	}
	// While the portal admits the admin, home is home.
	if to := login(e.Browser(), "root", servertest.Password("root"), ""); to != "/" {
		t.Errorf("inside the portal's networks: to %q", to)
	}
	secret, _ := setUpTwoFactor(t, e, e.SignIn("root"))

	if err := e.Service.SetSettings(e.Op, map[string]string{"access.portal_networks": "10.0.0.0/8", "access.admin_networks": "127.0.0.0/8, ::1"}); err != nil {
		t.Fatal(err)
	}
	c := e.Browser()
	if to := login(c, "root", servertest.Password("root"), ""); to != "/login/code" {
		t.Fatalf("after the password: to %q", to)
	}
	res := e.PostForm(c, "/login/code", url.Values{"code": {code(t, e, secret)}})
	if to := res.Header.Get("Location"); res.Status != http.StatusSeeOther || to != "/admin/" {
		t.Errorf("after the code: status %d to %q", res.Status, to)
	}
	if res := e.Get(c, "/admin/users"); res.Status != http.StatusOK {
		t.Errorf("admin portal: status %d", res.Status)
	}

	_, password, err := e.Service.SetTemporaryPassword(e.Op, temp.ID)
	if err != nil {
		t.Fatal(err)
	}
	c = e.Browser()
	if to := login(c, "temp", password, ""); to != "/admin/" {
		t.Errorf("with a temporary password: to %q", to)
	}
	if res := e.Get(c, "/change-password"); res.Status != http.StatusOK {
		t.Errorf("choosing a password: status %d", res.Status)
	}
	if res := e.Get(e.Browser(), "/reset-password?t=made-up"); res.Status != http.StatusNotFound {
		t.Errorf("a password link: status %d, want 404 (not valid, but reached)", res.Status)
	}

	// Where the admin was going, and users who are no admins, stay as
	// they were.
	if to := login(e.Browser(), "temp", password, "/account"); to != "/account" {
		t.Errorf("with somewhere to go: to %q", to)
	}
	if to := login(e.Browser(), "alice", servertest.Password("alice"), ""); to != "/" {
		t.Errorf("a user: to %q", to)
	}
}
