package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/portico-mdm/portico/internal/backup"
	"github.com/portico-mdm/portico/internal/store/sqlstore"
)

// globals are the flags every command that opens the store shares, so that
// `portico user add` finds the same store as the `portico serve` beside it.
type globals struct {
	data string
	db   string
}

func (g *globals) define(fs *flag.FlagSet, c *cli) {
	def := func(name, fallback, current string) string {
		if current != "" {
			return current
		}
		return c.env(name, fallback)
	}
	fs.StringVar(&g.data, "data", def("data", "./portico-data", g.data), "data directory: the SQLite file, keys and certificates (PORTICO_DATA)")
	fs.StringVar(&g.db, "db", def("db", "", g.db), "PostgreSQL URL (postgres://…); empty uses SQLite in the data directory (PORTICO_DB)")
}

const dbFile = backup.DBFile

func (g globals) postgres() bool {
	return strings.HasPrefix(g.db, "postgres://") || strings.HasPrefix(g.db, "postgresql://")
}

// open opens the store and brings its schema up to date.
func (g globals) open(ctx context.Context) (*sqlstore.DB, error) {
	dsn := g.db
	if dsn == "" {
		if err := os.MkdirAll(g.data, 0o700); err != nil {
			return nil, fmt.Errorf("creating the data directory: %w", err)
		}
		dsn = filepath.Join(g.data, dbFile)
	} else if !g.postgres() {
		return nil, usageError(fmt.Sprintf("--db %q is not a PostgreSQL URL (postgres://…); leave it empty for SQLite", g.db))
	}
	db, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (c *cli) migrate(ctx context.Context, g globals, args []string) error {
	fs := c.flags("migrate")
	g.define(fs, c)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	db, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(c.stdout, "The database schema is up to date.")
	return nil
}
