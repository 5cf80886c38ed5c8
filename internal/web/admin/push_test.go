package admin_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/apns/apnstest"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"software.sslmate.com/src/go-pkcs12"
)

const pushTopic = "com.apple.mgmt.External.9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"

func pemFile(data []byte) servertest.File {
	return servertest.File{Field: "file", Name: "push.pem", Data: data}
}

func TestPushCertificatePage(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	root := e.SignIn("root")
	now := e.Clock.Now()
	cert := apnstest.NewCertificate(t, pushTopic, now.Add(-24*time.Hour), now.Add(365*24*time.Hour))
	other := apnstest.NewCertificate(t, pushTopic, now.Add(-24*time.Hour), now.Add(365*24*time.Hour))
	p12, err := pkcs12.Modern.Encode(cert.Key, cert.Leaf, nil, "p12 password")
	if err != nil {
		t.Fatal(err)
	}
	both := append(append([]byte{}, cert.CertPEM...), cert.KeyPEM...)

	if res := e.Get(root, "/admin/apple/push"); res.Status != http.StatusOK || !strings.Contains(res.Body, "No push certificate is uploaded") {
		t.Fatalf("page without a certificate: %d\n%s", res.Status, res.Body)
	}
	refusals := []struct {
		name  string
		form  url.Values
		files []servertest.File
		want  string
	}{
		{"no file", nil, nil, "Choose the push certificate file"},
		{"wrong password", url.Values{"password": {"wrong"}}, []servertest.File{{Field: "file", Name: "push.p12", Data: p12}}, "The password does not open this PKCS#12 file."},
		{"key of another certificate", nil, []servertest.File{pemFile(cert.CertPEM), {Field: "key", Name: "key.pem", Data: other.KeyPEM}}, "does not belong"},
		{"not a push certificate", nil, []servertest.File{pemFile(pemPair(apnstest.NewCertificate(t, "", now.Add(-time.Hour), now.Add(time.Hour))))}, "not an MDM push certificate"},
		{"expired", nil, []servertest.File{pemFile(pemPair(apnstest.NewCertificate(t, pushTopic, now.Add(-48*time.Hour), now.Add(-time.Hour))))}, "expired on"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			res := e.PostMultipart(root, "/admin/apple/push", tt.form, tt.files...)
			if res.Status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(res.Body), tt.want) {
				t.Errorf("status %d, want 400 saying %q:\n%s", res.Status, tt.want, res.Body)
			}
		})
	}
	if res := e.Get(root, "/admin/apple/push"); !strings.Contains(res.Body, "No push certificate is uploaded") {
		t.Fatal("a refused upload was stored")
	}

	if res := e.PostMultipart(root, "/admin/apple/push", url.Values{"password": {"p12 password"}}, servertest.File{Field: "file", Name: "push.p12", Data: p12}); res.Status != http.StatusSeeOther {
		t.Fatalf("PKCS#12 upload: %d\n%s", res.Status, res.Body)
	}
	res := e.Get(root, "/admin/apple/push")
	for _, want := range []string{pushTopic, "The push certificate is stored", "Replace the certificate in use", "stops all Apple management", `name="replace" required`} {
		if !strings.Contains(html.UnescapeString(res.Body), want) {
			t.Errorf("the page does not show %q:\n%s", want, res.Body)
		}
	}

	// Replacing needs its box ticked, which the browser asks for and the
	// server checks again.
	if res := e.PostMultipart(root, "/admin/apple/push", nil, pemFile(both)); res.Status != http.StatusConflict || !strings.Contains(res.Body, "confirm") {
		t.Errorf("replacing unconfirmed: %d\n%s", res.Status, res.Body)
	}
	if res := e.PostMultipart(root, "/admin/apple/push", url.Values{"replace": {"on"}}, pemFile(cert.CertPEM), servertest.File{Field: "key", Name: "key.pem", Data: cert.KeyPEM}); res.Status != http.StatusSeeOther {
		t.Errorf("replacing with PEM and the key apart: %d\n%s", res.Status, res.Body)
	}

	if res := e.PostForm(root, "/admin/apple/push/delete", url.Values{}); res.Status != http.StatusBadRequest {
		t.Errorf("deleting unconfirmed: %d", res.Status)
	}
	if _, err := e.Service.PushTopic(e.Op); err != nil {
		t.Fatal("an unconfirmed deletion deleted")
	}
	if res := e.PostForm(root, "/admin/apple/push/delete", url.Values{"confirm": {"delete"}}); res.Status != http.StatusSeeOther {
		t.Errorf("deleting: %d\n%s", res.Status, res.Body)
	}
	if _, err := e.Service.PushTopic(e.Op); err == nil {
		t.Error("the certificate is still there")
	}
}

func pemPair(c *apnstest.Certificate) []byte {
	return append(append([]byte{}, c.CertPEM...), c.KeyPEM...)
}

func TestPushCertificateBanner(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	e.AddUser("alice", false)
	root := e.SignIn("root")
	now := e.Clock.Now()
	cert := apnstest.NewCertificate(t, pushTopic, now.Add(-24*time.Hour), now.Add(10*24*time.Hour))
	if res := e.PostMultipart(root, "/admin/apple/push", nil, pemFile(pemPair(cert))); res.Status != http.StatusSeeOther {
		t.Fatalf("upload: %d\n%s", res.Status, res.Body)
	}
	if res := e.Get(root, "/admin/users"); !strings.Contains(res.Body, "The MDM push certificate expires on") {
		t.Errorf("no warning on an admin page ten days before expiry:\n%s", res.Body)
	}
	if res := e.Get(e.SignIn("alice"), "/"); strings.Contains(res.Body, "push certificate") {
		t.Error("a user who is no admin sees the warning")
	}
	e.Clock.Advance(11 * 24 * time.Hour)
	if res := e.Get(root, "/admin/devices"); !strings.Contains(res.Body, "The MDM push certificate expired on") {
		t.Errorf("no warning on an admin page after expiry:\n%s", res.Body)
	}
}

func TestOutboxSaysPushesWaitForACertificate(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	root := e.SignIn("root")
	const note = "No push certificate is uploaded: pushes to Apple devices stay here"
	if res := e.Get(root, "/admin/outbox"); strings.Contains(res.Body, note) {
		t.Error("the outbox speaks of pushes when there are none")
	}
	m := portico.Push{DeviceID: 1, Token: []byte{1, 2}, PushMagic: "magic", Topic: pushTopic}.Message(e.Clock.Now())
	if _, err := e.Store.EnqueuePush(e.Op, m); err != nil {
		t.Fatal(err)
	}
	if res := e.Get(root, "/admin/outbox"); !strings.Contains(res.Body, note) || !strings.Contains(res.Body, "Apple push") {
		t.Errorf("the outbox does not say why the push waits:\n%s", res.Body)
	}
	now := e.Clock.Now()
	cert := apnstest.NewCertificate(t, pushTopic, now.Add(-time.Hour), now.Add(365*24*time.Hour))
	if res := e.PostMultipart(root, "/admin/apple/push", nil, pemFile(pemPair(cert))); res.Status != http.StatusSeeOther {
		t.Fatalf("upload: %d", res.Status)
	}
	if res := e.Get(root, "/admin/outbox"); strings.Contains(res.Body, note) {
		t.Error("the outbox still says pushes wait for a certificate")
	}
}
