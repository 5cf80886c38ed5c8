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
	"slices"
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

// writeBackup writes the archive to out. A backup written into the data
// directory must not contain itself, nor the backups made before it, which
// would make every backup hold all the earlier ones.
func writeBackup(out *os.File, dataDir, snapshot string) error {
	self, err := out.Stat()
	if err != nil {
		return err
	}
	gz := gzip.NewWriter(out)
	tw := tar.NewWriter(gz)
	if err := addFile(tw, dbFile, snapshot); err != nil {
		return err
	}
	err = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dataDir, path)
		if err != nil || strings.HasPrefix(rel, dbFile) {
			return err // the database, its WAL and shared memory are in the snapshot
		}
		if info, err := d.Info(); err != nil || os.SameFile(info, self) || isBackup(path) {
			return err
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

// isBackup reports whether the file is a backup archive: a gzipped tar
// whose first entry is the database, as writeBackup makes them.
func isBackup(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return false
	}
	h, err := tar.NewReader(gz).Next()
	return err == nil && h.Name == dbFile
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
	undo, err := readBackup(in, g.data, restoreLimits)
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

// unpackLimits bound what a restore may write, so that a crafted or wrong
// archive cannot fill the disk.
type unpackLimits struct {
	bytes   int64
	entries int
}

// restoreLimits are far above any real data directory: an MDM's SQLite
// file of a hundred thousand devices is well under a gibibyte.
var restoreLimits = unpackLimits{bytes: 8 << 30, entries: 10000}

// readBackup unpacks regular files only, and only to paths inside dir. On
// failure it removes what it unpacked and nothing else: dir itself may be a
// mount point the operator made. On success it returns the function that
// does so, for a restore that fails later.
func readBackup(r io.Reader, dir string, limits unpackLimits) (undo func(), err error) {
	var made []string // files and directories, parents first
	remove := func() {
		for _, path := range slices.Backward(made) {
			os.Remove(path)
		}
	}
	defer func() {
		if err != nil {
			remove()
		}
	}()
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	sawDB := false
	var size int64
	for entries := 1; ; entries++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg || !filepath.IsLocal(h.Name) {
			return nil, fmt.Errorf("unexpected entry %q", h.Name)
		}
		if size += h.Size; entries > limits.entries || size > limits.bytes {
			return nil, fmt.Errorf("it unpacks to more than %d files or %d bytes, more than a data directory holds", limits.entries, limits.bytes)
		}
		sawDB = sawDB || h.Name == dbFile
		path := filepath.Join(dir, filepath.FromSlash(h.Name))
		if err := mkdirs(dir, filepath.Dir(filepath.FromSlash(h.Name)), &made); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		made = append(made, path)
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
	}
	if !sawDB {
		return nil, errors.New("it holds no database")
	}
	return remove, nil
}

// mkdirs makes the directory rel inside dir and its parents, noting each
// one it made.
func mkdirs(dir, rel string, made *[]string) error {
	if rel == "." {
		return nil
	}
	if err := mkdirs(dir, filepath.Dir(rel), made); err != nil {
		return err
	}
	path := filepath.Join(dir, rel)
	err := os.Mkdir(path, 0o700)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err == nil {
		*made = append(*made, path)
	}
	return err
}
