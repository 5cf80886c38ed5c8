// Package sqlstore implements every role of internal/store once, with
// database/sql, for SQLite (the default, a file in the data directory) and
// PostgreSQL (several instances sharing one database). The SQL is written
// once with ? placeholders; a small dialect holds the few differences.
package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

//go:embed migrations
var migrations embed.FS

// dialect is what differs between the databases.
type dialect struct {
	goose      goose.Dialect
	migrations string
	bind       int
	// timeType is the column type of a time, for casting a parameter
	// whose type the database cannot infer.
	timeType string
	// newDeviceIDs returns ? fresh device IDs, one per row, so that
	// SeedDevices can insert devices and their credentials in bulk.
	newDeviceIDs string
	// skipLocked ends a SELECT of rows to claim: on PostgreSQL it locks
	// them and passes over those another transaction holds, so that
	// instances sharing the database claim different rows without waiting.
	// SQLite has one writer, whose transactions run one at a time.
	skipLocked string
	// forUpdate ends a SELECT of rows to hold until the transaction ends,
	// so that claimers pass over them; SQLite's writer holds everything.
	forUpdate string
	// fold lower-cases text for searches in any case, in every alphabet as
	// Go's strings.ToLower does to the search itself. SQLite's own lower()
	// folds A to Z only, and stays as it is, since the users_username
	// index is built with it; PostgreSQL's folds by the database's
	// LC_CTYPE, every alphabet in a UTF-8 locale.
	fold string
	// bytewise follows a text column to compare it byte by byte, as
	// SQLite always does, whatever collation PostgreSQL's database has.
	bytewise string
}

var (
	sqliteDialect = &dialect{
		goose:      goose.DialectSQLite3,
		migrations: "migrations/sqlite",
		bind:       sqlx.QUESTION,
		timeType:   "TEXT",
		fold:       sqliteFold,
		// Only the writer's immediate transaction inserts, so the IDs after
		// the largest are free until it commits.
		newDeviceIDs: `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
			SELECT (SELECT coalesce(max(id), 0) FROM devices) + i FROM n`,
	}
	postgresDialect = &dialect{
		goose:        goose.DialectPostgres,
		migrations:   "migrations/postgres",
		bind:         sqlx.DOLLAR,
		timeType:     "TIMESTAMPTZ",
		fold:         "lower",
		bytewise:     ` COLLATE "C"`,
		newDeviceIDs: `SELECT nextval(pg_get_serial_sequence('devices', 'id')) FROM generate_series(1, ?)`,
		skipLocked:   " FOR UPDATE SKIP LOCKED",
		forUpdate:    " FOR UPDATE",
	}
)

// sqliteFold is the name of the SQL function that folds like
// strings.ToLower on SQLite.
const sqliteFold = "portico_fold"

func init() {
	sqlite.MustRegisterDeterministicScalarFunction(sqliteFold, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return strings.ToLower(v), nil
		case []byte:
			return strings.ToLower(string(v)), nil
		default:
			return v, nil
		}
	})
}

// querier is a pool or a transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// conn runs the store's queries, on the pools or inside one transaction.
type conn struct {
	d *dialect
	r querier // reads
	w querier // writes
	// writer starts transactions; nil inside one, where everything
	// already commits together.
	writer *sql.DB
}

var _ store.Store = (*conn)(nil)

func (c *conn) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return c.r.QueryContext(ctx, sqlx.Rebind(c.d.bind, q), args...)
}

func (c *conn) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return c.r.QueryRowContext(ctx, sqlx.Rebind(c.d.bind, q), args...)
}

func (c *conn) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return c.w.ExecContext(ctx, sqlx.Rebind(c.d.bind, q), args...)
}

// writeRow runs a write that returns one row (INSERT … RETURNING).
func (c *conn) writeRow(ctx context.Context, q string, args ...any) *sql.Row {
	return c.w.QueryRowContext(ctx, sqlx.Rebind(c.d.bind, q), args...)
}

// writeRows runs a write that returns rows (UPDATE … RETURNING).
func (c *conn) writeRows(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return c.w.QueryContext(ctx, sqlx.Rebind(c.d.bind, q), args...)
}

// tx runs fn in a transaction, or in the one c is already in.
func (c *conn) tx(ctx context.Context, fn func(*conn) error) error {
	if c.writer == nil {
		return fn(c)
	}
	tx, err := c.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(&conn{d: c.d, r: tx, w: tx}); err != nil {
		return err
	}
	return tx.Commit()
}

func (c *conn) InTx(ctx context.Context, fn func(store.Store) error) error {
	return c.tx(ctx, func(t *conn) error { return fn(t) })
}

func (c *conn) Ping(ctx context.Context) error {
	var one int
	return c.queryRow(ctx, "SELECT 1").Scan(&one)
}

// preparedReads keeps the readers' statements prepared: parsing a query
// costs more than running it on the check-in path. Only reads are kept,
// since their texts are few while multi-row writes vary with their size.
type preparedReads struct {
	*sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func newPreparedReads(pool *sql.DB) *preparedReads {
	return &preparedReads{DB: pool, stmts: map[string]*sql.Stmt{}}
}

// stmt returns q prepared, or nil when preparing fails, in which case the
// query runs unprepared and reports the error itself.
func (p *preparedReads) stmt(ctx context.Context, q string) *sql.Stmt {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st, ok := p.stmts[q]; ok {
		return st
	}
	st, err := p.DB.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	p.stmts[q] = st
	return st
}

func (p *preparedReads) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.DB.QueryContext(ctx, q, args...)
}

func (p *preparedReads) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := p.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.DB.QueryRowContext(ctx, q, args...)
}

func (p *preparedReads) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, st := range p.stmts {
		st.Close()
	}
	return p.DB.Close()
}

// DB is the store on one database.
type DB struct {
	conn
	closers []io.Closer
	path    string // the SQLite file
}

// sqlitePragmas apply to every connection: wait for a lock rather than fail
// (serve and a command-line tool share the file), enforce references, and
// sync at checkpoints only, which WAL makes safe against a killed process.
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"

// Open opens the store: dsn is a SQLite file's path, or a postgres:// URL
// (whose query may set search_path). Call Migrate before using it.
func Open(ctx context.Context, dsn string) (*DB, error) {
	var db *DB
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err = openPostgres(dsn)
	} else {
		db, err = openSQLite(ctx, dsn)
	}
	if err != nil {
		return nil, err
	}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: connecting to the database: %w", err)
	}
	return db, nil
}

func openPostgres(dsn string) (*DB, error) {
	pool, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	// Idle connections are kept so that a busy instance does not reconnect
	// for every request; the cap leaves room for other instances.
	pool.SetMaxOpenConns(20)
	pool.SetMaxIdleConns(20)
	reads := newPreparedReads(pool)
	return &DB{conn: conn{d: postgresDialect, r: reads, w: pool, writer: pool}, closers: []io.Closer{reads}}, nil
}

// openSQLite opens one writer connection and a pool of readers: SQLite lets
// one transaction write at a time, so writes queue in Go rather than fail
// with SQLITE_BUSY, and WAL lets the readers go on while a write runs.
func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" || strings.Contains(path, "?") {
		return nil, fmt.Errorf("sqlstore: %q is not a usable SQLite file name", path)
	}
	// SQLite would create the file world-readable, and it holds the hashes
	// of every secret; its WAL and shared memory take the file's mode.
	if f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	writer, err := sql.Open("sqlite", path+"?"+sqlitePragmas+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	// The writer creates the file and switches it to WAL before any reader
	// opens it. Switching fails at once, busy timeout or not, while another
	// process opening a new file does the same; it succeeds once that is over.
	deadline := time.Now().Add(10 * time.Second)
	for err = writer.PingContext(ctx); isBusy(err) && time.Now().Before(deadline); err = writer.PingContext(ctx) {
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlstore: opening %s: %w", path, err)
	}
	reader, err := sql.Open("sqlite", path+"?"+sqlitePragmas+"&_pragma=query_only(1)")
	if err != nil {
		writer.Close()
		return nil, err
	}
	n := max(4, runtime.NumCPU())
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	reads := newPreparedReads(reader)
	return &DB{conn: conn{d: sqliteDialect, r: reads, w: writer, writer: writer},
		closers: []io.Closer{writer, reads}, path: path}, nil
}

// Close closes every connection.
func (db *DB) Close() error {
	var errs []error
	for _, c := range db.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// Migrate brings the schema up to date.
func (db *DB) Migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, db.d.migrations)
	if err != nil {
		return err
	}
	locker, err := db.migrationLocker(ctx)
	if err != nil {
		return err
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithSessionLocker(locker)}
	// Migrations write, so on SQLite they go through the writer.
	p, err := goose.NewProvider(db.d.goose, db.writer, fsys, opts...)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlstore: migrating the database: %w", err)
	}
	return nil
}

// migrationLocker makes processes that start together on one database
// migrate one after the other. On PostgreSQL the advisory lock is named
// after the schema, so that installations (or tests) in other schemas of the
// same database do not wait for each other.
func (db *DB) migrationLocker(ctx context.Context) (lock.SessionLocker, error) {
	if db.d == sqliteDialect {
		return &fileLocker{path: db.path + "-migrate"}, nil
	}
	var schema string
	if err := db.queryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return nil, err
	}
	id := int64(crc32.ChecksumIEEE([]byte("portico:" + schema)))
	return lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 300))
}

// fileLocker is a session locker for SQLite: a write transaction on a
// file of its own. Goose migrates through the database's one writer, so the
// lock cannot be a transaction on the database itself; the operating system
// releases it if the process dies.
type fileLocker struct {
	path string
	db   *sql.DB
	tx   *sql.Tx
}

func (l *fileLocker) SessionLock(ctx context.Context, _ *sql.Conn) error {
	db, err := sql.Open("sqlite", l.path+"?_pragma=busy_timeout(300000)&_txlock=immediate")
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		db.Close()
		return fmt.Errorf("sqlstore: waiting for another process's migration: %w", err)
	}
	l.db, l.tx = db, tx
	return nil
}

func (l *fileLocker) SessionUnlock(context.Context, *sql.Conn) error {
	return errors.Join(l.tx.Rollback(), l.db.Close())
}

// Backup writes a consistent copy of a SQLite database to path, which must
// not exist, while the store stays in use.
func (db *DB) Backup(ctx context.Context, path string) error {
	if db.d != sqliteDialect {
		return portico.Errorf(portico.EINVALID, "A PostgreSQL database is backed up with pg_dump, not by Portico.")
	}
	// A connection of its own: the readers may not write a file, and the
	// writer would hold up every write until the copy is done.
	c, err := sql.Open("sqlite", db.path+"?"+sqlitePragmas)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.ExecContext(ctx, "VACUUM INTO ?", path)
	return err
}
