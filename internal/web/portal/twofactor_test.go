package portal_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/server/servertest"
)

var secretOnPage = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)

func code(t *testing.T, e *servertest.Env, secret string) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, e.Clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// setUpTwoFactor switches the browser's user's second factor on and
// returns its secret and the page that showed the recovery codes.
func setUpTwoFactor(t *testing.T, e *servertest.Env, c *http.Client) (string, string) {
	t.Helper()
	if res := e.PostForm(c, "/account/two-factor/start", nil); res.Status != http.StatusSeeOther {
		t.Fatalf("start: status %d\n%s", res.Status, res.Body)
	}
	page := e.Get(c, "/account/two-factor")
	m := secretOnPage.FindStringSubmatch(page.Body)
	if m == nil || !strings.Contains(page.Body, "<svg") {
		t.Fatalf("no QR code or secret on the page:\n%s", page.Body)
	}
	res := e.PostForm(c, "/account/two-factor/confirm", url.Values{"code": {code(t, e, m[1])}})
	if res.Status != http.StatusOK || strings.Count(res.Body, `<code class="secret">`) != 10 {
		t.Fatalf("confirm: status %d\n%s", res.Status, res.Body)
	}
	e.Clock.Advance(30 * time.Second)
	return m[1], res.Body
}

func TestSignInWithSecondFactor(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false, portico.RoleRegisterDevice)
	secret, _ := setUpTwoFactor(t, e, e.SignIn("alice"))

	c := e.Browser()
	res := e.PostForm(c, "/login", url.Values{"username": {"alice"}, "password": {servertest.Password("alice")}, "next": {"/register"}})
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/login/code" {
		t.Fatalf("after the password: status %d, to %q", res.Status, res.Header.Get("Location"))
	}
	// Half signed in: nothing but the code page.
	if res := e.Get(c, "/"); res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Errorf("home while held: status %d, to %q", res.Status, res.Header.Get("Location"))
	}
	if res := e.Get(c, "/login/code"); res.Status != http.StatusOK || !strings.Contains(res.Body, `name="code"`) {
		t.Errorf("code page: status %d", res.Status)
	}
	res = e.PostForm(c, "/login/code", url.Values{"code": {"000000"}})
	if res.Status != http.StatusUnauthorized || !strings.Contains(res.Body, "The code is wrong") {
		t.Errorf("a wrong code: status %d\n%s", res.Status, res.Body)
	}
	e.Clock.Advance(2 * time.Second)
	res = e.PostForm(c, "/login/code", url.Values{"code": {code(t, e, secret)}})
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/register" {
		t.Fatalf("a right code: status %d, to %q\n%s", res.Status, res.Header.Get("Location"), res.Body)
	}
	if res := e.Get(c, "/"); res.Status != http.StatusOK {
		t.Errorf("home after the code: status %d", res.Status)
	}
	// Without a held sign-in the code page sends to the password.
	if res := e.Get(e.Browser(), "/login/code"); res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Errorf("code page without a password: status %d", res.Status)
	}

	// A held sign-in lapses.
	c = e.Browser()
	e.PostForm(c, "/login", url.Values{"username": {"alice"}, "password": {servertest.Password("alice")}})
	e.Clock.Advance(6 * time.Minute)
	res = e.PostForm(c, "/login/code", url.Values{"code": {code(t, e, secret)}})
	if res.Status != http.StatusUnauthorized || !strings.Contains(res.Body, "took too long") || !strings.Contains(res.Body, `name="password"`) {
		t.Errorf("a late code: status %d\n%s", res.Status, res.Body)
	}
}

func TestAdminsMustSetUpSecondFactor(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	root := e.SignIn("root")
	if err := e.Service.SetSettings(e.Op, map[string]string{"security.require_admin_2fa": "true"}); err != nil {
		t.Fatal(err)
	}
	if res := e.Get(root, "/admin/users"); res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/account/two-factor" {
		t.Fatalf("admin page without a second factor: status %d, to %q", res.Status, res.Header.Get("Location"))
	}
	if res := e.PostForm(root, "/admin/settings/helpdesk", url.Values{"helpdesk.name": {"x"}}); res.Status != http.StatusForbidden {
		t.Errorf("admin write without a second factor: status %d", res.Status)
	}
	if res := e.Get(root, "/account/two-factor"); res.Status != http.StatusOK || !strings.Contains(res.Body, "Administrators must use two-step sign-in") {
		t.Errorf("set-up page: status %d\n%s", res.Status, res.Body)
	}
	setUpTwoFactor(t, e, root)
	if res := e.Get(root, "/admin/users"); res.Status != http.StatusOK {
		t.Errorf("admin page with a second factor: status %d", res.Status)
	}
}

// The registration page asks a user with two-step sign-in for the code
// once the password turned out to need it, and registers with both.
func TestGoAsksForTheCodeOfASecondFactor(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false, portico.RoleRegisterDevice)
	secret, _ := setUpTwoFactor(t, e, e.SignIn("alice"))
	phone := e.Browser()
	form := url.Values{"username": {"alice"}, "password": {servertest.Password("alice")}, "platform": {"windows"}}
	if res := e.Get(phone, "/go"); strings.Contains(res.Body, `name="code"`) {
		t.Error("the code field is shown before it is needed")
	}
	res := e.PostForm(phone, "/go", form)
	if res.Status != http.StatusUnauthorized || !strings.Contains(res.Body, `name="code"`) || !strings.Contains(res.Body, "two-step sign-in") {
		t.Fatalf("the password alone: status %d\n%s", res.Status, res.Body)
	}
	form.Set("code", "000000")
	res = e.PostForm(phone, "/go", form)
	if res.Status != http.StatusUnauthorized || !strings.Contains(res.Body, `name="code"`) || !strings.Contains(res.Body, "The code is wrong") {
		t.Fatalf("a wrong code: status %d\n%s", res.Status, res.Body)
	}
	e.Clock.Advance(30 * time.Second)
	form.Set("code", code(t, e, secret))
	if res := e.PostForm(phone, "/go", form); res.Status != http.StatusOK {
		t.Errorf("with the code: status %d\n%s", res.Status, res.Body)
	}
}
