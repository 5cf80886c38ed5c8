package wake_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico/internal/wake"
)

// woken says whether ch receives within d.
func woken(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

func TestLocalFanOut(t *testing.T) {
	ctx := context.Background()
	hub := wake.NewLocal()
	first, stopFirst := hub.Subscribe(1)
	second, stopSecond := hub.Subscribe(1)
	other, stopOther := hub.Subscribe(2)
	defer stopSecond()
	defer stopOther()

	// Nobody reads while these are published: Publish must not block, and
	// the wake-ups collapse into one.
	for range 100 {
		if err := hub.Publish(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := hub.Publish(ctx, 3); err != nil { // a device nobody waits for
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ch   <-chan struct{}
		want bool
	}{
		{"the first subscriber", first, true},
		{"the second subscriber", second, true},
		{"the first again: wake-ups before reading collapse into one", first, false},
		{"another device's subscriber", other, false},
	}
	for _, tt := range tests {
		if got := woken(tt.ch, 50*time.Millisecond); got != tt.want {
			t.Errorf("%s: woken %v, want %v", tt.name, got, tt.want)
		}
	}

	stopFirst()
	stopFirst() // stopping twice is harmless
	hub.Publish(ctx, 1)
	if woken(first, 50*time.Millisecond) {
		t.Error("a subscriber that stopped was woken")
	}
	if !woken(second, time.Second) {
		t.Error("the remaining subscriber was not woken")
	}
}

// postgresDSN returns the test PostgreSQL's URL with an application name of
// its own, by which the test finds its listening connection.
func postgresDSN(t *testing.T) (dsn, app string) {
	t.Helper()
	base := os.Getenv("PORTICO_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PORTICO_TEST_POSTGRES is not set: run the tests with scripts/test")
		}
		t.Skip("PORTICO_TEST_POSTGRES is not set")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	app = "portico_wake_test_" + strings.ToLower(rand.Text()[:8])
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	return u.String(), app
}

func TestPostgresWakesOtherInstances(t *testing.T) {
	dsn, app := postgresDSN(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := wake.NewPostgres(ctx, os.Getenv("PORTICO_TEST_POSTGRES"), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := wake.NewPostgres(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Device ids are drawn at random so that tests running at the same time
	// on the same database do not wake each other's subscribers.
	device := time.Now().UnixNano()
	onA, stopA := a.Subscribe(device)
	defer stopA()
	onB, stopB := b.Subscribe(device)
	defer stopB()
	unrelated, stopUnrelated := b.Subscribe(device + 1)
	defer stopUnrelated()

	if err := a.Publish(ctx, device); err != nil {
		t.Fatal(err)
	}
	if !woken(onB, 5*time.Second) || !woken(onA, 5*time.Second) {
		t.Fatal("a wake-up published on one instance did not reach both")
	}
	if woken(unrelated, 100*time.Millisecond) {
		t.Error("another device's subscriber was woken")
	}

	// Cut b's listening connection: b listens again and, as it may have
	// missed wake-ups meanwhile, wakes every subscriber it has.
	db, err := sql.Open("pgx", os.Getenv("PORTICO_TEST_POSTGRES"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var killed int
	if err := db.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND query LIKE 'LISTEN%'`, app).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminated %d listening connections (%v), want 1", killed, err)
	}
	if !woken(onB, 10*time.Second) || !woken(unrelated, time.Second) {
		t.Fatal("listening again did not wake the subscribers")
	}
	if err := a.Publish(ctx, device); err != nil {
		t.Fatal(err)
	}
	if !woken(onB, 5*time.Second) {
		t.Fatal("after listening again, wake-ups do not arrive")
	}
}
