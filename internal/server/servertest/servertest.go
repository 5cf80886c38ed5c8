// Package servertest runs the whole HTTP server on a real SQLite store for
// handler tests, with users, devices and signed-in browsers made to order.
package servertest

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/applemdm"
	"github.com/portico-mdm/portico/internal/backup"
	"github.com/portico-mdm/portico/internal/outbox"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/server"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store/sqlstore"
	"github.com/portico-mdm/portico/internal/wake"
)

// MetricsToken is the bearer token the test server accepts for /metrics.
const MetricsToken = "metrics-secret"

// Clock is a clock the test moves.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// NewClock returns a clock that stands at now until moved.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// Env is a running server and what it stands on.
type Env struct {
	t       *testing.T
	Server  *server.Server
	URL     string
	Service *service.Service
	Store   *sqlstore.DB
	Clock   *Clock
	// Wake wakes the devices waiting in the device API.
	Wake *wake.Local
	// Op acts as the operator at the command line.
	Op context.Context
}

// New starts a server on a fresh SQLite store; it stops with the test.
func New(t *testing.T) *Env {
	t.Helper()
	ctx := context.Background()
	data := t.TempDir()
	db, err := sqlstore.Open(ctx, data+"/portico.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// The server's address must be known before the service, whose
	// registration links start with it.
	ts := httptest.NewUnstartedServer(nil)
	t.Cleanup(ts.Close)
	base := "http://" + ts.Listener.Addr().String() + "/"
	clock := &Clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	hub := wake.NewLocal()
	sealer, err := secret.NewSealer(make([]byte, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	// Test messages go through an outbox worker as serve's do; nothing
	// here runs it, so queued messages wait for the tests to look at them.
	svc := service.New(service.Config{Store: db, Passwords: secret.Cheap, Clock: clock, BaseURL: base, Wake: hub, Sealer: sealer,
		Apple: &service.AppleConfig{CA: appleCA(t)}, Backups: backup.Maker{DB: db, Data: data},
		TestSender: outbox.New(outbox.Config{Store: db, Clock: clock})})
	srv, err := server.New(server.Config{
		Service: svc, Sessions: db, Registry: prometheus.NewRegistry(),
		MetricsToken: MetricsToken, Clock: clock, Wake: hub,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv
	ts.Start()
	return &Env{
		t: t, Server: srv, URL: ts.URL, Service: svc, Store: db, Clock: clock, Wake: hub,
		Op: portico.NewContextWithActor(ctx, portico.Actor{System: true, Source: "test"}),
	}
}

var (
	caOnce sync.Once
	ca     *applemdm.CA
	caErr  error
)

// appleCA is the CA every test server of the process issues Apple device
// identities with: made once, since an RSA key takes a while.
func appleCA(t *testing.T) *applemdm.CA {
	caOnce.Do(func() {
		dir, err := os.MkdirTemp("", "portico-apple-ca")
		if err != nil {
			caErr = err
			return
		}
		defer os.RemoveAll(dir)
		ca, _, caErr = applemdm.LoadOrCreateCA(dir, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	})
	if caErr != nil {
		t.Fatal(caErr)
	}
	return ca
}

// AppleCA is the CA the test servers issue Apple device identities with.
func (e *Env) AppleCA() *applemdm.CA { return appleCA(e.t) }

// Password is the password AddUser gives a user.
func Password(username string) string { return username + "-password" }

// AddUser creates a user whose password is Password(name).
func (e *Env) AddUser(name string, admin bool, roles ...portico.Role) *portico.User {
	e.t.Helper()
	u, _, err := e.Service.CreateUser(e.Op, service.NewUser{
		User: portico.User{
			Username: name, Name: strings.ToUpper(name[:1]) + name[1:] + " Example",
			Email: name + "@example.com", Admin: admin, Roles: roles,
		},
		Password: Password(name),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// RegisterDevice registers a device for the user as its agent would, and
// returns it with its token.
func (e *Env) RegisterDevice(username string, p portico.Platform, details portico.DeviceDetails) (*portico.Device, string) {
	e.t.Helper()
	ctx := portico.NewContextWithActor(context.Background(), portico.Actor{Source: "192.0.2.10"})
	d, token, err := e.Service.RegisterDevice(ctx, service.Registration{
		Username: username, Password: Password(username), Platform: p, Details: details,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return d, token
}

// Browser returns a client that keeps cookies and does not follow
// redirects, so tests see where they point.
func (e *Env) Browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// SignIn returns a browser signed in as the user.
func (e *Env) SignIn(username string) *http.Client {
	e.t.Helper()
	c := e.Browser()
	res := e.PostForm(c, "/login", url.Values{"username": {username}, "password": {Password(username)}})
	if res.Status != http.StatusSeeOther {
		e.t.Fatalf("signing in as %s: status %d\n%s", username, res.Status, res.Body)
	}
	return c
}

// Response is a read response.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// Get fetches a path of the server.
func (e *Env) Get(c *http.Client, path string) Response {
	e.t.Helper()
	res, err := c.Get(e.URL + path)
	return e.read(res, err)
}

// PostForm posts a form to a path of the server.
func (e *Env) PostForm(c *http.Client, path string, form url.Values) Response {
	e.t.Helper()
	res, err := c.PostForm(e.URL+path, form)
	return e.read(res, err)
}

// Do sends a request the test made itself, for headers Get cannot set.
func (e *Env) Do(c *http.Client, req *http.Request) Response {
	e.t.Helper()
	res, err := c.Do(req)
	return e.read(res, err)
}

func (e *Env) read(res *http.Response, err error) Response {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

// APIKey creates an admin API key of the scope, valid for 30 days, and
// returns it with the key itself.
func (e *Env) APIKey(name string, scope portico.APIScope) (*portico.APIKey, string) {
	e.t.Helper()
	k, key, err := e.Service.CreateAPIKey(e.Op, service.NewAPIKey{Name: name, Scope: scope, ValidFor: 30 * 24 * time.Hour})
	if err != nil {
		e.t.Fatal(err)
	}
	return k, key
}
