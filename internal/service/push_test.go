package service_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/apns/apnstest"
	"github.com/portico-mdm/portico/internal/outbox"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
	"github.com/portico-mdm/portico/internal/store/sqlstore"
	"software.sslmate.com/src/go-pkcs12"
)

const pushTopic = "com.apple.mgmt.External.5f0e9d8c-7b6a-4e3d-9c2b-1a0f9e8d7c6b"

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// newPushEnv is a service whose pushes go to srv (nil: nowhere).
func newPushEnv(t *testing.T, srv *apnstest.Server) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, t.TempDir()+"/portico.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	c := servertest.NewClock(t0)
	cfg := service.Config{Store: db, Passwords: secret.Cheap, Clock: c, Sealer: newSealer(t, 1)}
	if srv != nil {
		cfg.APNsURL, cfg.APNsRootCAs = srv.URL, srv.RootCAs
	}
	return &env{svc: service.New(cfg), db: db, clock: c, op: portico.NewContextWithActor(ctx, portico.Actor{System: true})}
}

func pushCert(t *testing.T, topic string, notAfter time.Time) *apnstest.Certificate {
	return apnstest.NewCertificate(t, topic, t0.Add(-24*time.Hour), notAfter)
}

func pemUpload(c *apnstest.Certificate) service.PushCertificateUpload {
	return service.PushCertificateUpload{File: append(append([]byte{}, c.CertPEM...), c.KeyPEM...)}
}

func p12Upload(t *testing.T, c *apnstest.Certificate, password string) service.PushCertificateUpload {
	t.Helper()
	file, err := pkcs12.Modern.Encode(c.Key, c.Leaf, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	return service.PushCertificateUpload{File: file, Password: password}
}

func TestPushCertificateUpload(t *testing.T) {
	valid := pushCert(t, pushTopic, t0.Add(365*24*time.Hour))
	other := pushCert(t, pushTopic, t0.Add(365*24*time.Hour))
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherKeyDER, _ := x509.MarshalECPrivateKey(otherKey)
	tests := []struct {
		name    string
		admin   bool
		upload  service.PushCertificateUpload
		code    string
		message string
	}{
		{"PEM with its key", true, pemUpload(valid), "", ""},
		{"PEM with the key apart", true, service.PushCertificateUpload{File: valid.CertPEM, Key: valid.KeyPEM}, "", ""},
		{"PKCS#12", true, p12Upload(t, valid, "s3cret pass"), "", ""},
		{"not an admin", false, pemUpload(valid), portico.EFORBIDDEN, "administrators"},
		{"no file", true, service.PushCertificateUpload{}, portico.EINVALID, "Choose"},
		{"wrong password", true, func() service.PushCertificateUpload {
			u := p12Upload(t, valid, "s3cret pass")
			u.Password = "wrong"
			return u
		}(), portico.EINVALID, "password"},
		{"key of another certificate", true, service.PushCertificateUpload{File: valid.CertPEM, Key: other.KeyPEM}, portico.EINVALID, "does not belong"},
		{"EC key of another certificate", true, service.PushCertificateUpload{File: valid.CertPEM,
			Key: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: otherKeyDER})}, portico.EINVALID, "does not belong"},
		{"no key", true, service.PushCertificateUpload{File: valid.CertPEM}, portico.EINVALID, "no private key"},
		{"no topic", true, pemUpload(pushCert(t, "", t0.Add(time.Hour))), portico.EINVALID, "not an MDM push certificate"},
		{"topic of an app", true, pemUpload(pushCert(t, "com.example.app", t0.Add(time.Hour))), portico.EINVALID, "does not start with com.apple.mgmt."},
		{"expired", true, pemUpload(pushCert(t, pushTopic, t0.Add(-time.Hour))), portico.EINVALID, "expired"},
		{"PKCS#12 with a key apart", true, func() service.PushCertificateUpload {
			u := p12Upload(t, valid, "s3cret pass")
			u.Key = valid.KeyPEM
			return u
		}(), portico.EINVALID, "a .p12 file holds its own key"},
		{"not PKCS#12 nor PEM", true, service.PushCertificateUpload{File: []byte("hello")}, portico.EINVALID, "PKCS#12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newPushEnv(t, nil)
			u := e.addUser(t, "alice", tt.admin)
			c, err := e.svc.PutPushCertificate(as(u), tt.upload)
			if tt.code != "" {
				wantCode(t, err, tt.code)
				if !strings.Contains(portico.ErrorMessage(err), tt.message) {
					t.Errorf("message %q does not say %q", portico.ErrorMessage(err), tt.message)
				}
				if _, err := e.svc.PushTopic(e.op); portico.ErrorCode(err) != portico.ENOTFOUND {
					t.Errorf("a refused upload was stored: PushTopic = %v", err)
				}
				if got := audit(t, e, "push-certificate.put"); len(got) != 1 || got[0].Result != portico.ResultDenied {
					t.Errorf("audit = %+v, want one refusal", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Topic != pushTopic || !c.NotAfter.Equal(valid.Leaf.NotAfter) || c.UploadedBy != "alice" || c.Subject == "" {
				t.Errorf("stored %+v", c)
			}
			if topic, err := e.svc.PushTopic(context.Background()); err != nil || topic != pushTopic {
				t.Errorf("PushTopic = %q, %v", topic, err)
			}
			got, err := e.svc.PushCertificate(as(u))
			if err != nil || got.Fingerprint != c.Fingerprint {
				t.Errorf("PushCertificate = %+v, %v", got, err)
			}
			if a := audit(t, e, "push-certificate.put"); len(a) != 1 || a[0].Result != portico.ResultOK || a[0].Target != pushTopic {
				t.Errorf("audit = %+v", a)
			}
			_, sealedKey, err := e.db.PushCertificate(e.op)
			if err != nil {
				t.Fatal(err)
			}
			if keyDER, _ := x509.MarshalPKCS8PrivateKey(valid.Key); strings.Contains(string(sealedKey), string(keyDER[len(keyDER)-32:])) {
				t.Error("the private key is stored in the clear")
			}
		})
	}
}

func TestPushCertificateReplaceAndDelete(t *testing.T) {
	e := newPushEnv(t, nil)
	admin := e.addUser(t, "alice", true)
	ctx := as(admin)
	if _, err := e.svc.PushTopic(ctx); portico.ErrorCode(err) != portico.ENOTFOUND || !strings.Contains(portico.ErrorMessage(err), "/admin/apple/push") {
		t.Fatalf("PushTopic without a certificate = %v", err)
	}
	first := pushCert(t, pushTopic, t0.Add(365*24*time.Hour))
	if _, err := e.svc.PutPushCertificate(ctx, pemUpload(first)); err != nil {
		t.Fatal(err)
	}
	renewed := pushCert(t, pushTopic, t0.Add(730*24*time.Hour))
	wantCode(t, func() error { _, err := e.svc.PutPushCertificate(ctx, pemUpload(renewed)); return err }(), portico.ECONFLICT)

	another := pemUpload(pushCert(t, pushTopic+".other", t0.Add(730*24*time.Hour)))
	another.Replace = true
	_, err := e.svc.PutPushCertificate(ctx, another)
	wantCode(t, err, portico.ECONFLICT)
	if !strings.Contains(portico.ErrorMessage(err), "could no longer be reached") {
		t.Errorf("message %q does not say why", portico.ErrorMessage(err))
	}
	if c, _ := e.svc.PushCertificate(ctx); !c.NotAfter.Equal(first.Leaf.NotAfter) {
		t.Fatal("a refused replacement was stored")
	}

	up := pemUpload(renewed)
	up.Replace = true
	if c, err := e.svc.PutPushCertificate(ctx, up); err != nil || !c.NotAfter.Equal(renewed.Leaf.NotAfter) {
		t.Fatalf("renewal = %+v, %v", c, err)
	}

	wantCode(t, e.svc.DeletePushCertificate(ctx, ""), portico.EINVALID)
	wantCode(t, e.svc.DeletePushCertificate(as(e.addUser(t, "bob", false)), "delete"), portico.EFORBIDDEN)
	if _, err := e.svc.PushTopic(ctx); err != nil {
		t.Fatal("a refused deletion deleted")
	}
	if err := e.svc.DeletePushCertificate(ctx, "delete"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.PushTopic(ctx); portico.ErrorCode(err) != portico.ENOTFOUND {
		t.Errorf("PushTopic after deleting = %v", err)
	}
	wantCode(t, e.svc.DeletePushCertificate(ctx, "delete"), portico.ENOTFOUND)
	a := audit(t, e, "push-certificate.delete")
	if len(a) != 3 || a[0].Result != portico.ResultOK {
		t.Errorf("audit of deletions = %+v, want the deletion after two refusals", a)
	}
}

func TestPushCertificateWarning(t *testing.T) {
	e := newPushEnv(t, nil)
	ctx := as(e.addUser(t, "alice", true))
	if w, err := e.svc.PushCertificateWarning(ctx); err != nil || w != "" {
		t.Errorf("warning without a certificate = %q, %v", w, err)
	}
	if _, err := e.svc.PutPushCertificate(ctx, pemUpload(pushCert(t, pushTopic, t0.Add(40*24*time.Hour)))); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		advance time.Duration
		want    string
	}{
		{0, ""},
		{15 * 24 * time.Hour, "expires on 2026-04-10"},
		{30 * 24 * time.Hour, "expired on 2026-04-10"},
	}
	for _, tt := range tests {
		e.clock.Advance(tt.advance)
		w, err := e.svc.PushCertificateWarning(ctx)
		if err != nil || (tt.want == "") != (w == "") || !strings.Contains(w, tt.want) {
			t.Errorf("after %v more: warning %q, %v; want %q", tt.advance, w, err, tt.want)
		}
	}
}

// pushWorld is a service with a push certificate, Apple's stand-in and an
// outbox worker.
type pushWorld struct {
	*env
	srv    *apnstest.Server
	worker *outbox.Worker
}

func newPushWorld(t *testing.T) *pushWorld {
	srv := apnstest.New(t)
	e := newPushEnv(t, srv)
	admin := e.addUser(t, "alice", true)
	if _, err := e.svc.PutPushCertificate(as(admin), pemUpload(pushCert(t, pushTopic, t0.Add(365*24*time.Hour)))); err != nil {
		t.Fatal(err)
	}
	return &pushWorld{env: e, srv: srv, worker: outbox.New(outbox.Config{Store: e.db, Clock: e.clock, Pusher: e.svc})}
}

func (w *pushWorld) run(t *testing.T) {
	t.Helper()
	if err := w.worker.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func (w *pushWorld) pushes(t *testing.T) []*portico.Message {
	t.Helper()
	msgs, err := w.db.ListMessages(t.Context(), store.MessageFilter{Channel: portico.ChannelAPNs})
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func push(deviceID int64) portico.Push {
	return portico.Push{DeviceID: deviceID, Token: []byte{0x0f, byte(deviceID), 0xee}, PushMagic: "3F2504E0-4F89-11D3-9A0C-0305E82C3301", Topic: pushTopic}
}

func TestPushGoesThroughTheOutbox(t *testing.T) {
	w := newPushWorld(t)
	if err := w.svc.QueuePush(w.op, push(1)); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.QueuePush(w.op, push(1)); err != nil {
		t.Fatal(err)
	}
	if n := len(w.pushes(t)); n != 1 {
		t.Fatalf("%d pushes queued for one device, want them coalesced into 1", n)
	}
	w.run(t)
	got := w.srv.Pushes()
	want := apnstest.Push{Token: hex.EncodeToString(push(1).Token), Topic: pushTopic, PushMagic: push(1).PushMagic}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("Apple got %+v, want %+v", got, want)
	}
	if m := w.pushes(t)[0]; m.Status != portico.MessageSent || strings.Contains(m.Text, push(1).PushMagic) {
		t.Errorf("after sending: %+v, want sent without the push magic kept", m)
	}
	// Sent, the push no longer covers the device: the next one is queued.
	if err := w.svc.QueuePush(w.op, push(1)); err != nil {
		t.Fatal(err)
	}
	if n := len(w.pushes(t)); n != 2 {
		t.Errorf("%d pushes, want a second one after the first went", n)
	}
}

func TestPushRetriedWhenAppleIsBusy(t *testing.T) {
	w := newPushWorld(t)
	w.srv.FailNext(http.StatusInternalServerError)
	if err := w.svc.QueuePush(w.op, push(2)); err != nil {
		t.Fatal(err)
	}
	w.run(t)
	m := w.pushes(t)[0]
	if m.Status != portico.MessagePending || m.Attempts != 1 || !strings.Contains(m.LastError, "500") {
		t.Fatalf("after a 500: %+v, want pending for a retry", m)
	}
	w.run(t)
	if len(w.srv.Pushes()) != 0 {
		t.Fatal("retried before the back-off")
	}
	w.clock.Advance(outbox.Backoff(1))
	w.run(t)
	if m := w.pushes(t)[0]; m.Status != portico.MessageSent || len(w.srv.Pushes()) != 1 {
		t.Errorf("after the back-off: %+v, pushes %v; want sent", m, w.srv.Pushes())
	}
	if a := audit(t, w.env, "push.token-invalid"); len(a) != 0 {
		t.Errorf("a busy Apple condemned the token: %+v", a)
	}
}

func TestPushToInvalidTokenFailsAtOnce(t *testing.T) {
	for _, tt := range []struct {
		name   string
		reject func(srv *apnstest.Server, token string)
	}{
		{"unregistered", func(srv *apnstest.Server, tok string) { srv.Unregister(tok) }},
		{"bad token", func(srv *apnstest.Server, tok string) { srv.Reject(tok, http.StatusBadRequest, "BadDeviceToken") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newPushWorld(t)
			tt.reject(w.srv, hex.EncodeToString(push(3).Token))
			if err := w.svc.QueuePush(w.op, push(3)); err != nil {
				t.Fatal(err)
			}
			w.run(t)
			m := w.pushes(t)[0]
			if m.Status != portico.MessageFailed || m.Attempts != 1 {
				t.Fatalf("after Apple refused the token: %+v, want failed after one try", m)
			}
			a := audit(t, w.env, "push.token-invalid")
			if len(a) != 1 || a[0].DeviceID != 3 || a[0].Actor != "system" || !strings.Contains(a[0].Detail, "device token") {
				t.Errorf("audit = %+v, want the device's token reported invalid", a)
			}
			if strings.Contains(a[0].Detail, push(3).PushMagic) {
				t.Error("the audit holds the push magic")
			}
		})
	}
}

func TestPushWaitsForACertificate(t *testing.T) {
	srv := apnstest.New(t)
	e := newPushEnv(t, srv)
	if err := e.svc.QueuePush(e.op, push(4)); err != nil {
		t.Fatal(err)
	}
	worker := outbox.New(outbox.Config{Store: e.db, Clock: e.clock, Pusher: e.svc})
	if err := worker.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	msgs, _ := e.db.ListMessages(t.Context(), store.MessageFilter{Channel: portico.ChannelAPNs})
	if len(msgs) != 1 || msgs[0].Status != portico.MessagePending || msgs[0].Attempts != 0 {
		t.Errorf("without a certificate: %+v, want pending and untried", msgs)
	}
	if _, err := e.svc.PutPushCertificate(as(e.addUser(t, "alice", true)), pemUpload(pushCert(t, pushTopic, t0.Add(365*24*time.Hour)))); err != nil {
		t.Fatal(err)
	}
	if err := worker.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(srv.Pushes()) != 1 {
		t.Errorf("Apple got %d pushes once the certificate was there, want 1", len(srv.Pushes()))
	}
}

func TestPushRefusedForAnotherTopicCondemnsTheToken(t *testing.T) {
	w := newPushWorld(t)
	p := push(5)
	p.Topic = "com.apple.mgmt.External.old"
	if err := w.svc.QueuePush(w.op, p); err != nil {
		t.Fatal(err)
	}
	w.run(t)
	if m := w.pushes(t)[0]; m.Status != portico.MessageFailed || len(w.srv.Pushes()) != 0 {
		t.Errorf("push of an old topic: %+v, Apple got %d; want failed and not sent", m, len(w.srv.Pushes()))
	}
	if a := audit(t, w.env, "push.token-invalid"); len(a) != 1 || a[0].DeviceID != 5 {
		t.Errorf("audit = %+v", a)
	}
}

func TestQueuePushRefusesBadPushes(t *testing.T) {
	e := newPushEnv(t, nil)
	for name, p := range map[string]portico.Push{
		"no device": {Token: []byte{1}, PushMagic: "m", Topic: pushTopic},
		"no token":  {DeviceID: 1, PushMagic: "m", Topic: pushTopic},
		"no magic":  {DeviceID: 1, Token: []byte{1}, Topic: pushTopic},
		"bad topic": {DeviceID: 1, Token: []byte{1}, PushMagic: "m", Topic: "com.example"},
	} {
		t.Run(name, func(t *testing.T) { wantCode(t, e.svc.QueuePush(e.op, p), portico.EINVALID) })
	}
}

func TestPushesShareAConnectionPerCertificate(t *testing.T) {
	w := newPushWorld(t)
	for id := range int64(3) {
		if err := w.svc.QueuePush(w.op, push(10+id)); err != nil {
			t.Fatal(err)
		}
	}
	w.run(t)
	if n, c := len(w.srv.Pushes()), w.srv.Connections(); n != 3 || c != 1 {
		t.Fatalf("%d pushes over %d connections, want 3 over 1", n, c)
	}
	up := pemUpload(pushCert(t, pushTopic, t0.Add(730*24*time.Hour)))
	up.Replace = true
	if _, err := w.svc.PutPushCertificate(as(w.mustUser(t, "alice")), up); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.QueuePush(w.op, push(10)); err != nil {
		t.Fatal(err)
	}
	w.run(t)
	if n, c := len(w.srv.Pushes()), w.srv.Connections(); n != 4 || c != 2 {
		t.Errorf("after renewing: %d pushes over %d connections, want 4 over 2 (the new certificate's own)", n, c)
	}
}
