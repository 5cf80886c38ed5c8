package service_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"howett.net/plist"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/apns/apnstest"
	"github.com/portico-mdm/portico/internal/applemdm"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/selfsigned"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
)

// newAppleEnv is a service that serves Apple MDM the way serve does on a
// first run: a CA made in the data directory, and the self-signed TLS
// certificate that signs profiles and must be trusted.
func newAppleEnv(t *testing.T) (*env, *x509.Certificate) {
	t.Helper()
	e := newEnv(t)
	dir := t.TempDir()
	ca, _, err := applemdm.LoadOrCreateCA(filepath.Join(dir, "apple"), e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, _, err := selfsigned.Ensure(filepath.Join(dir, "tls"), []string{"mdm.example.com"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(pair.Certificate[0])
	e.svc = service.New(service.Config{Store: e.db, Passwords: secret.Cheap, Clock: e.clock, Sealer: newSealer(t, 1),
		BaseURL: "https://mdm.example.com/", Apple: &service.AppleConfig{CA: ca, Signer: &pair, TrustRoot: root}})
	return e, root
}

// uploadPushCertificate uploads a push certificate for topic, whose topic
// the enrollment profile then names.
func (e *env) uploadPushCertificate(t *testing.T, topic string) {
	t.Helper()
	now := e.clock.Now()
	if _, err := e.svc.PutPushCertificate(e.op, pemUpload(apnstest.NewCertificate(t, topic, now.Add(-time.Hour), now.Add(365*24*time.Hour)))); err != nil {
		t.Fatal(err)
	}
}

type profilePayloads map[string]map[string]any

func readProfile(t *testing.T, raw []byte) (profilePayloads, *x509.Certificate) {
	t.Helper()
	content, signer, err := applemdm.ReadProfile(raw)
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ PayloadContent []map[string]any }
	if _, err := plist.Unmarshal(content, &p); err != nil {
		t.Fatal(err)
	}
	out := profilePayloads{}
	for _, pl := range p.PayloadContent {
		out[pl["PayloadType"].(string)] = pl
	}
	return out, signer
}

func TestEnrollmentProfile(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]string
		platform portico.Platform
		signed   bool
		webClip  bool
		note     string
	}{
		{"iPhone, signed", nil, portico.PlatformIOS, true, false, ""},
		{"unsigned by the admin's switch", map[string]string{"apple.sign_profile": "false"}, portico.PlatformIOS, false, false, ""},
		{"iPhone with the portal's Web Clip", map[string]string{"apple.web_clip": "true"}, portico.PlatformIOS, true, true, ""},
		{"no Web Clip on a Mac", map[string]string{"apple.web_clip": "true"}, portico.PlatformMacOS, true, false, ""},
		{"no push certificate yet", nil, portico.PlatformIOS, false, false,
			"Apple devices cannot be registered yet: the administrator has not uploaded the push certificate."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, tlsCert := newAppleEnv(t)
			if tt.note == "" {
				e.uploadPushCertificate(t, "com.apple.mgmt.External.1")
			}
			if tt.settings != nil {
				if err := e.svc.SetSettings(e.op, tt.settings); err != nil {
					t.Fatal(err)
				}
			}
			alice := e.addUser(t, "alice", false, portico.RoleRegisterDevice)
			started, err := e.svc.StartRegistration(as(alice), portico.InviteByMessage, tt.platform)
			if err != nil {
				t.Fatal(err)
			}
			link, _ := url.Parse(started.Link)
			steps, err := e.svc.OpenRegistration(from("192.0.2.9"), "alice", "alice-password", "", "", link.Query().Get("t"), "")
			if err != nil {
				t.Fatal(err)
			}
			if steps.ProfileNote != tt.note {
				t.Errorf("note %q, want %q", steps.ProfileNote, tt.note)
			}
			if tt.note != "" {
				if steps.Profile != nil {
					t.Error("a profile without a push topic")
				}
				return
			}
			payloads, signer := readProfile(t, steps.Profile)
			if (signer != nil) != tt.signed {
				t.Errorf("signed %v, want %v", signer != nil, tt.signed)
			}
			if signer != nil && !signer.Equal(tlsCert) {
				t.Errorf("signed by %v, not the server's certificate", signer.Subject)
			}
			if _, ok := payloads["com.apple.webClip.managed"]; ok != tt.webClip {
				t.Errorf("Web Clip %v, want %v", ok, tt.webClip)
			}
			if root := payloads["com.apple.security.root"]; root == nil || string(root["PayloadContent"].([]byte)) != string(tlsCert.Raw) {
				t.Error("no trust payload with the self-signed certificate")
			}
			sc := payloads["com.apple.security.scep"]["PayloadContent"].(map[string]any)
			subject := sc["Subject"].([]any)[0].([]any)[0].([]any)
			if want := fmt.Sprintf("Portico device %d", started.Invitation.DeviceID); subject[1] != want || sc["Keysize"] != uint64(2048) {
				t.Errorf("SCEP subject %v, key size %v; want %s, 2048", subject, sc["Keysize"], want)
			}
			mdm := payloads["com.apple.mdm"]
			if mdm["ServerURL"] != "https://mdm.example.com/mdm/connect" || mdm["Topic"] != "com.apple.mgmt.External.1" {
				t.Errorf("MDM payload %v", mdm)
			}
		})
	}
}

// TestAppleSCEPRefusal: what is not a SCEP request for this CA changes
// nothing.
func TestAppleSCEPRefusal(t *testing.T) {
	e, _ := newAppleEnv(t)
	if _, err := e.svc.AppleSCEP(context.Background(), []byte("garbage")); portico.ErrorCode(err) != portico.EINVALID {
		t.Errorf("garbage: %v", err)
	}
	devices, _ := e.db.ListDevices(context.Background(), store.DeviceFilter{})
	if len(devices) != 0 {
		t.Errorf("%d devices", len(devices))
	}
}

func TestMyEnrollmentProfileRefusals(t *testing.T) {
	e, _ := newAppleEnv(t)
	e.uploadPushCertificate(t, "com.apple.mgmt.External.1")
	alice := e.addUser(t, "alice", false, portico.RoleRegisterDevice)
	bob := e.addUser(t, "bob", false, portico.RoleRegisterDevice)
	android, err := e.svc.StartRegistration(as(alice), portico.InviteByMessage, portico.PlatformAndroid)
	if err != nil {
		t.Fatal(err)
	}
	iphone, err := e.svc.StartRegistration(as(alice), portico.InviteByMessage, portico.PlatformIOS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.MyEnrollmentProfile(as(alice), android.Invitation.DeviceID); portico.ErrorCode(err) != portico.ECONFLICT {
		t.Errorf("an Android device's profile: %v", err)
	}
	if _, err := e.svc.MyEnrollmentProfile(as(bob), iphone.Invitation.DeviceID); portico.ErrorCode(err) != portico.ENOTFOUND {
		t.Errorf("bob's download of alice's profile: %v", err)
	}
	if err := e.svc.CancelRegistration(as(alice), iphone.Invitation.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.MyEnrollmentProfile(as(alice), iphone.Invitation.DeviceID); err == nil {
		t.Error("a cancelled registration's profile")
	}
}
