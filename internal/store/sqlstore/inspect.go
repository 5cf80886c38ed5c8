package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// Inspection is what a SQLite file holds, as read without changing it.
type Inspection struct {
	Version                int64 // the schema's migration version
	Users, Admins, Devices int
}

// inspectTimeout bounds reading a file that is not trusted: checking a
// database of a hundred thousand devices takes well under a second, and a
// large one's integrity check a few.
var inspectTimeout = 30 * time.Second

// Inspect reads a SQLite file that is not in use, such as the database of
// a backup being checked, without migrating it: only reads run, so a file
// of a newer schema is reported rather than changed.
//
// The file may come from anyone who can upload one, and it is read in the
// running server. Its schema is SQL that SQLite runs as it reads, so the
// file is opened read-only and without trusting its schema's functions,
// refused when it holds what Portico's migrations never create (views,
// triggers, virtual tables, computed columns), checked for corruption
// first, and read for a bounded time.
func Inspect(ctx context.Context, file string) (Inspection, error) {
	var in Inspection
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	dsn := "file:" + (&url.URL{Path: file}).EscapedPath() +
		"?mode=ro&_pragma=query_only(1)&_pragma=trusted_schema(0)&_pragma=cell_size_check(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return in, err
	}
	defer db.Close()
	// One connection: the pragmas are set per connection, and every query
	// must run on one that has them.
	db.SetMaxOpenConns(1)
	err = inspect(ctx, db, &in)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return in, fmt.Errorf("reading it took longer than %s", inspectTimeout)
	}
	return in, err
}

func inspect(ctx context.Context, db *sql.DB, in *Inspection) error {
	if err := checkSchema(ctx, db); err != nil {
		return err
	}
	var result string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&result); err != nil {
		return err
	}
	if result != "ok" {
		return fmt.Errorf("it is damaged (%s)", result)
	}
	err := db.QueryRowContext(ctx, "SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied").Scan(&in.Version)
	if err != nil {
		return err
	}
	err = db.QueryRowContext(ctx, "SELECT count(*), coalesce(sum(admin), 0) FROM users").Scan(&in.Users, &in.Admins)
	if err != nil {
		return err
	}
	return db.QueryRowContext(ctx, "SELECT count(*) FROM devices").Scan(&in.Devices)
}

// inspected are the tables Inspect reads.
var inspected = []string{"goose_db_version", "users", "devices"}

// checkSchema refuses a schema with anything that runs SQL when read.
// Portico's migrations, and goose's own table, make tables and indexes
// only.
func checkSchema(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "SELECT type, name, coalesce(sql, '') FROM sqlite_schema")
	if err != nil {
		return err
	}
	defer rows.Close()
	tables := map[string]bool{}
	for rows.Next() {
		var typ, name, def string
		if err := rows.Scan(&typ, &name, &def); err != nil {
			return err
		}
		switch {
		case typ == "view" || typ == "trigger":
			return fmt.Errorf("it holds a %s (%s), which a Portico database never does", typ, name)
		case typ == "table" && strings.HasPrefix(strings.ToUpper(strings.TrimSpace(def)), "CREATE VIRTUAL"):
			return fmt.Errorf("it holds a virtual table (%s), which a Portico database never does", name)
		case typ == "table":
			tables[name] = true
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, name := range inspected {
		if !tables[name] {
			return errors.New("it is not a Portico database")
		}
		var computed int
		err := db.QueryRowContext(ctx, "SELECT count(*) FROM pragma_table_xinfo(?) WHERE hidden NOT IN (0, 1)", name).Scan(&computed)
		if err != nil {
			return err
		}
		if computed > 0 {
			return fmt.Errorf("its table %s has computed columns, which a Portico database never does", name)
		}
	}
	return nil
}

// SchemaVersion is the newest schema version this build migrates a SQLite
// database to.
func SchemaVersion() int64 {
	names, _ := fs.Glob(migrations, sqliteDialect.migrations+"/*.sql")
	var v int64
	for _, name := range names {
		n, err := strconv.ParseInt(strings.SplitN(path.Base(name), "_", 2)[0], 10, 64)
		if err == nil && n > v {
			v = n
		}
	}
	return v
}
