package sqlstore

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/portico-mdm/portico"
)

// timeLayout has one width for every time, so SQLite compares them as text;
// PostgreSQL parses it into a timestamptz.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// at is a time parameter, stored in UTC to the microsecond.
type at time.Time

func (t at) Value() (driver.Value, error) {
	return time.Time(t).UTC().Format(timeLayout), nil
}

// optionalAt is a time parameter whose zero value is NULL.
type optionalAt time.Time

func (t optionalAt) Value() (driver.Value, error) {
	if time.Time(t).IsZero() {
		return nil, nil
	}
	return at(t).Value()
}

// timeDest scans a time, or the zero time for NULL.
type timeDest struct{ t *time.Time }

func scanTime(t *time.Time) timeDest { return timeDest{t} }

func (d timeDest) Scan(src any) error {
	var err error
	switch v := src.(type) {
	case nil:
		*d.t = time.Time{}
	case time.Time:
		*d.t = v.UTC()
	case string:
		*d.t, err = time.Parse(timeLayout, v)
	case []byte:
		*d.t, err = time.Parse(timeLayout, string(v))
	default:
		err = fmt.Errorf("sqlstore: cannot scan %T into a time", src)
	}
	return err
}

// optionalText stores empty bytes as NULL.
func optionalText(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// likeEscape makes % and _ in s match only themselves in a LIKE pattern
// with ESCAPE '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s)
}

// optionalID stores a zero ID as NULL.
func optionalID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

type constraint int

const (
	otherError constraint = iota
	uniqueViolation
	foreignKeyViolation
)

func constraintOf(err error) constraint {
	var se *sqlite.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &se):
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return uniqueViolation
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return foreignKeyViolation
		}
	case errors.As(err, &pe):
		switch pe.Code {
		case "23505":
			return uniqueViolation
		case "23503":
			return foreignKeyViolation
		}
	}
	return otherError
}

// refused turns a broken uniqueness rule into ECONFLICT with the message
// conflict, and a reference to a missing row into ENOTFOUND with missing;
// an empty message leaves that kind of error as it is.
func refused(err error, conflict, missing string) error {
	switch c := constraintOf(err); {
	case c == uniqueViolation && conflict != "":
		return portico.Errorf(portico.ECONFLICT, "%s", conflict)
	case c == foreignKeyViolation && missing != "":
		return portico.Errorf(portico.ENOTFOUND, "%s", missing)
	}
	return err
}

// notFound turns sql.ErrNoRows into ENOTFOUND.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return portico.Errorf(portico.ENOTFOUND, format, args...)
	}
	return err
}

// mustAffect reports ENOTFOUND when a write changed no row.
func mustAffect(res sql.Result, err error, format string, args ...any) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return portico.Errorf(portico.ENOTFOUND, format, args...)
	}
	return nil
}

// rowsOf writes n copies of a row's placeholders, for multi-row VALUES.
func rowsOf(row string, n int) string {
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanAll returns a function that reads every row of a query with scan. An
// empty result is an empty slice, so that it encodes as [] rather than null.
func scanAll[T any](scan func(scanner) (*T, error)) func(*sql.Rows, error) ([]*T, error) {
	return func(rows *sql.Rows, err error) ([]*T, error) {
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []*T{}
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, rows.Err()
	}
}
