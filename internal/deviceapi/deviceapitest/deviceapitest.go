// Package deviceapitest runs the device API on the real service and a
// SQLite store in a temporary directory, for the tests of the API and of
// the clients that speak it.
package deviceapitest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/deviceapi"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
	"github.com/portico-mdm/portico/internal/store/sqlstore"
	"github.com/portico-mdm/portico/internal/web"
)

// Env is a running device API.
type Env struct {
	Service *service.Service
	Store   store.Store
	// Handler is the API with its guard and the source-address middleware,
	// for tests that put something in front of it.
	Handler http.Handler
	Server  *httptest.Server
	// Operator is the context of the operator at the command line.
	Operator context.Context
}

// New starts the API; everything stops when the test ends.
func New(t testing.TB) *Env {
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
	svc := service.New(service.Config{Store: db, Passwords: secret.Cheap})
	api := deviceapi.New(svc)
	mux := web.NewMux(map[web.Access]web.Guard{web.Device: api.Guard()})
	api.Register(mux)
	e := &Env{
		Service:  svc,
		Store:    db,
		Handler:  web.Chain(mux, web.TrustedProxies(nil).Source),
		Operator: portico.NewContextWithActor(ctx, portico.Actor{System: true, Source: "test"}),
	}
	e.Server = httptest.NewServer(e.Handler)
	t.Cleanup(e.Server.Close)
	return e
}

// AddUser creates a user whose password is the name followed by
// "-password".
func (e *Env) AddUser(t testing.TB, name string) *portico.User {
	t.Helper()
	u, _, err := e.Service.CreateUser(e.Operator, service.NewUser{
		User:     portico.User{Username: name, Email: name + "@example.com", Roles: portico.Roles},
		Password: name + "-password",
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Queue queues a command for the device, as the portal will.
func (e *Env) Queue(t testing.TB, deviceID int64, kind portico.CommandKind) *portico.Command {
	t.Helper()
	c := &portico.Command{
		DeviceID: deviceID, Kind: kind, Status: portico.CommandQueued,
		CreatedBy: "test", CreatedAt: time.Now(),
	}
	if err := e.Store.QueueCommand(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// Command returns the command as the store has it now.
func (e *Env) Command(t testing.TB, deviceID, id int64) *portico.Command {
	t.Helper()
	cmds, err := e.Store.ListCommands(context.Background(), deviceID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("device %d has no command %d", deviceID, id)
	return nil
}
