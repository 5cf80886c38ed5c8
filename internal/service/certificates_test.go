package service_test

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/certfile"
	"github.com/portico-mdm/portico/internal/certfile/certfiletest"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
	"software.sslmate.com/src/go-pkcs12"
)

// uploadPassword opens every file the tests upload; the tests look for it
// where it must never be (audit log, stored file).
const uploadPassword = "Upload-Secret-4711"

// certSettings are the settings under which users upload both types and
// the email configuration uses both.
var certSettings = map[string]string{
	"certificates.signing":    "Email signing certificate",
	"certificates.encryption": "Email encryption certificate",
	"email.server":            "mail.example.com",
}

// newCertEnv is newEnv with the settings.
func newCertEnv(t *testing.T, settings map[string]string) *env {
	t.Helper()
	e := newEnv(t)
	if len(settings) > 0 {
		if err := e.svc.SetSettings(e.op, settings); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// newSealer is a sealer whose key is the byte b repeated.
func newSealer(t *testing.T, b byte) *secret.Sealer {
	t.Helper()
	s, err := secret.NewSealer(bytes.Repeat([]byte{b}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testCA issues the certificates of the tests that want a chain.
var testCA = certfiletest.NewCA("Portico Test CA")

// aliceCert is a certificate of alice's issued by testCA.
func aliceCert(cn string) *certfiletest.Identity {
	return certfiletest.New(certfiletest.Options{
		Subject: pkix.Name{CommonName: cn}, Email: "alice@example.com", Issuer: testCA,
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC),
	})
}

func put(t *testing.T, e *env, u *portico.User, typ portico.CertificateType, file []byte) (*portico.Certificate, []service.Push) {
	t.Helper()
	c, pushes, err := e.svc.PutCertificate(as(u), typ, file, uploadPassword)
	if err != nil {
		t.Fatalf("upload %s: %v", typ, err)
	}
	return c, pushes
}

// configure returns the configure commands among cmds.
func configure(cmds []*portico.Command) []*portico.Command {
	var out []*portico.Command
	for _, c := range cmds {
		if c.Kind == portico.CommandConfigure {
			out = append(out, c)
		}
	}
	return out
}

// configureCount is how many configure commands the device has had queued.
func configureCount(t *testing.T, e *env, deviceID int64) int {
	t.Helper()
	cmds, err := e.db.ListCommands(context.Background(), deviceID)
	if err != nil {
		t.Fatal(err)
	}
	return len(configure(cmds))
}

// collect has the device check in and returns the email configurations it
// received, answering each command done.
func collect(t *testing.T, e *env, token string) []service.EmailConfiguration {
	t.Helper()
	ctx := e.deviceCtx(t, token)
	cmds, err := e.svc.Checkin(ctx, pixel)
	if err != nil {
		t.Fatal(err)
	}
	var out []service.EmailConfiguration
	for _, c := range configure(cmds) {
		var conf service.EmailConfiguration
		if err := json.Unmarshal(c.Payload, &conf); err != nil {
			t.Fatalf("configure payload %s: %v", c.Payload, err)
		}
		out = append(out, conf)
		if _, err := e.svc.ReportResult(ctx, c.ID, portico.CommandResult{Status: portico.CommandDone}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// openIdentity decodes the identity a configuration carries for a purpose.
func openIdentity(t *testing.T, conf service.EmailConfiguration, purpose portico.CertificateType) (*certfile.Identity, service.Identity) {
	t.Helper()
	for _, id := range conf.Identities {
		if id.Purpose != purpose {
			continue
		}
		p12, err := base64.StdEncoding.DecodeString(id.PKCS12)
		if err != nil {
			t.Fatalf("identity %s: %v", purpose, err)
		}
		got, err := certfile.Decode(p12, id.Password)
		if err != nil {
			t.Fatalf("the pushed %s PKCS#12 does not open with the pushed password: %v", purpose, err)
		}
		return got, id
	}
	t.Fatalf("the configuration carries no %s identity: %+v", purpose, conf.Identities)
	return nil, service.Identity{}
}

func TestCertificatesNeedTheRoleAndANamedType(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]string
		role     bool
		want     []portico.CertificateType // nil: EFORBIDDEN
	}{
		{"role and both types", certSettings, true, []portico.CertificateType{portico.CertificateSigning, portico.CertificateEncryption}},
		{"role and signing only", map[string]string{"certificates.signing": "Signing"}, true, []portico.CertificateType{portico.CertificateSigning}},
		{"role and encryption only", map[string]string{"certificates.encryption": "Encryption"}, true, []portico.CertificateType{portico.CertificateEncryption}},
		{"role, no type named", map[string]string{"email.server": "mail.example.com"}, true, nil},
		{"types named, no role", certSettings, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newCertEnv(t, tt.settings)
			var roles []portico.Role
			if tt.role {
				roles = append(roles, portico.RoleManageCertificates)
			} else {
				roles = append(roles, portico.RoleLock, portico.RoleWipe)
			}
			alice := e.addUser(t, "alice", false, roles...)
			opts, err := e.svc.CertificateOptions(as(alice))
			_, listErr := e.svc.MyCertificates(as(alice))
			_, pushErr := e.svc.MyPushes(as(alice))
			_, _, putErr := e.svc.PutCertificate(as(alice), portico.CertificateSigning, aliceCert("Alice").PKCS12(uploadPassword), uploadPassword)
			if tt.want == nil {
				wantCode(t, err, portico.EFORBIDDEN)
				wantCode(t, listErr, portico.EFORBIDDEN)
				wantCode(t, pushErr, portico.EFORBIDDEN)
				wantCode(t, putErr, portico.EFORBIDDEN)
				if certs, _ := e.db.ListCertificates(context.Background(), alice.ID); len(certs) != 0 {
					t.Errorf("a forbidden upload stored %d certificates", len(certs))
				}
				return
			}
			if err != nil || listErr != nil || pushErr != nil {
				t.Fatalf("options %v, list %v, pushes %v", err, listErr, pushErr)
			}
			var got []portico.CertificateType
			for _, o := range opts {
				got = append(got, o.Type)
				if o.Name != tt.settings["certificates."+string(o.Type)] {
					t.Errorf("option %s is named %q, want the admin's name %q", o.Type, o.Name, tt.settings["certificates."+string(o.Type)])
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("options %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("signed out", func(t *testing.T) {
		e := newCertEnv(t, certSettings)
		_, err := e.svc.CertificateOptions(context.Background())
		wantCode(t, err, portico.EUNAUTHENTICATED)
	})
}

func TestUploadRefusalsStoreNothing(t *testing.T) {
	e := newCertEnv(t, map[string]string{"certificates.signing": "Email signing certificate", "email.server": "mail.example.com"})
	alice := e.addUser(t, "alice", true, portico.RoleManageCertificates)
	d, _ := register(t, e, "alice")
	good := aliceCert("Alice Signing")
	tooBig := append(good.PKCS12(uploadPassword), make([]byte, certfile.MaxSize)...)
	tests := []struct {
		name     string
		typ      portico.CertificateType
		file     []byte
		password string
		want     string // in the message, case aside
	}{
		{"wrong password", portico.CertificateSigning, good.PKCS12(uploadPassword), "not-the-password", "password"},
		{"empty password", portico.CertificateSigning, good.PKCS12(uploadPassword), "", "password"},
		{"not PKCS#12", portico.CertificateSigning, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), uploadPassword, "not a PKCS#12"},
		{"a bare DER certificate", portico.CertificateSigning, good.Certificate.Raw, uploadPassword, "not a PKCS#12"},
		{"empty file", portico.CertificateSigning, nil, uploadPassword, "not a PKCS#12"},
		{"no private key", portico.CertificateSigning, good.TrustStore(uploadPassword), uploadPassword, "no private key"},
		{"expired", portico.CertificateSigning, certfiletest.PKCS12(certfiletest.Options{Subject: pkix.Name{CommonName: "Old"},
			NotBefore: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC)}, uploadPassword), uploadPassword, "expired on 2026-02-28"},
		{"not yet valid", portico.CertificateSigning, certfiletest.PKCS12(certfiletest.Options{Subject: pkix.Name{CommonName: "Future"},
			NotBefore: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}, uploadPassword), uploadPassword, "not valid until 2026-04-01"},
		{"key of another certificate", portico.CertificateSigning, good.WithKey(certfiletest.ECDSAKey(), uploadPassword), uploadPassword, "does not belong"},
		{"RSA key for an ECDSA certificate", portico.CertificateSigning, good.WithKey(certfiletest.SharedRSAKey(), uploadPassword), uploadPassword, "does not belong"},
		{"oversized", portico.CertificateSigning, tooBig, uploadPassword, "larger than 64 KiB"},
		{"unknown type", "authentication", good.PKCS12(uploadPassword), uploadPassword, "not a certificate type"},
		{"no type", "", good.PKCS12(uploadPassword), uploadPassword, "not a certificate type"},
		{"a type the admin did not name", portico.CertificateEncryption, good.PKCS12(uploadPassword), uploadPassword, "no encryption certificates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, pushes, err := e.svc.PutCertificate(as(alice), tt.typ, tt.file, tt.password)
			wantCode(t, err, portico.EINVALID)
			if !strings.Contains(strings.ToLower(portico.ErrorMessage(err)), strings.ToLower(tt.want)) {
				t.Errorf("message %q does not say %q", portico.ErrorMessage(err), tt.want)
			}
			if c != nil || pushes != nil {
				t.Errorf("a refusal returned %+v, %v", c, pushes)
			}
			if tt.password != "" && strings.Contains(portico.ErrorMessage(err), tt.password) {
				t.Errorf("the message quotes the password: %q", portico.ErrorMessage(err))
			}
		})
	}
	if certs, _ := e.db.ListCertificates(context.Background(), alice.ID); len(certs) != 0 {
		t.Errorf("refused uploads stored %d certificates", len(certs))
	}
	if n := configureCount(t, e, d.ID); n != 0 {
		t.Errorf("refused uploads pushed %d configurations", n)
	}
	noPasswordInAudit(t, e, uploadPassword, "not-the-password")
}

// noPasswordInAudit fails if any audit entry contains one of the passwords.
func noPasswordInAudit(t *testing.T, e *env, passwords ...string) []*portico.AuditEntry {
	t.Helper()
	entries, err := e.svc.AuditLog(e.op, store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range entries {
		line := fmt.Sprintf("%+v", *a)
		for _, p := range passwords {
			if strings.Contains(line, p) {
				t.Errorf("audit entry contains a password: %s", line)
			}
		}
	}
	return entries
}

func TestUploadPushesToTheUsersActiveDevices(t *testing.T) {
	e := newCertEnv(t, certSettings)
	alice := e.addUser(t, "alice", false, portico.RoleManageCertificates)
	e.addUser(t, "bob", false, portico.RoleManageCertificates)
	phone, phoneToken := register(t, e, "alice")
	tablet, tabletToken := register(t, e, "alice")
	wiped, _ := register(t, e, "alice")
	if err := e.db.EndDevice(context.Background(), wiped.ID, portico.StatusWiped); err != nil {
		t.Fatal(err)
	}
	pending := &portico.Device{UserID: alice.ID, Platform: portico.PlatformAndroid, Status: portico.StatusPending,
		Ownership: portico.OwnershipEmployee, CreatedAt: e.clock.Now()}
	_, hash := secret.NewToken()
	if err := e.db.SeedDevices(context.Background(), []*portico.Device{pending}, [][]byte{hash}); err != nil {
		t.Fatal(err)
	}
	bobs, _ := register(t, e, "bob")

	id := aliceCert("Alice Example")
	c, pushes := put(t, e, alice, portico.CertificateSigning, id.PKCS12(uploadPassword))
	if c.ID == 0 || c.UserID != alice.ID || c.Type != portico.CertificateSigning || c.Subject != "Alice Example" ||
		c.Issuer != "Portico Test CA" || c.Email != "alice@example.com" || !c.NotAfter.Equal(id.Certificate.NotAfter) ||
		!c.HasKey || !c.UploadedAt.Equal(e.clock.Now()) {
		t.Errorf("stored certificate %+v", c)
	}
	listed, err := e.svc.MyCertificates(as(alice))
	if err != nil || len(listed) != 1 || *listed[0] != *c {
		t.Errorf("MyCertificates = %v, %v; want the upload", listed, err)
	}

	pushedTo := map[int64]bool{}
	for _, p := range pushes {
		pushedTo[p.Device.ID] = true
		if p.Command.Kind != portico.CommandConfigure || p.Command.Status != portico.CommandQueued || p.Command.DeviceID != p.Device.ID {
			t.Errorf("push %+v", p.Command)
		}
	}
	if len(pushes) != 2 || !pushedTo[phone.ID] || !pushedTo[tablet.ID] {
		t.Errorf("pushed to %v, want alice's active devices %d and %d", pushedTo, phone.ID, tablet.ID)
	}
	want := map[int64]int{phone.ID: 1, tablet.ID: 1, wiped.ID: 0, pending.ID: 0, bobs.ID: 0}
	for dev, n := range want {
		if got := configureCount(t, e, dev); got != n {
			t.Errorf("device %d has %d configure commands, want %d", dev, got, n)
		}
	}
	mine, err := e.svc.MyPushes(as(alice))
	if err != nil || len(mine) != 2 {
		t.Errorf("MyPushes = %d, %v; want 2", len(mine), err)
	}
	if theirs, _ := e.svc.MyPushes(as(e.mustUser(t, "bob"))); len(theirs) != 0 {
		t.Errorf("bob sees %d pushes", len(theirs))
	}

	for _, token := range []string{phoneToken, tabletToken} {
		confs := collect(t, e, token)
		if len(confs) != 1 {
			t.Fatalf("check-in received %d configurations, want 1", len(confs))
		}
		conf := confs[0]
		if conf.Type != "email" || conf.Server != "mail.example.com" || conf.Username != "alice@example.com" || conf.Email != "alice@example.com" ||
			!conf.SMIMESigning || !conf.SMIMEEncryption || len(conf.Identities) != 1 {
			t.Errorf("configuration %+v", conf)
		}
		got, raw := openIdentity(t, conf, portico.CertificateSigning)
		if !raw.HasPrivateKey || got.Key == nil {
			t.Error("the pushed identity has no private key")
		}
		if !got.Certificate.Equal(id.Certificate) {
			t.Errorf("pushed certificate %q, want %q", got.Subject(), "Alice Example")
		}
		if len(got.Chain) != 1 || !got.Chain[0].Equal(testCA.Certificate) {
			t.Errorf("pushed chain has %d certificates, want the CA", len(got.Chain))
		}
		if raw.Password == uploadPassword || raw.Password == "" {
			t.Errorf("the pushed file's password is %q; want a fresh one, never the user's", raw.Password)
		}
	}
	// The commands were answered: a second check-in gets nothing.
	if confs := collect(t, e, phoneToken); len(confs) != 0 {
		t.Errorf("a second check-in received %d configurations", len(confs))
	}
}

// mustUser returns the user with the name.
func (e *env) mustUser(t *testing.T, name string) *portico.User {
	t.Helper()
	u, err := e.db.UserByUsername(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestWhatUsesATypeIsWhatIsPushed(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]string
		typ      portico.CertificateType
		push     bool
	}{
		{"signing, email uses it", certSettings, portico.CertificateSigning, true},
		{"encryption, email uses it", certSettings, portico.CertificateEncryption, true},
		{"no mail server", map[string]string{"certificates.signing": "Signing"}, portico.CertificateSigning, false},
		{"signing switched off", map[string]string{"certificates.signing": "Signing", "email.server": "mail.example.com", "email.smime_signing": "false"},
			portico.CertificateSigning, false},
		{"encryption switched off, signing upload", map[string]string{"certificates.signing": "Signing", "email.server": "mail.example.com", "email.smime_encryption": "false"},
			portico.CertificateSigning, true},
		{"signing switched off, encryption upload", map[string]string{"certificates.encryption": "Encryption", "email.server": "mail.example.com", "email.smime_signing": "false"},
			portico.CertificateEncryption, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newCertEnv(t, tt.settings)
			alice := e.addUser(t, "alice", false, portico.RoleManageCertificates)
			d, token := register(t, e, "alice")
			_, pushes := put(t, e, alice, tt.typ, aliceCert("Alice").PKCS12(uploadPassword))
			want := 0
			if tt.push {
				want = 1
			}
			if len(pushes) != want || configureCount(t, e, d.ID) != want {
				t.Fatalf("%d pushes, %d commands; want %d", len(pushes), configureCount(t, e, d.ID), want)
			}
			if !tt.push {
				return
			}
			conf := collect(t, e, token)[0]
			if len(conf.Identities) != 1 || conf.Identities[0].Purpose != tt.typ {
				t.Errorf("identities %+v, want one for %s", conf.Identities, tt.typ)
			}
			if conf.SMIMESigning != (tt.settings["email.smime_signing"] != "false") || conf.SMIMEEncryption != (tt.settings["email.smime_encryption"] != "false") {
				t.Errorf("S/MIME switches in the configuration: signing %v, encryption %v", conf.SMIMESigning, conf.SMIMEEncryption)
			}
		})
	}
}

func TestReplaceCertificatePushesAgain(t *testing.T) {
	e := newCertEnv(t, certSettings)
	alice := e.addUser(t, "alice", false, portico.RoleManageCertificates)
	d, token := register(t, e, "alice")
	first, _ := put(t, e, alice, portico.CertificateEncryption, aliceCert("Alice 2026").PKCS12(uploadPassword))
	collect(t, e, token)

	// A refused replacement keeps the old one and pushes nothing.
	_, _, err := e.svc.ReplaceCertificate(as(alice), first.ID, []byte("junk"), uploadPassword)
	wantCode(t, err, portico.EINVALID)
	if n := configureCount(t, e, d.ID); n != 1 {
		t.Errorf("a refused replacement pushed: %d configure commands", n)
	}

	e.clock.Advance(time.Hour)
	renewed := certfiletest.New(certfiletest.Options{Subject: pkix.Name{CommonName: "Alice 2027"}, Email: "alice@example.com", Key: certfiletest.SharedRSAKey()})
	c, pushes, err := e.svc.ReplaceCertificate(as(alice), first.ID, renewed.Encode(pkcs12.Legacy, uploadPassword, false), uploadPassword)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != first.ID || c.Type != portico.CertificateEncryption || c.Subject != "Alice 2027" || c.Issuer != "Alice 2027" || !c.UploadedAt.Equal(e.clock.Now()) {
		t.Errorf("replaced: %+v", c)
	}
	if len(pushes) != 1 || pushes[0].Device.ID != d.ID || configureCount(t, e, d.ID) != 2 {
		t.Fatalf("replacing pushed %d, device has %d configure commands; want 1 and 2", len(pushes), configureCount(t, e, d.ID))
	}
	if certs, _ := e.svc.MyCertificates(as(alice)); len(certs) != 1 {
		t.Errorf("after replacing, %d certificates", len(certs))
	}
	got, _ := openIdentity(t, collect(t, e, token)[0], portico.CertificateEncryption)
	if !got.Certificate.Equal(renewed.Certificate) || got.Key == nil {
		t.Errorf("pushed %q (key %v), want the replacement with its key", got.Subject(), got.Key != nil)
	}
}

func TestClearKeyAndDeletePushNothing(t *testing.T) {
	e := newCertEnv(t, certSettings)
	alice := e.addUser(t, "alice", true, portico.RoleManageCertificates)
	d, token := register(t, e, "alice")
	signing := aliceCert("Alice Signing")
	sc, _ := put(t, e, alice, portico.CertificateSigning, signing.PKCS12(uploadPassword))
	collect(t, e, token)

	cleared, err := e.svc.ClearPrivateKey(as(alice), sc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cleared.HasKey || cleared.ID != sc.ID || cleared.Subject != sc.Subject {
		t.Errorf("cleared: %+v", cleared)
	}
	if n := configureCount(t, e, d.ID); n != 1 {
		t.Errorf("clearing the key pushed: %d configure commands, want 1", n)
	}
	certs, _ := e.svc.MyCertificates(as(alice))
	if len(certs) != 1 || certs[0].HasKey || !certs[0].NotAfter.Equal(sc.NotAfter) || certs[0].Issuer != sc.Issuer {
		t.Errorf("after clearing, listed %+v", certs)
	}
	// Clearing again does no harm.
	if _, err := e.svc.ClearPrivateKey(as(alice), sc.ID); err != nil {
		t.Errorf("clearing a cleared key: %v", err)
	}

	// The next push, for the other type, carries the signing certificate
	// without its key.
	encryption := aliceCert("Alice Encryption")
	put(t, e, alice, portico.CertificateEncryption, encryption.PKCS12(uploadPassword))
	confs := collect(t, e, token)
	if len(confs) != 1 || len(confs[0].Identities) != 2 {
		t.Fatalf("configurations %+v, want one with two identities", confs)
	}
	sig, sigRaw := openIdentity(t, confs[0], portico.CertificateSigning)
	if sig.Key != nil || sigRaw.HasPrivateKey {
		t.Error("the cleared signing certificate was pushed with a private key")
	}
	if !sig.Certificate.Equal(signing.Certificate) || len(sig.Chain) != 1 {
		t.Errorf("the cleared certificate went out as %q with %d in its chain", sig.Subject(), len(sig.Chain))
	}
	enc, encRaw := openIdentity(t, confs[0], portico.CertificateEncryption)
	if enc.Key == nil || !encRaw.HasPrivateKey || !enc.Certificate.Equal(encryption.Certificate) {
		t.Error("the encryption certificate went out without its key")
	}

	before := configureCount(t, e, d.ID)
	if err := e.svc.DeleteCertificate(as(alice), sc.ID); err != nil {
		t.Fatal(err)
	}
	if n := configureCount(t, e, d.ID); n != before {
		t.Errorf("deleting pushed: %d configure commands, want %d", n, before)
	}
	certs, _ = e.svc.MyCertificates(as(alice))
	if len(certs) != 1 || certs[0].Type != portico.CertificateEncryption {
		t.Errorf("after deleting the signing certificate, listed %+v", certs)
	}
	_, err = e.svc.ClearPrivateKey(as(alice), sc.ID)
	wantCode(t, err, portico.ENOTFOUND)
	wantCode(t, e.svc.DeleteCertificate(as(alice), sc.ID), portico.ENOTFOUND)

	entries := noPasswordInAudit(t, e, uploadPassword)
	var actions []string
	for _, a := range entries {
		actions = append(actions, a.Actor+":"+a.Action+":"+a.Result)
	}
	all := strings.Join(actions, " ")
	for _, want := range []string{"alice:certificate.put:ok", "alice:certificate.clear_key:ok", "alice:certificate.delete:ok"} {
		if !strings.Contains(all, want) {
			t.Errorf("audit lacks %s: %v", want, actions)
		}
	}
}

func TestOtherUsersCertificateIsNotFound(t *testing.T) {
	e := newCertEnv(t, certSettings)
	alice := e.addUser(t, "alice", false, portico.RoleManageCertificates)
	bob := e.addUser(t, "bob", false, portico.RoleManageCertificates)
	register(t, e, "alice")
	bobDevice, _ := register(t, e, "bob")
	c, _ := put(t, e, alice, portico.CertificateSigning, aliceCert("Alice").PKCS12(uploadPassword))
	file := aliceCert("Bob's attempt").PKCS12(uploadPassword)

	ops := map[string]func(id int64) error{
		"replace": func(id int64) error {
			_, _, err := e.svc.ReplaceCertificate(as(bob), id, file, uploadPassword)
			return err
		},
		"clear key": func(id int64) error { _, err := e.svc.ClearPrivateKey(as(bob), id); return err },
		"delete":    func(id int64) error { return e.svc.DeleteCertificate(as(bob), id) },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			err := op(c.ID)
			wantCode(t, err, portico.ENOTFOUND)
			missing := op(c.ID + 1000)
			wantCode(t, missing, portico.ENOTFOUND)
			if portico.ErrorMessage(err) != portico.ErrorMessage(missing) {
				t.Errorf("another user's certificate and a missing one answer differently: %q, %q", portico.ErrorMessage(err), portico.ErrorMessage(missing))
			}
		})
	}
	certs, _ := e.svc.MyCertificates(as(alice))
	if len(certs) != 1 || *certs[0] != *c {
		t.Errorf("alice's certificates after bob's attempts: %+v", certs)
	}
	if theirs, _ := e.svc.MyCertificates(as(bob)); len(theirs) != 0 {
		t.Errorf("bob has %d certificates", len(theirs))
	}
	if n := configureCount(t, e, bobDevice.ID); n != 0 {
		t.Errorf("bob's attempts pushed %d configurations to his device", n)
	}
}

func TestStoredFileIsSealed(t *testing.T) {
	e := newCertEnv(t, certSettings)
	alice := e.addUser(t, "alice", false, portico.RoleManageCertificates)
	id := aliceCert("Alice")
	c, _ := put(t, e, alice, portico.CertificateSigning, id.PKCS12(uploadPassword))
	f, err := e.db.CertificateFile(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.PKCS12) == 0 || len(f.Password) == 0 {
		t.Fatalf("stored file %d bytes, password %d bytes", len(f.PKCS12), len(f.Password))
	}
	if _, err := certfile.Decode(f.PKCS12, uploadPassword); err == nil {
		t.Error("the stored file is a PKCS#12 that the user's password opens")
	}
	if _, err := certfile.Decode(f.PKCS12, string(f.Password)); err == nil {
		t.Error("the stored file is a PKCS#12 that the stored password opens")
	}
	for name, b := range map[string][]byte{"file": f.PKCS12, "password": f.Password} {
		if bytes.Contains(b, []byte(uploadPassword)) {
			t.Errorf("the stored %s contains the upload password", name)
		}
		if bytes.Contains(b, id.Certificate.Raw) || bytes.Contains(b, []byte("Alice")) {
			t.Errorf("the stored %s contains the certificate in the clear", name)
		}
	}
	// Another instance with another key cannot open it: a device checking
	// in there must not get someone else's plaintext either.
	other := service.New(service.Config{Store: e.db, Passwords: secret.Cheap, Clock: e.clock, Sealer: newSealer(t, 2)})
	_, err = other.ClearPrivateKey(as(alice), c.ID)
	if err == nil {
		t.Error("a service with another key opened the stored file")
	}
}

func TestCheckSealingKey(t *testing.T) {
	e := newCertEnv(t, nil)
	ctx := context.Background()
	if err := e.svc.CheckSealingKey(ctx); err != nil {
		t.Fatalf("first start: %v", err)
	}
	if err := e.svc.CheckSealingKey(ctx); err != nil {
		t.Fatalf("second start with the same key: %v", err)
	}
	same := service.New(service.Config{Store: e.db, Passwords: secret.Cheap, Clock: e.clock, Sealer: newSealer(t, 1)})
	if err := same.CheckSealingKey(ctx); err != nil {
		t.Errorf("another instance with the same key: %v", err)
	}
	other := service.New(service.Config{Store: e.db, Passwords: secret.Cheap, Clock: e.clock, Sealer: newSealer(t, 2)})
	err := other.CheckSealingKey(ctx)
	if err == nil || !strings.Contains(err.Error(), "key") {
		t.Errorf("another key: %v, want a refusal that speaks of the key", err)
	}
	// The refusal changed nothing: the first key still passes.
	if err := e.svc.CheckSealingKey(ctx); err != nil {
		t.Errorf("the first key after a refused one: %v", err)
	}
}
