package portal_test

import (
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/server/servertest"
)

var iPhone = portico.DeviceDetails{
	Name: "Alice's iPhone", Model: "iPhone 15 Pro", Manufacturer: "Apple", OSVersion: "17.4",
	PhoneNumber: "+1 555 0100", Carrier: "Verizon", IMEI: "356938035643809", Serial: "F2LXK0AAHG7F",
}

func TestHomeShowsEveryDetailOfEachDevice(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false, portico.RoleLock)
	d, _ := e.RegisterDevice("alice", portico.PlatformIOS, iPhone)
	e.Clock.Advance(2*time.Hour + 5*time.Minute)

	res := e.Get(e.SignIn("alice"), "/")
	if res.Status != http.StatusOK {
		t.Fatalf("status %d", res.Status)
	}
	body := html.UnescapeString(res.Body)
	for _, want := range []string{
		"Alice Example", // the welcome menu
		"Alice's iPhone", "iPhone 15 Pro", "Apple", "iOS 17.4.0", "+1 555 0100", "Verizon",
		"356938035643809", "F2LXK0AAHG7F", "Active", "Employee", "2 Mar 2026",
		"2 hours ago", `title="2 Mar 2026, 09:00 UTC"`, // relative, exact on hover
		"/devices/" + itoa(d.ID),
		"IT Helpdesk", // HOME-2 on every page
	} {
		if !strings.Contains(body, want) {
			t.Errorf("home page lacks %q", want)
		}
	}
}

func TestHomeWithoutDevices(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false)
	res := e.Get(e.SignIn("alice"), "/")
	if res.Status != http.StatusOK || !strings.Contains(res.Body, "no registered devices") {
		t.Errorf("status %d, body:\n%s", res.Status, res.Body)
	}
}

func TestDevicePage(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false)
	e.AddUser("bob", false)
	d, _ := e.RegisterDevice("alice", portico.PlatformIOS, iPhone)
	alice := e.SignIn("alice")
	bob := e.SignIn("bob")

	tests := []struct {
		name   string
		client *http.Client
		path   string
		status int
		want   string
	}{
		{"owner", alice, "/devices/" + itoa(d.ID), http.StatusOK, "356938035643809"},
		{"another user", bob, "/devices/" + itoa(d.ID), http.StatusNotFound, "There is no device"},
		{"missing", alice, "/devices/999", http.StatusNotFound, "There is no device"},
		{"not a number", alice, "/devices/abc", http.StatusNotFound, "There is no device"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.Get(tt.client, tt.path)
			if res.Status != tt.status || !strings.Contains(res.Body, tt.want) {
				t.Errorf("status %d, want %d with %q:\n%s", res.Status, tt.status, tt.want, res.Body)
			}
		})
	}
	if res := e.Get(bob, "/devices/"+itoa(d.ID)); strings.Contains(res.Body, "356938035643809") {
		t.Error("bob sees alice's device details")
	}
}

func TestLogin(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false)
	tests := []struct {
		name     string
		form     url.Values
		status   int
		location string
	}{
		{"right password", url.Values{"username": {"alice"}, "password": {"alice-password"}}, http.StatusSeeOther, "/"},
		{"back where she was going", url.Values{"username": {"alice"}, "password": {"alice-password"}, "next": {"/devices/1"}}, http.StatusSeeOther, "/devices/1"},
		{"never to another site", url.Values{"username": {"alice"}, "password": {"alice-password"}, "next": {"//evil.example/"}}, http.StatusSeeOther, "/"},
		{"wrong password", url.Values{"username": {"alice"}, "password": {"nope"}}, http.StatusUnauthorized, ""},
		{"unknown user", url.Values{"username": {"nobody"}, "password": {"nope"}}, http.StatusUnauthorized, ""},
	}
	var failures []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.PostForm(e.Browser(), "/login", tt.form)
			if res.Status != tt.status || res.Header.Get("Location") != tt.location {
				t.Fatalf("status %d to %q, want %d to %q", res.Status, res.Header.Get("Location"), tt.status, tt.location)
			}
			if res.Status == http.StatusUnauthorized {
				failures = append(failures, pageError(res.Body))
			}
		})
	}
	if len(failures) != 2 || failures[0] != failures[1] || failures[0] == "" {
		t.Errorf("a wrong password and an unknown user must get the same message: %q", failures)
	}
}

// pageError is the text of the page's error message.
func pageError(body string) string {
	_, rest, _ := strings.Cut(body, `class="error" role="alert">`)
	msg, _, _ := strings.Cut(rest, "<")
	return msg
}

func TestLoginRefusesAnotherSiteAndSignOutEndsTheSession(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false)
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/login", strings.NewReader("username=alice&password=alice-password"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := e.Browser().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site sign-in: status %d, want 403", res.StatusCode)
	}

	alice := e.SignIn("alice")
	if res := e.PostForm(alice, "/logout", nil); res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/login?signed_out=1" {
		t.Fatalf("sign out: status %d to %q", res.Status, res.Header.Get("Location"))
	}
	if res := e.Get(alice, "/"); res.Status != http.StatusSeeOther {
		t.Errorf("home after signing out: status %d, want a redirect to sign in", res.Status)
	}
}

func TestSecurityHeadersAndCookie(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false)
	res, err := e.Browser().PostForm(e.URL+"/login", url.Values{"username": {"alice"}, "password": {"alice-password"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options"} {
		if res.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if !strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Error("the CSP allows framing")
	}
	cookies := res.Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteLaxMode {
		t.Errorf("session cookie %+v, want one HttpOnly SameSite=Lax cookie", cookies)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestSessionPolicyAppliesWithoutRestart changes the idle timeout while the
// server runs: the next sign-in's cookie follows it.
func TestSessionPolicyAppliesWithoutRestart(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false)
	maxAge := func() int {
		res, err := e.Browser().PostForm(e.URL+"/login", url.Values{"username": {"alice"}, "password": {"alice-password"}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		for _, c := range res.Cookies() {
			return c.MaxAge
		}
		t.Fatal("no session cookie")
		return 0
	}
	if got := maxAge(); got != 30*60 {
		t.Errorf("Max-Age %d with the default idle timeout, want 1800", got)
	}
	if err := e.Service.SetSettings(e.Op, map[string]string{"session.idle_timeout": "5m"}); err != nil {
		t.Fatal(err)
	}
	if got := maxAge(); got != 5*60 {
		t.Errorf("Max-Age %d after setting the idle timeout to 5m, want 300", got)
	}
}
