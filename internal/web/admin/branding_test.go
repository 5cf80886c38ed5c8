package admin_test

import (
	"bytes"
	"html"
	"image"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
)

func smallPNG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 64, 24))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestBrandingShowsOnTheSignInPage: what an admin saves is on the next
// page anyone loads, escaped, and the colour reaches the stylesheet.
func TestBrandingShowsOnTheSignInPage(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	root := e.SignIn("root")
	res := e.PostForm(root, "/admin/settings/branding", url.Values{
		"branding.name": {"ACME <Devices>"}, "branding.color": {"#F0c000"},
		"branding.login_text": {"Staff only.\n<script>alert(1)</script>"},
	})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("saving: status %d\n%s", res.Status, res.Body)
	}
	login := e.Get(e.Browser(), "/login")
	for _, want := range []string{
		"<title>Sign in · ACME &lt;Devices&gt;</title>",
		`<a class="brand" href="/">ACME &lt;Devices&gt;</a>`,
		`<p class="login-text">Staff only.` + "\n" + `&lt;script&gt;alert(1)&lt;/script&gt;</p>`,
		`<link rel="stylesheet" href="/brand.css?v=` + (portico.Brand{Color: "#f0c000"}).CSSVersion() + `">`,
	} {
		if !strings.Contains(login.Body, want) {
			t.Errorf("the sign-in page lacks %q:\n%s", want, login.Body)
		}
	}
	if strings.Contains(login.Body, "<script>alert") {
		t.Error("the sign-in text is not escaped")
	}
	css := e.Get(e.Browser(), "/brand.css")
	// A light colour gets dark text on it.
	if css.Status != http.StatusOK || css.Header.Get("Content-Type") != "text/css; charset=utf-8" ||
		!strings.Contains(css.Body, "--brand: #f0c000; --brand-dark: #b49000; --on-brand: #1d2430;") {
		t.Errorf("brand.css: status %d, %q:\n%s", css.Status, css.Header.Get("Content-Type"), css.Body)
	}
	if csp := login.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "style-src 'self';") {
		t.Errorf("the page's policy changed: %s", csp)
	}

	entries, _ := e.Service.AuditLog(e.Op, store.AuditFilter{Actor: "root"})
	var changed []string
	for _, en := range entries {
		if en.Action == "settings.change" {
			changed = append(changed, en.Target)
		}
	}
	if len(changed) != 3 {
		t.Errorf("audited changes of %q, want the three branding settings", changed)
	}
}

func TestBrandingRefusals(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	root := e.SignIn("root")
	tests := []struct {
		name string
		form url.Values
		want string
	}{
		{"a colour by name", url.Values{"branding.color": {"red"}}, "not a colour written as #rrggbb"},
		{"CSS in the colour", url.Values{"branding.color": {"#fff;} body {display:none"}}, "not a colour written as #rrggbb"},
		{"no name", url.Values{"branding.name": {"  "}}, "The portal needs a name."},
		{"a name of two lines", url.Values{"branding.name": {"ACME\nDevices"}}, "one line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.PostForm(root, "/admin/settings/branding", tt.form)
			if res.Status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(res.Body), tt.want) {
				t.Errorf("status %d, want 400 with %q:\n%s", res.Status, tt.want, res.Body)
			}
			// The page still has the logo's part.
			if !strings.Contains(res.Body, `action="/admin/branding/logo"`) {
				t.Error("the refused form lost the logo's part of the page")
			}
		})
	}
	v, _ := e.Service.Settings(e.Op)
	if v.PortalName() != portico.DefaultPortalName || v.Get("branding.color") != portico.DefaultBrandColor {
		t.Errorf("refusals changed the brand: %q %q", v.PortalName(), v.Get("branding.color"))
	}
}

func TestLogoUploadServeAndRemove(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	e.AddUser("alice", false)
	root := e.SignIn("root")
	anyone := e.Browser()

	if res := e.Get(anyone, "/brand/logo"); res.Status != http.StatusNotFound {
		t.Errorf("no logo yet: status %d", res.Status)
	}
	pngData := smallPNG(t)
	res := e.PostMultipart(root, "/admin/branding/logo", nil, servertest.File{Field: "logo", Name: "logo.png", Data: pngData})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("upload: status %d\n%s", res.Status, res.Body)
	}
	logo := e.Get(anyone, "/brand/logo")
	if logo.Status != http.StatusOK || logo.Body != string(pngData) || logo.Header.Get("Content-Type") != "image/png" ||
		logo.Header.Get("X-Content-Type-Options") != "nosniff" || logo.Header.Get("Content-Security-Policy") != "default-src 'none'; sandbox" {
		t.Errorf("the PNG logo: status %d, headers %v", logo.Status, logo.Header)
	}
	login := e.Get(anyone, "/login")
	if !strings.Contains(login.Body, `<img class="logo" src="/brand/logo?v=`) {
		t.Errorf("the sign-in page does not show the logo:\n%s", login.Body)
	}
	req, _ := http.NewRequest("GET", e.URL+"/brand/logo", nil)
	req.Header.Set("If-None-Match", logo.Header.Get("ETag"))
	if again, err := anyone.Do(req); err != nil || again.StatusCode != http.StatusNotModified {
		t.Errorf("revalidating the unchanged logo: %v %v", again, err)
	}

	refusals := []struct {
		name string
		file servertest.File
		want string
	}{
		{"an SVG with a script", servertest.File{Field: "logo", Name: "x.svg", Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)}, "it has a script (<script>)"},
		{"an SVG with onload", servertest.File{Field: "logo", Name: "x.svg", Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`)}, "event handler (onload)"},
		{"a file too large", servertest.File{Field: "logo", Name: "big.png", Data: append(smallPNG(t), make([]byte, 300<<10)...)}, "it may be at most 256 KiB"},
		{"a file far too large", servertest.File{Field: "logo", Name: "huge.png", Data: make([]byte, 2<<20)}, "a logo is at most 256 KiB"},
		{"not an image", servertest.File{Field: "logo", Name: "notes.txt", Data: []byte("hello")}, "neither a PNG nor an SVG"},
		{"no file", servertest.File{Field: "other", Name: "x.png", Data: pngData}, "Choose the logo file"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			res := e.PostMultipart(root, "/admin/branding/logo", nil, tt.file)
			if res.Status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(res.Body), tt.want) {
				t.Errorf("status %d, want 400 with %q:\n%s", res.Status, tt.want, res.Body)
			}
			if still := e.Get(anyone, "/brand/logo"); still.Body != string(pngData) {
				t.Error("a refused upload replaced the logo")
			}
		})
	}

	alice := e.SignIn("alice")
	if res := e.PostMultipart(alice, "/admin/branding/logo", nil, servertest.File{Field: "logo", Name: "x.png", Data: pngData}); res.Status != http.StatusForbidden {
		t.Errorf("alice's upload: status %d", res.Status)
	}

	svg := `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="#1f5fbf"/></svg>`
	if res := e.PostMultipart(root, "/admin/branding/logo", nil, servertest.File{Field: "logo", Name: "logo.svg", Data: []byte(svg)}); res.Status != http.StatusSeeOther {
		t.Fatalf("SVG upload: status %d\n%s", res.Status, res.Body)
	}
	logo = e.Get(anyone, "/brand/logo")
	if logo.Header.Get("Content-Type") != "image/svg+xml" || logo.Header.Get("Content-Security-Policy") != "default-src 'none'; style-src 'unsafe-inline'; sandbox" ||
		logo.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(logo.Body, `<rect width="10" height="10" fill="#1f5fbf"></rect>`) {
		t.Errorf("the SVG logo: headers %v\n%s", logo.Header, logo.Body)
	}

	page := e.Get(root, "/admin/settings/branding")
	if !strings.Contains(page.Body, "Remove the logo") || !strings.Contains(page.Body, "SVG, ") {
		t.Errorf("the branding page does not offer to remove the SVG logo:\n%s", page.Body)
	}
	if res := e.PostForm(root, "/admin/branding/logo/remove", nil); res.Status != http.StatusSeeOther {
		t.Fatalf("remove: status %d\n%s", res.Status, res.Body)
	}
	if res := e.Get(anyone, "/brand/logo"); res.Status != http.StatusNotFound {
		t.Errorf("after removal: status %d", res.Status)
	}
	if login := e.Get(anyone, "/login"); strings.Contains(login.Body, `class="logo"`) {
		t.Error("the sign-in page still shows a logo")
	}
	if res := e.PostForm(root, "/admin/branding/logo/remove", nil); res.Status != http.StatusNotFound {
		t.Errorf("removing no logo: status %d", res.Status)
	}

	var actions []string
	entries, _ := e.Service.AuditLog(e.Op, store.AuditFilter{})
	for _, en := range entries {
		if strings.HasPrefix(en.Action, "branding.") {
			actions = append(actions, en.Action+":"+en.Actor+":"+en.Result)
		}
	}
	want := []string{"branding.logo_remove:root:ok", "branding.logo:root:ok", "branding.logo:root:ok"}
	if strings.Join(actions, " ") != strings.Join(want, " ") {
		t.Errorf("audited %q, want %q", actions, want)
	}
}

// TestBrandingIsSharedByInstances changes the brand through a second
// service on the same database, as another instance would: the first
// server's next page and logo reflect it, since nothing keeps them in
// memory.
func TestBrandingIsSharedByInstances(t *testing.T) {
	e := servertest.New(t)
	other := service.New(service.Config{Store: e.Store, Passwords: secret.Cheap, Clock: e.Clock})
	anyone := e.Browser()
	for _, name := range []string{"ACME One", "ACME Two"} {
		if err := other.SetSettings(e.Op, map[string]string{"branding.name": name}); err != nil {
			t.Fatal(err)
		}
		if body := e.Get(anyone, "/login").Body; !strings.Contains(body, "<title>Sign in · "+name+"</title>") {
			t.Errorf("the sign-in page does not show the name %q set by another instance", name)
		}
	}
	pngData := smallPNG(t)
	l, err := other.SetLogo(e.Op, pngData)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Get(anyone, "/brand/logo"); got.Body != string(pngData) {
		t.Error("the logo set by another instance is not served")
	}
	if body := e.Get(anyone, "/login").Body; !strings.Contains(body, "/brand/logo?v="+l.Digest) {
		t.Error("the sign-in page does not link the logo set by another instance")
	}
	if err := other.RemoveLogo(e.Op); err != nil {
		t.Fatal(err)
	}
	if got := e.Get(anyone, "/brand/logo"); got.Status != http.StatusNotFound {
		t.Errorf("the logo removed by another instance: status %d", got.Status)
	}
}
