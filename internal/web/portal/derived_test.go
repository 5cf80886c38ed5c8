package portal_test

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/service"
)

const providerSecret = "shared-secret-of-the-provider-0123456789"

// provider is a derived-credential provider's self-service module on
// loopback, as docs/derived-credentials.md tells an integrator to build
// it: it signs its result with the shared secret and sends the browser
// back to return_url.
func provider(t *testing.T, result string) *httptest.Server {
	t.Helper()
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		back, err := url.Parse(q.Get("return_url"))
		if err != nil || q.Get("state") == "" || r.URL.Path != "/piv" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		v := url.Values{"state": {q.Get("state")}, "result": {result},
			"signature": {service.DerivedSignature(providerSecret, q.Get("state"), result)}}
		back.RawQuery = v.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	}))
	t.Cleanup(p.Close)
	return p
}

func configureProvider(t *testing.T, e *servertest.Env, providerURL string) {
	t.Helper()
	if err := e.Service.SetSettings(e.Op, map[string]string{
		"derived.provider": "Company ID", "derived.url": providerURL + "/piv",
		"derived.secret": providerSecret, "registration.pin_enabled": "true",
	}); err != nil {
		t.Fatal(err)
	}
}

var derivedForm = regexp.MustCompile(`<form method="post" action="(/registrations/\d+/derived-credential)"><button type="submit" class="secondary">Request derived credential</button>`)

// requestPIN starts a PIN registration in the portal and returns the path
// of its Request derived credential, checking that the PIN page shows it.
func requestPIN(t *testing.T, e *servertest.Env, c *http.Client, platform string) (page, action string) {
	t.Helper()
	res := e.PostForm(c, "/register", url.Values{"how": {"pin"}, "platform": {platform}})
	if res.Status != http.StatusOK {
		t.Fatalf("requesting a PIN: status %d\n%s", res.Status, res.Body)
	}
	if m := derivedForm.FindStringSubmatch(res.Body); m != nil {
		action = m[1]
	}
	return res.Body, action
}

// following is the browser c that follows redirects, to any site, as a
// browser does; it records where it went.
func following(c *http.Client, visited *[]*url.URL) *http.Client {
	f := *c
	f.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		*visited = append(*visited, req.URL)
		return nil
	}
	return &f
}

func TestDerivedCredentialThroughLoopbackProvider(t *testing.T) {
	e := servertest.New(t)
	p := provider(t, service.DerivedResultSuccess)
	configureProvider(t, e, p.URL)
	e.AddUser("alice", false, portico.RoleRequestPIN)
	alice := e.SignIn("alice")

	_, action := requestPIN(t, e, alice, "ios")
	if action == "" {
		t.Fatal("the PIN page of an iPhone has no Request derived credential")
	}
	if home := e.Get(alice, "/").Body; !strings.Contains(home, `action="`+action+`"`) {
		t.Fatalf("the pending iPhone's card has no Request derived credential:\n%s", home)
	}

	res := e.PostForm(alice, action, nil)
	refresh := res.Header.Get("Refresh")
	to, ok := strings.CutPrefix(refresh, "0; url=")
	if res.Status != http.StatusOK || !ok || !strings.HasPrefix(to, p.URL+"/piv?") ||
		!strings.Contains(res.Body, `href="`+html.EscapeString(to)+`"`) {
		t.Fatalf("status %d, Refresh %q, body:\n%s", res.Status, refresh, res.Body)
	}
	q, _ := url.Parse(to)
	if got := q.Query().Get("return_url"); got != e.URL+"/"+service.DerivedReturnPath {
		t.Errorf("return_url = %q", got)
	}

	var visited []*url.URL
	browser := following(alice, &visited)
	got, err := browser.Get(to)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if got.StatusCode != http.StatusOK || got.Request.URL.Path != "/" ||
		!strings.Contains(string(body), "Company ID issued your derived credential for your iPhone.") {
		t.Fatalf("after the provider: %d at %s\n%s", got.StatusCode, got.Request.URL, body)
	}
	if !strings.Contains(string(body), `<button type="button" class="secondary" disabled>Derived credential issued ✓</button>`) ||
		derivedForm.MatchString(string(body)) {
		t.Errorf("the button is not disabled after a success:\n%s", body)
	}
	if res := e.PostForm(alice, action, nil); res.Status != http.StatusConflict || !strings.Contains(res.Body, "already issued") {
		t.Errorf("requesting again after a success: status %d", res.Status)
	}

	// The same return, replayed, is refused and changes nothing.
	if len(visited) != 2 || visited[0].Path != "/"+service.DerivedReturnPath {
		t.Fatalf("the browser went through %v", visited)
	}
	replay := visited[0].RequestURI()
	if res := e.Get(alice, replay); res.Status != http.StatusConflict || !strings.Contains(res.Body, "already used") {
		t.Errorf("a replayed return: status %d\n%s", res.Status, res.Body)
	}
}

func TestDerivedCredentialFailureKeepsTheButton(t *testing.T) {
	e := servertest.New(t)
	configureProvider(t, e, provider(t, service.DerivedResultFailure).URL)
	e.AddUser("alice", false, portico.RoleRequestPIN)
	alice := e.SignIn("alice")
	_, action := requestPIN(t, e, alice, "android")
	to, _ := strings.CutPrefix(e.PostForm(alice, action, nil).Header.Get("Refresh"), "0; url=")
	var visited []*url.URL
	got, err := following(alice, &visited).Get(to)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if !strings.Contains(string(body), "Company ID did not issue a derived credential for your Android device. You can request one again.") ||
		!derivedForm.MatchString(string(body)) {
		t.Errorf("after a failure:\n%s", body)
	}
}

func TestDerivedCredentialOnlyForPhonesAndTablets(t *testing.T) {
	e := servertest.New(t)
	configureProvider(t, e, "https://id.example")
	e.AddUser("alice", false, portico.RoleRequestPIN)
	alice := e.SignIn("alice")
	for _, p := range []string{"macos", "windows"} {
		if page, action := requestPIN(t, e, alice, p); action != "" || strings.Contains(page, "Derived credential") {
			t.Errorf("the PIN page of %s offers a derived credential", p)
		}
	}
	if home := e.Get(alice, "/").Body; strings.Contains(home, "derived") {
		t.Errorf("a Mac or PC card offers a derived credential:\n%s", home)
	}
	if _, action := requestPIN(t, e, alice, "ipados"); action == "" {
		t.Error("the PIN page of an iPad offers no derived credential")
	}

	// Without a provider, nothing is offered.
	if err := e.Service.SetSettings(e.Op, map[string]string{"derived.url": ""}); err != nil {
		t.Fatal(err)
	}
	if page, action := requestPIN(t, e, alice, "ios"); action != "" || strings.Contains(page, "Derived credential") {
		t.Error("the PIN page offers a derived credential with no provider configured")
	}
	if home := e.Get(alice, "/").Body; strings.Contains(home, "derived") {
		t.Error("a card offers a derived credential with no provider configured")
	}
}

func TestDerivedReturnRefusedInThePortal(t *testing.T) {
	e := servertest.New(t)
	configureProvider(t, e, "https://id.example")
	e.AddUser("alice", false, portico.RoleRequestPIN)
	e.AddUser("bob", false, portico.RoleRequestPIN)
	alice, bob := e.SignIn("alice"), e.SignIn("bob")
	_, action := requestPIN(t, e, alice, "ios")
	to, _ := strings.CutPrefix(e.PostForm(alice, action, nil).Header.Get("Refresh"), "0; url=")
	u, _ := url.Parse(to)
	state := u.Query().Get("state")
	path := func(state, result, signature string) string {
		return "/" + service.DerivedReturnPath + "?" + url.Values{"state": {state}, "result": {result}, "signature": {signature}}.Encode()
	}
	good := path(state, "success", service.DerivedSignature(providerSecret, state, "success"))

	tests := []struct {
		name   string
		c      *http.Client
		path   string
		status int
		says   string
	}{
		{"forged", alice, path(state, "success", service.DerivedSignature("not-the-shared-secret-0123456789abcdef", state, "success")), http.StatusForbidden, "signature of this return link is wrong"},
		{"incomplete", alice, "/" + service.DerivedReturnPath + "?state=" + state, http.StatusBadRequest, "incomplete"},
		{"another user's", bob, good, http.StatusForbidden, "another user"},
		{"unknown", alice, path("nope", "success", service.DerivedSignature(providerSecret, "nope", "success")), http.StatusNotFound, "names no request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.Get(tt.c, tt.path)
			if res.Status != tt.status || !strings.Contains(html.UnescapeString(res.Body), tt.says) {
				t.Errorf("status %d, want %d saying %q\n%s", res.Status, tt.status, tt.says, res.Body)
			}
		})
	}

	// Signed out, the return waits behind the sign-in page and keeps its
	// parameters for after it.
	res := e.Get(e.Browser(), good)
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/login?next="+url.QueryEscape(good) {
		t.Errorf("signed out: status %d, Location %q", res.Status, res.Header.Get("Location"))
	}
	// None of the refusals used the state.
	if res := e.Get(alice, good); res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Errorf("the state after refusals: status %d\n%s", res.Status, res.Body)
	}
	if res := e.PostForm(bob, action, nil); res.Status != http.StatusNotFound {
		t.Errorf("bob requesting for alice's registration: status %d", res.Status)
	}
}
