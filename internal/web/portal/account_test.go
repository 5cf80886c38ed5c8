package portal_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/server/servertest"
)

// TestAccountPasswordForEveryone: every signed-in user changes their own
// password; only the role change_account changes the name and email address.
func TestAccountPasswordForEveryone(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false, portico.RoleChangeAccount)
	e.AddUser("bob", false, portico.RoleRegisterDevice)
	e.AddUser("root", true)
	alice, bob, root := e.SignIn("alice"), e.SignIn("bob"), e.SignIn("root")

	if res := e.Get(alice, "/"); !strings.Contains(res.Body, `<a href="/account">Change account info</a>`) {
		t.Errorf("alice's menu lacks Change account info:\n%s", res.Body)
	}
	for name, res := range map[string]servertest.Response{
		"alice": e.Get(alice, "/"), "bob": e.Get(bob, "/"), "root, admin portal": e.Get(root, "/admin/users"),
	} {
		if !strings.Contains(res.Body, `<a href="/account#password">Change password</a>`) {
			t.Errorf("%s: the menu lacks Change password:\n%s", name, res.Body)
		}
	}
	if res := e.Get(bob, "/"); strings.Contains(res.Body, `<a href="/account">`) {
		t.Errorf("bob's menu offers Change account info:\n%s", res.Body)
	}

	res := e.Get(bob, "/account")
	if res.Status != http.StatusOK || !strings.Contains(res.Body, "<h1>Change password</h1>") ||
		strings.Contains(res.Body, `name="email"`) || strings.Contains(res.Body, `name="name"`) {
		t.Errorf("bob's account page: status %d, want the password form only:\n%s", res.Status, res.Body)
	}
	res = e.PostForm(bob, "/account", url.Values{"name": {"Bobby"}, "email": {"bob@example.com"}})
	if res.Status != http.StatusForbidden || !strings.Contains(res.Body, "may not change its name or email address") {
		t.Errorf("bob changing his name: status %d, want 403:\n%s", res.Status, res.Body)
	}
	if u, _ := e.Store.UserByUsername(t.Context(), "bob"); u.Name != "Bob Example" {
		t.Errorf("bob's name became %q", u.Name)
	}

	res = e.PostForm(bob, "/account", url.Values{
		"current_password": {servertest.Password("bob")}, "new_password": {"a-new-one-4-bob"}, "repeat_password": {"a-new-one-4-bob"},
	})
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/account" {
		t.Fatalf("bob changing his password: status %d to %q:\n%s", res.Status, res.Header.Get("Location"), res.Body)
	}
	if res := e.Get(bob, "/account"); !strings.Contains(res.Body, "Saved your new password.") {
		t.Errorf("no confirmation after bob's new password:\n%s", res.Body)
	}
	if _, err := e.Service.Login(t.Context(), "bob", "a-new-one-4-bob"); err != nil {
		t.Errorf("bob's new password does not work: %v", err)
	}
	if u, _ := e.Store.UserByUsername(t.Context(), "bob"); u.Name != "Bob Example" || u.Email != "bob@example.com" {
		t.Errorf("changing the password changed bob's details: %+v", u)
	}
}

func TestAccountForm(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false, portico.RoleChangeAccount)
	if err := e.Service.SetSettings(e.Op, map[string]string{"password.min_length": "12", "password.letters_and_digits": "true"}); err != nil {
		t.Fatal(err)
	}
	res := e.Get(e.SignIn("alice"), "/account")
	body := html.UnescapeString(res.Body)
	for _, want := range []string{
		`name="name" autocomplete="name" maxlength="200" value="Alice Example"`,
		`value="alice@example.com"`,
		"At least 12 characters, with letters and digits",
		`name="current_password" type="password"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("account page lacks %q:\n%s", want, body)
		}
	}
}

func TestAccountRefusalsKeepTheForm(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false, portico.RoleChangeAccount)
	e.AddUser("carol", false)
	alice := e.SignIn("alice")
	form := func(email, current, next, repeat string) url.Values {
		return url.Values{
			"name": {"Alice <Liddell>"}, "email": {email},
			"current_password": {current}, "new_password": {next}, "repeat_password": {repeat},
		}
	}
	tests := []struct {
		name   string
		form   url.Values
		status int
		msg    string
	}{
		{"wrong current password", form("liddell@example.com", "not-my-password", "", ""), http.StatusBadRequest, "Your current password is wrong."},
		{"no current password", form("liddell@example.com", "", "", ""), http.StatusBadRequest, "Type your current password to change your email address."},
		{"weak password", form("alice@example.com", "alice-password", "short1", "short1"), http.StatusBadRequest, "A password has at least 10 characters."},
		{"repetition differs", form("alice@example.com", "alice-password", "a-long-new-password", "a-long-new-passwort"), http.StatusBadRequest, "repetition differ"},
		{"email taken", form("carol@example.com", "alice-password", "", ""), http.StatusConflict, "The email address carol@example.com belongs to another user."},
		{"email invalid", form("liddell at example", "alice-password", "", ""), http.StatusBadRequest, "is not an email address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.PostForm(alice, "/account", tt.form)
			body := html.UnescapeString(res.Body)
			if res.Status != tt.status || !strings.Contains(body, tt.msg) {
				t.Fatalf("status %d, want %d with %q:\n%s", res.Status, tt.status, tt.msg, body)
			}
			if !strings.Contains(res.Body, `value="Alice &lt;Liddell&gt;"`) || !strings.Contains(body, `value="`+tt.form.Get("email")+`"`) {
				t.Errorf("the form lost what was typed:\n%s", res.Body)
			}
			for _, field := range []string{"current_password", "new_password", "repeat_password"} {
				if p := tt.form.Get(field); p != "" && strings.Contains(body, p) {
					t.Errorf("the page repeats the %s", field)
				}
			}
		})
	}
	if u, _ := e.Store.UserByUsername(t.Context(), "alice"); u.Name != "Alice Example" || u.Email != "alice@example.com" {
		t.Errorf("refused changes changed alice: %+v", u)
	}
}

func TestAccountChangeName(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false, portico.RoleChangeAccount)
	alice := e.SignIn("alice")
	res := e.PostForm(alice, "/account", url.Values{"name": {"Alice Liddell"}, "email": {"alice@example.com"}})
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/account" {
		t.Fatalf("status %d to %q:\n%s", res.Status, res.Header.Get("Location"), res.Body)
	}
	res = e.Get(alice, "/account")
	for _, want := range []string{"Saved your new name.", "Welcome, <strong>Alice Liddell</strong>", `value="Alice Liddell"`} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("after saving, the page lacks %q:\n%s", want, res.Body)
		}
	}
}

// TestPasswordChangeEndsOtherSessions: the browser that changed the
// password stays signed in, every other session of the user ends, and
// another user's does not.
func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false, portico.RoleChangeAccount)
	e.AddUser("bob", false)
	here, elsewhere, bob := e.SignIn("alice"), e.SignIn("alice"), e.SignIn("bob")

	res := e.PostForm(here, "/account", url.Values{
		"name": {"Alice Example"}, "email": {"alice@example.com"}, "current_password": {servertest.Password("alice")},
		"new_password": {"down the rabbit hole"}, "repeat_password": {"down the rabbit hole"},
	})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("status %d:\n%s", res.Status, res.Body)
	}
	if res := e.Get(here, "/account"); res.Status != http.StatusOK || !strings.Contains(res.Body, "Saved your new password. You were signed out everywhere else.") {
		t.Errorf("the browser that changed the password: status %d:\n%s", res.Status, res.Body)
	}
	if res := e.Get(here, "/"); res.Status != http.StatusOK {
		t.Errorf("the browser that changed the password was signed out: status %d", res.Status)
	}
	if res := e.Get(elsewhere, "/"); res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Errorf("alice's other session: status %d to %q, want the sign-in page", res.Status, res.Header.Get("Location"))
	}
	if res := e.PostForm(elsewhere, "/account", url.Values{"name": {"Mallory"}, "email": {"alice@example.com"}}); res.Status != http.StatusUnauthorized {
		t.Errorf("a change from alice's other session: status %d, want 401", res.Status)
	}
	if res := e.Get(bob, "/"); res.Status != http.StatusOK {
		t.Errorf("bob's session: status %d", res.Status)
	}

	signIn := func(password string) int {
		return e.PostForm(e.Browser(), "/login", url.Values{"username": {"alice"}, "password": {password}}).Status
	}
	if s := signIn(servertest.Password("alice")); s != http.StatusUnauthorized {
		t.Errorf("the old password: status %d", s)
	}
	if s := signIn("down the rabbit hole"); s != http.StatusSeeOther {
		t.Errorf("the new password: status %d", s)
	}
}
