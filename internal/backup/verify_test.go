package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/store/sqlstore"
)

// installation is a data directory with a real, migrated store holding
// two users (one an administrator) and a device, and a key file beside it.
func installation(t *testing.T) (Maker, *sqlstore.DB) {
	t.Helper()
	ctx := context.Background()
	data := t.TempDir()
	db, err := sqlstore.Open(ctx, filepath.Join(data, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var alice *portico.User
	for _, name := range []string{"admin", "alice"} {
		u := &portico.User{Username: name, Email: name + "@example.com", Admin: name == "admin", CreatedAt: now}
		if err := db.CreateUser(ctx, u, "hash"); err != nil {
			t.Fatal(err)
		}
		alice = u
	}
	d := &portico.Device{UserID: alice.ID, Platform: portico.PlatformIOS, Status: portico.StatusActive,
		Ownership: portico.OwnershipEmployee, CreatedAt: now}
	if err := db.CreateDevice(ctx, d, []byte("token-hash-0123456789abcdef0123")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(data, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "keys", "secret.key"), []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	return Maker{DB: db, Data: data}, db
}

func TestVerifyReportsWhatABackupHolds(t *testing.T) {
	m, _ := installation(t)
	var b bytes.Buffer
	n, err := m.Write(context.Background(), &b)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(b.Len()) {
		t.Errorf("Write says %d bytes, wrote %d", n, b.Len())
	}
	rep, err := Verify(context.Background(), &b, RestoreLimits)
	if err != nil {
		t.Fatal(err)
	}
	want := portico.BackupReport{Files: 2, Users: 2, Admins: 1, Devices: 1, Schema: sqlstore.SchemaVersion(), Current: sqlstore.SchemaVersion()}
	if rep.Files != want.Files || rep.Users != want.Users || rep.Admins != want.Admins || rep.Devices != want.Devices ||
		rep.Schema != want.Schema || rep.Current != want.Current || rep.Bytes == 0 || rep.TakenAt.IsZero() {
		t.Errorf("report = %+v, want %+v", rep, want)
	}
	if want.Schema < 12 {
		t.Errorf("the newest schema version is %d", want.Schema)
	}
}

// newerSchema is a backup whose database was migrated by a later build.
func newerSchema(t *testing.T, m Maker, db *sqlstore.DB) []byte {
	t.Helper()
	snap := filepath.Join(t.TempDir(), DBFile)
	if err := db.Backup(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
	c, err := sql.Open("sqlite", snap)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Exec("INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, 1)"); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := Write(&b, m.Data, snap); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestVerifyRefuses(t *testing.T) {
	m, db := installation(t)
	var good bytes.Buffer
	if _, err := m.Write(context.Background(), &good); err != nil {
		t.Fatal(err)
	}
	var gzipped bytes.Buffer
	gz := gzip.NewWriter(&gzipped)
	gz.Write([]byte("not a tar archive, but long enough to fill a block of one……" + strings.Repeat("x", 600)))
	gz.Close()
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"an empty file", nil, "not a Portico backup"},
		{"plain text", []byte("hello, this is not a backup"), "not a gzip-compressed archive"},
		{"a cut-off backup", good.Bytes()[:good.Len()/2], "ends early"},
		{"gzip but not tar", gzipped.Bytes(), "not a tar archive"},
		{"no database", archive(t, entry{name: "keys/secret.key", typeflag: tar.TypeReg, body: "key"}), "holds no database"},
		{"a path out of the directory", archive(t, entry{name: DBFile, typeflag: tar.TypeReg, body: "SQLite format 3\x00"}, entry{name: "../x", typeflag: tar.TypeReg, body: "x"}), `unexpected entry "../x"`},
		{"a database that is not one", archive(t, entry{name: DBFile, typeflag: tar.TypeReg, body: strings.Repeat("not sqlite ", 100)}), "its database is not a SQLite file"},
		{"a database shorter than a header", archive(t, entry{name: DBFile, typeflag: tar.TypeReg, body: "SQLite"}), "its database is not a SQLite file"},
		{"a damaged database", archive(t, entry{name: DBFile, typeflag: tar.TypeReg, body: "SQLite format 3\x00" + strings.Repeat("x", 1000)}), "does not open"},
		{"a database of a newer schema", newerSchema(t, m, db), "schema version 9999, newer than this Portico's"},
		{"a wrong checksum", damaged(good.Bytes(), crcFlipped), "its checksum does not match"},
		{"no gzip trailer", damaged(good.Bytes(), trailerCut), "ends early"},
		{"data after the end", damaged(good.Bytes(), junkAppended), "data after the archive's end"},
		{"another gzip stream after the end", damaged(good.Bytes(), streamAppended), "data after the archive's end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(context.Background(), bytes.NewReader(tt.data), RestoreLimits)
			if portico.ErrorCode(err) != portico.EINVALID || !strings.Contains(portico.ErrorMessage(err), tt.want) {
				t.Errorf("Verify: %v, want EINVALID with %q", err, tt.want)
			}
		})
	}
}

// TestVerifyLimitsFollowTheLiveDatabase: an upload is unpacked in the
// running server, so it may hold no more than a few times what this
// installation holds, however much a restore would take.
func TestVerifyLimitsFollowTheLiveDatabase(t *testing.T) {
	m, _ := installation(t)
	if got := m.VerifyLimits(); got.Bytes != MinVerifyBytes || got.Entries != RestoreLimits.Entries {
		t.Errorf("limits of a small installation = %+v, want %d bytes", got, MinVerifyBytes)
	}
	big := filepath.Join(m.Data, DBFile+"-wal")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 100<<20); err != nil {
		t.Fatal(err)
	}
	if got := m.VerifyLimits(); got.Bytes < 400<<20 || got.Bytes > 401<<20 {
		t.Errorf("limits with a 100 MiB log = %+v, want four times the database", got)
	}
	os.Remove(big)

	// An entry that claims more than the limit is refused at its header,
	// before a byte of it is unpacked.
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: DBFile, Mode: 0o600, Size: MinVerifyBytes + 1})
	tw.Write([]byte("SQLite format 3\x00"))
	tw.Flush()
	gz.Close()
	_, err := m.Verify(context.Background(), &b)
	if portico.ErrorCode(err) != portico.EINVALID || !strings.Contains(portico.ErrorMessage(err), "more than 10000 files or 268435456 bytes") {
		t.Errorf("Verify: %v, want the upload refused at the limit", err)
	}
}

// TestVerifySaysWhetherTheKeyIsIncluded: a backup's database is of little
// use without the key its secrets are sealed with, unless the portal
// takes its key from the environment.
func TestVerifySaysWhetherTheKeyIsIncluded(t *testing.T) {
	m, _ := installation(t)
	for _, tt := range []struct {
		name      string
		removeKey bool
		env       string
		key, from bool
	}{
		{"the key in the data directory", false, "", true, false},
		{"no key file", true, "", false, false},
		{"the key in the environment", true, "c2VjcmV0", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.removeKey {
				os.Remove(filepath.Join(m.Data, SecretKeyFile))
			}
			t.Setenv(secret.KeyEnv, tt.env)
			var b bytes.Buffer
			if _, err := m.Write(context.Background(), &b); err != nil {
				t.Fatal(err)
			}
			rep, err := m.Verify(context.Background(), &b)
			if err != nil || rep.SecretKey != tt.key || rep.KeyFromEnv != tt.from {
				t.Errorf("report %+v, %v; want the key included %t, from the environment %t", rep, err, tt.key, tt.from)
			}
		})
	}
}
