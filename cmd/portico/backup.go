package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// A backup is a gzipped tar of the data directory: the database as an
// online, consistent copy, and every other file as it is (keys and
// certificates, which the database is useless without).

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

	tmp, err := os.MkdirTemp("", "portico-backup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	snapshot := filepath.Join(tmp, dbFile)
	if err := db.Backup(ctx, snapshot); err != nil {
		return err
	}
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating the backup file: %w", err)
	}
	if err := writeBackup(out, g.data, snapshot); err != nil {
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

func writeBackup(w io.Writer, dataDir, snapshot string) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	if err := addFile(tw, dbFile, snapshot); err != nil {
		return err
	}
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dataDir, path)
		if err != nil || strings.HasPrefix(rel, dbFile) {
			return err // the database, its WAL and shared memory are in the snapshot
		}
		return addFile(tw, filepath.ToSlash(rel), path)
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func addFile(tw *tar.Writer, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: info.Size(), ModTime: info.ModTime()}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
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
	if err := readBackup(in, g.data); err != nil {
		os.RemoveAll(g.data)
		return fmt.Errorf("%s is not a Portico backup: %w", files[0], err)
	}
	db, err := g.open(ctx)
	if err != nil {
		return fmt.Errorf("the restored database does not open: %w", err)
	}
	db.Close()
	fmt.Fprintf(c.stdout, "Restored %s into %s.\n", files[0], g.data)
	return nil
}

// readBackup unpacks regular files only, and only to paths inside dir.
func readBackup(r io.Reader, dir string) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	sawDB := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg || !filepath.IsLocal(h.Name) {
			return fmt.Errorf("unexpected entry %q", h.Name)
		}
		sawDB = sawDB || h.Name == dbFile
		path := filepath.Join(dir, filepath.FromSlash(h.Name))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	if !sawDB {
		return errors.New("it holds no database")
	}
	return nil
}
