package sqlstore_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
	"github.com/portico-mdm/portico/internal/store/sqlstore"
	"github.com/portico-mdm/portico/internal/store/storetest"
)

// backend opens fresh, empty databases of one kind. dsn returns a new
// database's address; driver is the database/sql driver that reaches it
// directly, for the few tests that look under the store.
type backend struct {
	name   string
	driver string
	dsn    func(tb testing.TB) string
}

var sqliteBackend = backend{"SQLite", "sqlite", func(tb testing.TB) string {
	return filepath.Join(tb.TempDir(), "portico.db")
}}

var postgresBackend = backend{"PostgreSQL", "pgx", postgresSchema}

// postgresSchema returns the URL of a new schema in the test PostgreSQL,
// dropped when the test ends.
func postgresSchema(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("PORTICO_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") != "" {
			tb.Fatal("PORTICO_TEST_POSTGRES is not set: run the tests with scripts/test")
		}
		tb.Skip("PORTICO_TEST_POSTGRES is not set")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { admin.Close() })
	schema := "store_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			tb.Error(err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func open(tb testing.TB, dsn string) *sqlstore.DB {
	tb.Helper()
	db, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	// Registered before the schema's cleanup runs, as cleanups run last
	// first: the connections close before the schema is dropped.
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

func (b backend) open(tb testing.TB) *sqlstore.DB { return open(tb, b.dsn(tb)) }

func eachBackend(t *testing.T, fn func(*testing.T, backend)) {
	for _, b := range []backend{sqliteBackend, postgresBackend} {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

func TestStore(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		storetest.Run(t, func(t *testing.T) store.Store { return b.open(t) })
	})
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// addDevices adds a user and n devices whose tokens are "token<i>".
func addDevices(tb testing.TB, st store.Store, n int) []*portico.Device {
	tb.Helper()
	ctx := context.Background()
	u := &portico.User{Username: "owner", Email: "owner@example.com", CreatedAt: time.Now()}
	if err := st.CreateUser(ctx, u, "h"); err != nil {
		tb.Fatal(err)
	}
	devices := make([]*portico.Device, n)
	hashes := make([][]byte, n)
	for i := range n {
		devices[i] = &portico.Device{UserID: u.ID, Platform: portico.PlatformAndroid, Status: portico.StatusActive,
			Ownership: portico.OwnershipEmployee, CreatedAt: time.Now()}
		hashes[i] = hash(fmt.Sprint("token", i))
	}
	if err := st.SeedDevices(ctx, devices, hashes); err != nil {
		tb.Fatal(err)
	}
	return devices
}

// TestRevokedCredential revokes under the store, which has no method for it
// yet: a revoked token must find nothing.
func TestRevokedCredential(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		dsn := b.dsn(t)
		db := open(t, dsn)
		d := addDevices(t, db, 2)
		raw, err := sql.Open(b.driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		if _, err := raw.Exec("UPDATE device_credentials SET revoked = TRUE WHERE device_id = " + fmt.Sprint(d[0].ID)); err != nil {
			t.Fatal(err)
		}
		if _, err := db.DeviceByTokenHash(t.Context(), hash("token0")); portico.ErrorCode(err) != portico.ENOTFOUND {
			t.Errorf("a revoked token found a device: %v", err)
		}
		if got, err := db.DeviceByTokenHash(t.Context(), hash("token1")); err != nil || got.ID != d[1].ID {
			t.Errorf("the other device's token: %v, %v", got, err)
		}
	})
}

// TestConcurrentMigrate starts several instances on one schema at once, as
// when a deployment starts them together.
func TestConcurrentMigrate(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		dsn := b.dsn(t)
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				db, err := sqlstore.Open(context.Background(), dsn)
				if err != nil {
					t.Error(err)
					return
				}
				defer db.Close()
				if err := db.Migrate(context.Background()); err != nil {
					t.Errorf("concurrent Migrate: %v", err)
				}
			})
		}
		wg.Wait()
		db := open(t, dsn)
		addDevices(t, db, 1)
	})
}

func TestBackup(t *testing.T) {
	db := sqliteBackend.open(t)
	devices := addDevices(t, db, 10)
	target := filepath.Join(t.TempDir(), "backup.db")
	if err := db.Backup(t.Context(), target); err != nil {
		t.Fatal(err)
	}
	// The original keeps working and its later writes are not in the copy.
	later := &portico.User{Username: "later", Email: "later@example.com", CreatedAt: time.Now()}
	if err := db.CreateUser(t.Context(), later, "h"); err != nil {
		t.Fatal(err)
	}

	copied := open(t, target)
	got, err := copied.DeviceByTokenHash(t.Context(), hash("token9"))
	if err != nil || got.ID != devices[9].ID {
		t.Fatalf("the backup's device: %v, %v", got, err)
	}
	users, err := copied.ListUsers(t.Context())
	if err != nil || len(users) != 1 {
		t.Errorf("the backup has users %v, %v; want the one before the backup", users, err)
	}
	if err := db.Backup(t.Context(), target); err == nil {
		t.Error("Backup overwrote an existing file")
	}
}

func TestBackupPostgres(t *testing.T) {
	db := postgresBackend.open(t)
	err := db.Backup(t.Context(), filepath.Join(t.TempDir(), "backup.db"))
	if !strings.Contains(portico.ErrorMessage(err), "pg_dump") {
		t.Errorf("Backup on PostgreSQL = %v, want a pointer to pg_dump", err)
	}
}

func TestOpenRefusesBadPath(t *testing.T) {
	if _, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "x?mode=ro")); err == nil {
		t.Error("Open accepted a file name with a query")
	}
}

func eachBackendBench(b *testing.B, fn func(*testing.B, *sqlstore.DB)) {
	for _, be := range []backend{sqliteBackend, postgresBackend} {
		b.Run(be.name, func(b *testing.B) { fn(b, be.open(b)) })
	}
}

func BenchmarkDeviceByTokenHash(b *testing.B) {
	eachBackendBench(b, func(b *testing.B, db *sqlstore.DB) {
		const n = 10000
		addDevices(b, db, n)
		hashes := make([][]byte, n)
		for i := range hashes {
			hashes[i] = hash(fmt.Sprint("token", i))
		}
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := db.DeviceByTokenHash(context.Background(), hashes[i%n]); err != nil {
					b.Error(err)
					return
				}
				i += 7
			}
		})
	})
}

func BenchmarkTakeCommandsEmpty(b *testing.B) {
	eachBackendBench(b, func(b *testing.B, db *sqlstore.DB) {
		devices := addDevices(b, db, 1000)
		now := time.Now()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := db.TakeCommands(context.Background(), devices[i%len(devices)].ID, now); err != nil {
					b.Error(err)
					return
				}
				i += 7
			}
		})
	})
}

// BenchmarkTouchDevices1000 touches 1,000 of 20,000 devices, as a second's
// check-ins of a larger fleet.
func BenchmarkTouchDevices1000(b *testing.B) {
	eachBackendBench(b, func(b *testing.B, db *sqlstore.DB) {
		devices := addDevices(b, db, 20000)[5000:6000]
		seen := make(map[int64]time.Time, len(devices))
		now := time.Now()
		b.ResetTimer()
		for b.Loop() {
			now = now.Add(time.Second)
			for _, d := range devices {
				seen[d.ID] = now
			}
			if err := db.TouchDevices(context.Background(), seen); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSeedDevices10000(b *testing.B) {
	eachBackendBench(b, func(b *testing.B, db *sqlstore.DB) {
		u := &portico.User{Username: "owner", Email: "owner@example.com", CreatedAt: time.Now()}
		if err := db.CreateUser(context.Background(), u, "h"); err != nil {
			b.Fatal(err)
		}
		round := 0
		for b.Loop() {
			b.StopTimer()
			devices := make([]*portico.Device, 10000)
			hashes := make([][]byte, len(devices))
			for i := range devices {
				devices[i] = &portico.Device{UserID: u.ID, Platform: portico.PlatformIOS, Status: portico.StatusActive,
					Ownership: portico.OwnershipEmployee, CreatedAt: time.Now()}
				hashes[i] = hash(fmt.Sprint(round, "/", i))
			}
			round++
			b.StartTimer()
			if err := db.SeedDevices(context.Background(), devices, hashes); err != nil {
				b.Fatal(err)
			}
		}
	})
}
