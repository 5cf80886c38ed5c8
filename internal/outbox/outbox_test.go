package outbox_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/outbox"
	"github.com/portico-mdm/portico/internal/outbox/outboxtest"
	"github.com/portico-mdm/portico/internal/selfsigned"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/store/sqlstore"
)

// pin stands for the secret a registration message carries: it must reach
// the recipient and never the log.
const pin = "864209"

// syncBuffer collects the log; the workers may write from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// env is a worker on a fresh SQLite store, with a certificate for
// 127.0.0.1 that the worker trusts, for the TLS servers of the tests.
type env struct {
	t      *testing.T
	db     *sqlstore.DB
	clock  *servertest.Clock
	log    *syncBuffer
	worker *outbox.Worker
	cert   tls.Certificate
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlstore.Open(t.Context(), filepath.Join(dir, "portico.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, _, err := selfsigned.Ensure(filepath.Join(dir, "tls"), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	e := &env{t: t, db: db, clock: servertest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), log: &syncBuffer{}, cert: cert}
	e.worker = outbox.New(outbox.Config{
		Store: db, Clock: e.clock, RootCAs: roots,
		Log: slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	return e
}

func (e *env) set(values map[string]string) {
	e.t.Helper()
	for k, v := range values {
		if err := e.db.PutSetting(context.Background(), k, v); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) enqueue(m *portico.Message) *portico.Message {
	e.t.Helper()
	m.CreatedAt = e.clock.Now()
	if err := e.db.EnqueueMessage(context.Background(), m); err != nil {
		e.t.Fatal(err)
	}
	return m
}

func (e *env) runOnce() {
	e.t.Helper()
	if err := e.worker.RunOnce(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) message(id int64) *portico.Message {
	e.t.Helper()
	m, err := e.db.MessageByID(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// wantSent checks that the message was sent now, on its first try.
func (e *env) wantSent(id int64) {
	e.t.Helper()
	m := e.message(id)
	if m.Status != portico.MessageSent || !m.SentAt.Equal(e.clock.Now()) || m.Attempts != 1 || m.LastError != "" {
		e.t.Errorf("message %d is %s after %d tries (sent %v, error %q), want sent now on the first try",
			id, m.Status, m.Attempts, m.SentAt, m.LastError)
	}
}

// wantRetry checks that the message waits for its next try after a failure
// whose error says want.
func (e *env) wantRetry(id int64, attempts int, want string) *portico.Message {
	e.t.Helper()
	m := e.message(id)
	next := e.clock.Now().Add(outbox.Backoff(attempts))
	if m.Status != portico.MessagePending || m.Attempts != attempts || !m.NextAttemptAt.Equal(next) || !strings.Contains(m.LastError, want) {
		e.t.Errorf("message %d: %s after %d tries, next %v, error %q; want pending after %d, next %v, an error with %q",
			id, m.Status, m.Attempts, m.NextAttemptAt, m.LastError, attempts, next, want)
	}
	return m
}

// wantSecretsKept checks that no secret reached the log.
func (e *env) wantSecretsKept(secrets ...string) {
	e.t.Helper()
	for _, s := range append(secrets, pin) {
		if strings.Contains(e.log.String(), s) {
			e.t.Errorf("the log contains %q:\n%s", s, e.log)
		}
	}
}

func newMail(to string) *portico.Message {
	return &portico.Message{Channel: portico.ChannelMail, To: to, Subject: "Register your phone – Grüße",
		Text: "Hello Alice,\n\nyour registration PIN is " + pin + ".\nÜberprüfen Sie es.\n"}
}

func newSMS(to string) *portico.Message {
	return &portico.Message{Channel: portico.ChannelSMS, To: to, Text: `Your "PIN": ` + pin + "\nGrüße ✓ 😀 {to} \\ </end>"}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{1, 30 * time.Second}, {2, time.Minute}, {3, 2 * time.Minute}, {7, 32 * time.Minute},
		{8, time.Hour}, {9, time.Hour}, {100, time.Hour},
	}
	for _, tt := range tests {
		if got := outbox.Backoff(tt.attempt); got != tt.want {
			t.Errorf("Backoff(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
}

// TestUnconfiguredChannelsWait leaves messages of a channel without a
// gateway untouched, and sends them once the gateway is set, without a
// restart.
func TestUnconfiguredChannelsWait(t *testing.T) {
	e := newEnv(t)
	gw := outboxtest.NewSMSGateway(t)
	m := e.enqueue(newMail("alice@example.com"))
	s := e.enqueue(newSMS("+41 79 000 00 00"))
	e.runOnce()
	for _, id := range []int64{m.ID, s.ID} {
		if got := e.message(id); got.Status != portico.MessagePending || got.Attempts != 0 {
			t.Errorf("message %d without a gateway: %s after %d tries, want pending and untried", id, got.Status, got.Attempts)
		}
	}
	e.set(map[string]string{"sms.url": gw.URL})
	e.runOnce()
	e.wantSent(s.ID)
	if got := e.message(m.ID); got.Status != portico.MessagePending || got.Attempts != 0 {
		t.Errorf("the mail is %s after %d tries, want pending and untried", got.Status, got.Attempts)
	}
}

// TestDeadWorkersLeaseRunsOut sends a message that a worker claimed and
// never finished once its lease has run out, and not before.
func TestDeadWorkersLeaseRunsOut(t *testing.T) {
	e := newEnv(t)
	gw := outboxtest.NewSMSGateway(t)
	e.set(map[string]string{"sms.url": gw.URL})
	m := e.enqueue(newSMS("+41790000000"))
	if _, err := e.db.ClaimMessages(context.Background(), outbox.Channels, e.clock.Now(), 2*time.Minute, 10); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	e.runOnce()
	if n := len(gw.Requests()); n != 0 {
		t.Fatalf("a leased message was sent %d times", n)
	}
	e.clock.Advance(10 * time.Minute)
	e.runOnce()
	if got := e.message(m.ID); got.Status != portico.MessageSent || got.Attempts != 2 || len(gw.Requests()) != 1 {
		t.Errorf("after the lease: %s after %d tries, %d requests; want sent once on the second try", got.Status, got.Attempts, len(gw.Requests()))
	}
}

func TestRunStopsWithItsContext(t *testing.T) {
	e := newEnv(t)
	gw := outboxtest.NewSMSGateway(t)
	e.set(map[string]string{"sms.url": gw.URL})
	m := e.enqueue(newSMS("+41790000000"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.worker.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for e.message(m.ID).Status != portico.MessageSent && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if got := e.message(m.ID); got.Status != portico.MessageSent {
		t.Errorf("Run left the message %s", got.Status)
	}
}

// freePort returns a loopback port nothing listens on.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}
