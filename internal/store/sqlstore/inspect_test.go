package sqlstore

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// migrated is a SQLite file Portico's migrations made, closed, with the
// statements of change run on it afterwards.
func migrated(t *testing.T, change ...string) string {
	t.Helper()
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "portico.db")
	db, err := Open(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()
	c, err := sql.Open("sqlite", file)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, stmt := range append([]string{"PRAGMA journal_mode=DELETE"}, change...) {
		if _, err := c.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return file
}

// endless is a query that never ends and holds ever more.
const endless = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x AS id, 1 AS admin FROM c`

func TestInspect(t *testing.T) {
	file := migrated(t, "INSERT INTO users (username, email, admin, password_hash, created_at) VALUES ('a', 'a@example.com', 1, 'x', '2026-01-01T00:00:00Z')")
	in, err := Inspect(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	if in.Version != SchemaVersion() || in.Users != 1 || in.Admins != 1 || in.Devices != 0 {
		t.Errorf("Inspect = %+v, want schema %d and one admin", in, SchemaVersion())
	}
}

// TestInspectRefusesWhatRunsOnRead: a file from an upload is read in the
// running server, and its schema is SQL that reading runs.
func TestInspectRefusesWhatRunsOnRead(t *testing.T) {
	tests := []struct {
		name   string
		change []string
		want   string
	}{
		{"users as an endless view", []string{"DROP TABLE users", "CREATE VIEW users AS " + endless}, "a view (users)"},
		{"a view read by nothing", []string{"CREATE VIEW v AS " + endless}, "a view (v)"},
		{"a trigger", []string{"CREATE TRIGGER t AFTER INSERT ON devices BEGIN DELETE FROM users; END"}, "a trigger (t)"},
		{"a virtual table", []string{"CREATE VIRTUAL TABLE v USING fts5(x)"}, "a virtual table (v)"},
		{"a computed column", []string{"ALTER TABLE users ADD COLUMN z INTEGER AS (length(zeroblob(1000000000)))"}, "computed columns"},
		{"no devices table", []string{"DROP TABLE devices"}, "not a Portico database"},
		{"no migrations table", []string{"DROP TABLE goose_db_version"}, "not a Portico database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := migrated(t, tt.change...)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := Inspect(ctx, file)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Inspect: %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestInspectRefusesADamagedFile(t *testing.T) {
	file := migrated(t, "CREATE TABLE filler (x BLOB)", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 50) INSERT INTO filler SELECT randomblob(3000) FROM c")
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.Stat()
	// The filler's pages are the file's last: garbage over them breaks
	// the b-tree without touching the tables read.
	if _, err := f.WriteAt([]byte(strings.Repeat("\xff", 40000)), info.Size()-40000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = Inspect(context.Background(), file)
	if err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("Inspect: %v, want it damaged", err)
	}
}

// TestInspectReadsAWALSnapshot: opened read-only, a file in WAL mode, as a
// snapshot of the live database is, still reads.
func TestInspectReadsAWALSnapshot(t *testing.T) {
	file := migrated(t, "PRAGMA journal_mode=WAL")
	if _, err := Inspect(context.Background(), file); err != nil {
		t.Error(err)
	}
}

func TestInspectTakesBoundedTime(t *testing.T) {
	file := migrated(t)
	defer func(d time.Duration) { inspectTimeout = d }(inspectTimeout)
	inspectTimeout = time.Nanosecond
	if _, err := Inspect(context.Background(), file); err == nil || !strings.Contains(err.Error(), "took longer than") {
		t.Errorf("Inspect: %v, want it to stop at the time limit", err)
	}
}
