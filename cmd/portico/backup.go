package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/backup"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/service"
)

// A backup is internal/backup's archive of the data directory; the admin
// portal takes the same ones.

func (c *cli) backup(ctx context.Context, g globals, args []string) error {
	fset := c.flags("backup")
	g.define(fset, c)
	files, err := parse(fset, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usageError("give the file to write: portico backup FILE")
	}
	if g.postgres() {
		return usageError("with PostgreSQL, back up the database with pg_dump and copy the data directory's files; see the README")
	}
	target := files[0]
	db, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := service.New(service.Config{Store: db, Passwords: secret.Default, Backups: backup.Maker{DB: db, Data: g.data}})
	ctx = portico.NewContextWithActor(ctx, portico.Actor{System: true, Source: "cli"})

	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating the backup file: %w", err)
	}
	if err := svc.WriteBackup(ctx, out); err != nil {
		out.Close()
		os.Remove(target)
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Backup written to %s.\n", target)
	return nil
}

func (c *cli) restore(ctx context.Context, g globals, args []string) error {
	fset := c.flags("restore")
	g.define(fset, c)
	files, err := parse(fset, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usageError("give the backup to restore: portico restore FILE")
	}
	if g.postgres() {
		return usageError("with PostgreSQL, restore the database with pg_restore or psql; see the README")
	}
	if entries, err := os.ReadDir(g.data); err == nil && len(entries) > 0 {
		return fmt.Errorf("the data directory %s is not empty; restore into a new one with --data", g.data)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	in, err := os.Open(files[0])
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(g.data, 0o700); err != nil {
		return err
	}
	undo, err := backup.Read(in, g.data, backup.RestoreLimits)
	if err != nil {
		return fmt.Errorf("%s is not a Portico backup: %w", files[0], err)
	}
	db, err := g.open(ctx)
	if err != nil {
		undo()
		return fmt.Errorf("the restored database does not open: %w", err)
	}
	db.Close()
	fmt.Fprintf(c.stdout, "Restored %s into %s.\n", files[0], g.data)
	return nil
}
