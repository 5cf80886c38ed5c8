package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Inspection is what a SQLite file holds, as read without changing it.
type Inspection struct {
	Version                int64 // the schema's migration version
	Users, Admins, Devices int
}

// Inspect reads a SQLite file that is not in use, such as the database of
// a backup being checked, without migrating it: only reads run, so a file
// of a newer schema is reported rather than changed.
func Inspect(ctx context.Context, file string) (Inspection, error) {
	var in Inspection
	db, err := sql.Open("sqlite", file+"?_pragma=query_only(1)")
	if err != nil {
		return in, err
	}
	defer db.Close()
	err = db.QueryRowContext(ctx, "SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied").Scan(&in.Version)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return in, errors.New("it is not a Portico database")
		}
		return in, err
	}
	err = db.QueryRowContext(ctx, "SELECT count(*), coalesce(sum(admin), 0) FROM users").Scan(&in.Users, &in.Admins)
	if err != nil {
		return in, err
	}
	err = db.QueryRowContext(ctx, "SELECT count(*) FROM devices").Scan(&in.Devices)
	return in, err
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
