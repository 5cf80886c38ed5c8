package e2e

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// postgresURL returns a URL for a fresh schema of the test PostgreSQL, which
// is dropped when the test ends.
func postgresURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("PORTICO_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PORTICO_TEST_POSTGRES is not set: run the tests with scripts/test")
		}
		t.Skip("PORTICO_TEST_POSTGRES is not set")
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	schema := "e2e_" + strings.ToLower(rand.Text()[:12])
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err == nil {
			db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			db.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestTwoInstancesShareOnePostgres runs two serve processes on one
// PostgreSQL database, as behind a load balancer: a user created through
// either is known to both, and a session begun on one is valid on the other.
func TestTwoInstancesShareOnePostgres(t *testing.T) {
	db := postgresURL(t)
	dir := t.TempDir()
	first := serve(t, "--db", db, "--data", filepath.Join(dir, "a"))
	second := serve(t, "--db", db, "--data", filepath.Join(dir, "b"))
	if (first.AdminPassword == "") == (second.AdminPassword == "") {
		t.Fatalf("exactly one instance should create the first administrator (passwords %q and %q)", first.AdminPassword, second.AdminPassword)
	}
	password := addUser(t, []string{"--db", db}, "erin")
	run(t, "", "--db", db, "user", "roles", "erin", "--grant", "lock")

	c := browserClient()
	if code := signIn(t, c, first.URL, "erin", password); code != http.StatusSeeOther {
		t.Fatalf("sign-in on the first instance: status %d", code)
	}
	// The cookie jar is keyed by host, and both instances are on 127.0.0.1.
	code, body := get(t, c, second.URL+"/")
	if code != http.StatusOK || !strings.Contains(body, "Erin Example") {
		t.Errorf("the session from the first instance is not valid on the second: status %d", code)
	}
}
