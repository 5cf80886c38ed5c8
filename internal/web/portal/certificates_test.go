package portal_test

import (
	"context"
	"crypto/x509/pkix"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/certfile"
	"github.com/portico-mdm/portico/internal/certfile/certfiletest"
	"github.com/portico-mdm/portico/internal/server/servertest"
)

const p12Password = "Portal-Upload-Secret-99"

var portalCA = certfiletest.NewCA("Portico Portal CA")

// leaf is a certificate of alice's issued by portalCA, valid until the date.
func leaf(cn string, until time.Time) *certfiletest.Identity {
	return certfiletest.New(certfiletest.Options{
		Subject: pkix.Name{CommonName: cn}, Email: "alice@example.com", Issuer: portalCA,
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: until,
	})
}

// certEnv is a server where users upload both types and the email
// configuration uses them, with alice (who may) and bob (who may too).
func certEnv(t *testing.T) (*servertest.Env, *portico.User, *portico.User) {
	t.Helper()
	e := servertest.New(t)
	if err := e.Service.SetSettings(e.Op, map[string]string{
		"certificates.signing": "Email signing certificate", "certificates.encryption": "Email encryption certificate",
		"email.server": "mail.example.com",
	}); err != nil {
		t.Fatal(err)
	}
	alice := e.AddUser("alice", false, portico.RoleManageCertificates)
	bob := e.AddUser("bob", false, portico.RoleManageCertificates)
	return e, alice, bob
}

func userCtx(u *portico.User) context.Context {
	return portico.NewContextWithActor(context.Background(), portico.Actor{User: u})
}

func uploadForm(typ string) url.Values {
	return url.Values{"type": {typ}, "password": {p12Password}}
}

func p12(data []byte) servertest.File {
	return servertest.File{Field: "file", Name: "alice.p12", Data: data}
}

func myCerts(t *testing.T, e *servertest.Env, u *portico.User) []*portico.Certificate {
	t.Helper()
	certs, err := e.Service.MyCertificates(userCtx(u))
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

func TestCertificatesMenuNeedsTheRoleAndANamedType(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]string
		role     bool
		shown    bool
	}{
		{"role and a named type", map[string]string{"certificates.encryption": "Encryption certificate"}, true, true},
		{"role, no named type", map[string]string{"email.server": "mail.example.com"}, true, false},
		{"named type, no role", map[string]string{"certificates.signing": "Signing certificate"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := servertest.New(t)
			if err := e.Service.SetSettings(e.Op, tt.settings); err != nil {
				t.Fatal(err)
			}
			roles := []portico.Role{portico.RoleLock}
			if tt.role {
				roles = append(roles, portico.RoleManageCertificates)
			}
			e.AddUser("alice", false, roles...)
			alice := e.SignIn("alice")
			home := e.Get(alice, "/").Body
			if got := strings.Contains(home, `href="/certificates"`) && strings.Contains(home, "My certificates"); got != tt.shown {
				t.Errorf("menu shows My certificates: %v, want %v", got, tt.shown)
			}
			page := e.Get(alice, "/certificates")
			want := http.StatusOK
			if !tt.shown {
				want = http.StatusForbidden
			}
			if page.Status != want {
				t.Errorf("GET /certificates: status %d, want %d", page.Status, want)
			}
			if tt.shown && !strings.Contains(page.Body, `<option value="encryption">Encryption certificate</option>`) {
				t.Errorf("the form does not offer the named type:\n%s", page.Body)
			}
			if tt.shown && strings.Contains(page.Body, `value="signing"`) {
				t.Error("the form offers a type the admin did not name")
			}
			if !tt.shown {
				res := e.PostMultipart(alice, "/certificates", uploadForm("signing"), p12(leaf("Alice", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)).PKCS12(p12Password)))
				if res.Status != http.StatusForbidden {
					t.Errorf("POST /certificates: status %d, want 403", res.Status)
				}
			}
		})
	}
}

func TestUploadListsAndPushes(t *testing.T) {
	e, alice, _ := certEnv(t)
	e.RegisterDevice("alice", portico.PlatformIOS, iPhone)
	e.RegisterDevice("alice", portico.PlatformAndroid, portico.DeviceDetails{Name: "Alice's Pixel", Model: "Pixel 8"})
	browser := e.SignIn("alice")
	res := e.PostMultipart(browser, "/certificates", uploadForm("signing"), p12(leaf("Alice Example", time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)).PKCS12(p12Password)))
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/certificates" {
		t.Fatalf("upload: status %d to %q\n%s", res.Status, res.Header.Get("Location"), res.Body)
	}
	page := html.UnescapeString(e.Get(browser, "/certificates").Body)
	for _, want := range []string{
		"Saved the certificate of Alice Example. Sent the email configuration that uses it to your 2 devices.",
		"Email signing certificate", "Alice Example", "alice@example.com", "Portico Portal CA", "31 Jan 2027", "2 Mar 2026",
		`href="/certificates/`, "Clear private key", "Delete",
		"Alice's iPhone", "Alice's Pixel", "Email account", "Queued", `hx-get="/certificates/pushes"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, unwanted := range []string{"expires soon", "expired", "no private key", p12Password} {
		if strings.Contains(page, unwanted) {
			t.Errorf("the page shows %q", unwanted)
		}
	}
	fragment := e.Get(browser, "/certificates/pushes").Body
	if strings.Contains(fragment, "<html") || !strings.Contains(fragment, `id="pushes"`) || !strings.Contains(fragment, "Alice&#39;s Pixel") {
		t.Errorf("the pushes refresh is not the list alone:\n%s", fragment)
	}
	if certs := myCerts(t, e, alice); len(certs) != 1 || !certs[0].HasKey {
		t.Errorf("stored %+v", certs)
	}
}

func TestUploadRefusalsShowTheFormAgain(t *testing.T) {
	e, alice, _ := certEnv(t)
	good := leaf("Alice", time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC))
	browser := e.SignIn("alice")
	tests := []struct {
		name  string
		form  url.Values
		files []servertest.File
		want  string
	}{
		{"wrong password", url.Values{"type": {"signing"}, "password": {"not-it"}}, []servertest.File{p12(good.PKCS12(p12Password))}, "The password does not open this PKCS#12 file."},
		{"not PKCS#12", uploadForm("signing"), []servertest.File{p12([]byte("just some text"))}, "not a PKCS#12 file"},
		{"no private key", uploadForm("signing"), []servertest.File{p12(good.TrustStore(p12Password))}, "holds no private key"},
		{"expired", uploadForm("signing"), []servertest.File{p12(leaf("Old", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)).PKCS12(p12Password))}, "expired on 2026-02-01"},
		{"key of another certificate", uploadForm("signing"), []servertest.File{p12(good.WithKey(certfiletest.ECDSAKey(), p12Password))}, "does not belong"},
		{"oversized", uploadForm("signing"), []servertest.File{p12(make([]byte, certfile.MaxSize+1))}, "larger than 64 KiB"},
		{"far too large for the form", uploadForm("signing"), []servertest.File{p12(make([]byte, 4*certfile.MaxSize))}, "a certificate file is at most 64 KiB"},
		{"unknown type", uploadForm("authentication"), []servertest.File{p12(good.PKCS12(p12Password))}, "not a certificate type"},
		{"no file", uploadForm("signing"), nil, "Choose the certificate file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.PostMultipart(browser, "/certificates", tt.form, tt.files...)
			body := html.UnescapeString(res.Body)
			if res.Status != http.StatusBadRequest || !strings.Contains(body, tt.want) {
				t.Fatalf("status %d, want 400 with %q\n%s", res.Status, tt.want, body)
			}
			if !strings.Contains(body, "<h2>Add certificate</h2>") || !strings.Contains(body, `role="alert"`) {
				t.Error("the refusal does not show the form again with the message")
			}
			if strings.Contains(body, p12Password) || strings.Contains(body, "not-it") {
				t.Error("the page sends the password back")
			}
		})
	}
	if certs := myCerts(t, e, alice); len(certs) != 0 {
		t.Errorf("refused uploads stored %d certificates", len(certs))
	}
}

func TestExpiryMarks(t *testing.T) {
	e, alice, _ := certEnv(t)
	browser := e.SignIn("alice")
	// The server's clock is 2 March 2026.
	for typ, until := range map[string]time.Time{
		"signing":    time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC), // within 30 days
		"encryption": time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC),
	} {
		res := e.PostMultipart(browser, "/certificates", uploadForm(typ), p12(leaf("Alice "+typ, until).PKCS12(p12Password)))
		if res.Status != http.StatusSeeOther {
			t.Fatalf("upload %s: status %d\n%s", typ, res.Status, res.Body)
		}
	}
	rows := func() map[string]string {
		page := e.Get(browser, "/certificates").Body
		out := map[string]string{}
		for _, row := range strings.Split(page, "<tr>")[1:] {
			row, _, _ = strings.Cut(row, "</tr>")
			for _, name := range []string{"Email signing certificate", "Email encryption certificate"} {
				if strings.Contains(row, name) {
					out[name] = row
				}
			}
		}
		return out
	}
	r := rows()
	if len(r) != 2 {
		t.Fatalf("listed %d certificates, want 2", len(r))
	}
	if s := r["Email signing certificate"]; !strings.Contains(s, "20 Mar 2026") || !strings.Contains(s, "expires soon") {
		t.Errorf("the signing certificate, ending in 18 days, is not marked:\n%s", s)
	}
	if s := r["Email encryption certificate"]; strings.Contains(s, "expires soon") || strings.Contains(s, "expired") {
		t.Errorf("the encryption certificate, ending in June, is marked:\n%s", s)
	}
	e.Clock.Advance(20 * 24 * time.Hour) // 22 March
	r = rows()
	if s := r["Email signing certificate"]; !strings.Contains(s, "expired") || strings.Contains(s, "expires soon") {
		t.Errorf("the signing certificate, ended two days ago, is not marked expired:\n%s", s)
	}
	if s := r["Email encryption certificate"]; strings.Contains(s, "expires soon") || strings.Contains(s, "expired") {
		t.Errorf("the encryption certificate, ending in June, is marked:\n%s", s)
	}
	if certs := myCerts(t, e, alice); len(certs) != 2 {
		t.Errorf("%d certificates", len(certs))
	}
}

func TestEditClearKeyAndDelete(t *testing.T) {
	e, alice, _ := certEnv(t)
	d, _ := e.RegisterDevice("alice", portico.PlatformIOS, iPhone)
	browser := e.SignIn("alice")
	if res := e.PostMultipart(browser, "/certificates", uploadForm("encryption"), p12(leaf("Alice 2026", time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)).PKCS12(p12Password))); res.Status != http.StatusSeeOther {
		t.Fatalf("upload: status %d\n%s", res.Status, res.Body)
	}
	id := myCerts(t, e, alice)[0].ID
	path := "/certificates/" + itoa(id)

	edit := html.UnescapeString(e.Get(browser, path+"/edit").Body)
	if !strings.Contains(edit, "Replace Email encryption certificate") || !strings.Contains(edit, `action="`+path+`"`) {
		t.Errorf("the edit page does not offer to replace the certificate:\n%s", edit)
	}
	res := e.PostMultipart(browser, path, url.Values{"password": {"wrong"}}, p12(leaf("Alice 2027", time.Date(2028, 1, 31, 0, 0, 0, 0, time.UTC)).PKCS12(p12Password)))
	if body := html.UnescapeString(res.Body); res.Status != http.StatusBadRequest || !strings.Contains(body, "The password does not open") ||
		!strings.Contains(body, "Replace Email encryption certificate") {
		t.Errorf("a refused replacement: status %d\n%s", res.Status, body)
	}
	if c := myCerts(t, e, alice)[0]; c.Subject != "Alice 2026" {
		t.Errorf("a refused replacement changed the certificate to %q", c.Subject)
	}
	res = e.PostMultipart(browser, path, url.Values{"password": {p12Password}}, p12(leaf("Alice 2027", time.Date(2028, 1, 31, 0, 0, 0, 0, time.UTC)).PKCS12(p12Password)))
	if res.Status != http.StatusSeeOther {
		t.Fatalf("replace: status %d\n%s", res.Status, res.Body)
	}
	page := html.UnescapeString(e.Get(browser, "/certificates").Body)
	if !strings.Contains(page, "Saved the certificate of Alice 2027. Sent the email configuration that uses it to Alice's iPhone.") || !strings.Contains(page, "31 Jan 2028") {
		t.Errorf("after replacing, the page lacks the flash or the new expiry:\n%s", page)
	}
	pushes := func() int {
		cmds, err := e.Service.Commands(e.Op, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(cmds)
	}
	if n := pushes(); n != 2 {
		t.Errorf("upload and replacement queued %d commands, want 2", n)
	}

	res = e.PostForm(browser, path+"/clear-key", nil)
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/certificates" {
		t.Fatalf("clear key: status %d to %q", res.Status, res.Header.Get("Location"))
	}
	page = html.UnescapeString(e.Get(browser, "/certificates").Body)
	if !strings.Contains(page, "Removed the private key of Alice 2027. The certificate stays; nothing was sent to your devices.") || !strings.Contains(page, "no private key") {
		t.Errorf("after clearing the key:\n%s", page)
	}
	if strings.Contains(page, `action="`+path+`/clear-key"`) {
		t.Error("a certificate without a key still offers Clear private key")
	}
	if c := myCerts(t, e, alice)[0]; c.HasKey {
		t.Error("the key was not cleared")
	}

	res = e.PostForm(browser, path+"/delete", nil)
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/certificates" {
		t.Fatalf("delete: status %d to %q", res.Status, res.Header.Get("Location"))
	}
	page = html.UnescapeString(e.Get(browser, "/certificates").Body)
	if !strings.Contains(page, "Deleted the certificate. Nothing was sent to your devices.") || !strings.Contains(page, "You have uploaded no certificates yet.") {
		t.Errorf("after deleting:\n%s", page)
	}
	if n := pushes(); n != 2 {
		t.Errorf("clear key and delete queued commands: %d, want 2", n)
	}
	if res := e.Get(browser, path+"/edit"); res.Status != http.StatusNotFound {
		t.Errorf("editing a deleted certificate: status %d", res.Status)
	}
}

func TestOthersCertificatesAreNotFound(t *testing.T) {
	e, alice, _ := certEnv(t)
	if res := e.PostMultipart(e.SignIn("alice"), "/certificates", uploadForm("signing"), p12(leaf("Alice", time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)).PKCS12(p12Password))); res.Status != http.StatusSeeOther {
		t.Fatalf("upload: status %d\n%s", res.Status, res.Body)
	}
	before := myCerts(t, e, alice)[0]
	path := "/certificates/" + itoa(before.ID)
	bob := e.SignIn("bob")
	file := p12(leaf("Bob", time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)).PKCS12(p12Password))
	tests := []struct {
		name string
		do   func() servertest.Response
	}{
		{"edit page", func() servertest.Response { return e.Get(bob, path+"/edit") }},
		{"replace", func() servertest.Response {
			return e.PostMultipart(bob, path, url.Values{"password": {p12Password}}, file)
		}},
		{"refused replace", func() servertest.Response { return e.PostMultipart(bob, path, url.Values{"password": {"wrong"}}, file) }},
		{"clear key", func() servertest.Response { return e.PostForm(bob, path+"/clear-key", nil) }},
		{"delete", func() servertest.Response { return e.PostForm(bob, path+"/delete", nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if res := tt.do(); res.Status != http.StatusNotFound {
				t.Errorf("status %d, want 404\n%s", res.Status, res.Body)
			}
		})
	}
	after := myCerts(t, e, alice)
	if len(after) != 1 || *after[0] != *before {
		t.Errorf("alice's certificate after bob's attempts: %+v, was %+v", after, before)
	}
	if page := e.Get(bob, "/certificates").Body; strings.Contains(page, "Portico Portal CA") {
		t.Error("bob's list shows alice's certificate")
	}
}
