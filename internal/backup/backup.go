// Package backup writes and reads Portico's backups: a gzipped tar of the
// data directory, with the SQLite database as an online, consistent copy
// and every other file as it is (keys and certificates, which the database
// is useless without). The command line and the admin portal share it, so
// that a backup taken in one restores with the other.
package backup

import (
	"archive/tar"
	"bufio"
	"bytes"
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

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/store/sqlstore"
)

// DBFile is the SQLite database's name in the data directory and in a
// backup, where it is the first entry.
const DBFile = "portico.db"

// SecretKeyFile is the key that seals secrets in the database, in the
// data directory and in a backup, unless it comes from the environment.
const SecretKeyFile = "keys/secret.key"

// Snapshotter makes a consistent copy of the live database at path.
type Snapshotter interface {
	Backup(ctx context.Context, path string) error
}

// Maker takes and checks the backups of one installation on SQLite.
type Maker struct {
	DB   Snapshotter
	Data string // the data directory
}

// Dir is the data directory, absolute where it can be made so, for the
// commands the admin portal shows.
func (m Maker) Dir() string {
	if abs, err := filepath.Abs(m.Data); err == nil {
		return abs
	}
	return m.Data
}

// Write writes a backup of the installation to w and returns its size.
func (m Maker) Write(ctx context.Context, w io.Writer) (int64, error) {
	tmp, err := os.MkdirTemp("", "portico-backup-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	snapshot := filepath.Join(tmp, DBFile)
	if err := m.DB.Backup(ctx, snapshot); err != nil {
		return 0, err
	}
	return Write(w, m.Data, snapshot)
}

// Verify checks a backup without restoring it; see Verify. An upload is
// unpacked in the running server, so it may unpack to no more than a few
// times the live database, which a backup of this installation would not
// come near.
func (m Maker) Verify(ctx context.Context, r io.Reader) (portico.BackupReport, error) {
	rep, err := Verify(ctx, r, m.VerifyLimits())
	rep.KeyFromEnv = os.Getenv(secret.KeyEnv) != ""
	return rep, err
}

// MinVerifyBytes is the least an upload may unpack to: enough for a new
// installation's backups, restored where the data has grown.
const MinVerifyBytes = 256 << 20

// VerifyLimits are the limits of checking an upload: four times the live
// database, at least MinVerifyBytes, at most RestoreLimits.
func (m Maker) VerifyLimits() Limits {
	var live int64
	for _, name := range []string{DBFile, DBFile + "-wal"} {
		if info, err := os.Stat(filepath.Join(m.Data, name)); err == nil {
			live += info.Size()
		}
	}
	return Limits{Bytes: min(max(4*live, MinVerifyBytes), RestoreLimits.Bytes), Entries: RestoreLimits.Entries}
}

// Write writes the archive of dataDir to w, with the database from
// snapshot. A backup written into the data directory must not contain
// itself, nor the backups made before it, which would make every backup
// hold all the earlier ones. It returns the archive's size.
func Write(w io.Writer, dataDir, snapshot string) (int64, error) {
	var self os.FileInfo
	if f, ok := w.(*os.File); ok {
		info, err := f.Stat()
		if err != nil {
			return 0, err
		}
		self = info
	}
	counted := &countingWriter{w: w}
	gz := gzip.NewWriter(counted)
	tw := tar.NewWriter(gz)
	if err := addFile(tw, DBFile, snapshot); err != nil {
		return 0, err
	}
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dataDir, path)
		if err != nil || strings.HasPrefix(rel, DBFile) {
			return err // the database, its WAL and shared memory are in the snapshot
		}
		if info, err := d.Info(); err != nil || (self != nil && os.SameFile(info, self)) || isBackup(path) {
			return err
		}
		return addFile(tw, filepath.ToSlash(rel), path)
	})
	if err != nil {
		return 0, err
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	err = gz.Close()
	return counted.n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// isBackup reports whether the file is a backup archive: a gzipped tar
// whose first entry is the database, as Write makes them.
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
	return err == nil && h.Name == DBFile
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

// Limits bound what reading a backup may write, so that a crafted or
// wrong archive cannot fill the disk.
type Limits struct {
	Bytes   int64
	Entries int
}

// RestoreLimits are far above any real data directory: an MDM's SQLite
// file of a hundred thousand devices is well under a gibibyte.
var RestoreLimits = Limits{Bytes: 8 << 30, Entries: 10000}

// entries walks the archive's entries, refusing any that is not a regular
// file inside the directory and stopping at the limits; each one is
// handed to fn with its content.
func entries(r io.Reader, limits Limits, fn func(h *tar.Header, content io.Reader) error) error {
	// A buffered reader of our own, which gzip reads through as it is,
	// tells whether anything follows the compressed stream.
	br := bufio.NewReader(r)
	gz, err := gzip.NewReader(br)
	if errors.Is(err, io.EOF) {
		return err
	} else if err != nil {
		return errNotGzip
	}
	gz.Multistream(false)
	tr := tar.NewReader(gz)
	sawDB := false
	var size int64
	for n := 1; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg || !filepath.IsLocal(h.Name) {
			return fmt.Errorf("unexpected entry %q", h.Name)
		}
		if size += h.Size; n > limits.Entries || size > limits.Bytes {
			return fmt.Errorf("it unpacks to more than %d files or %d bytes, more than a data directory holds", limits.Entries, limits.Bytes)
		}
		sawDB = sawDB || h.Name == DBFile
		if err := fn(h, tr); err != nil {
			return err
		}
	}
	if !sawDB {
		return errors.New("it holds no database")
	}
	return end(br, gz)
}

// maxPadding bounds the zeros after a tar archive's end: tar pads its last
// record to 10 KiB, and some writers to more.
const maxPadding = 1 << 20

// end reads the compressed stream to its end after the archive's: gzip
// checks its checksum and length only there, so a backup damaged in its
// last bytes reads as whole until then. What follows the archive may be
// padding, zeros only; nothing may follow the stream.
func end(br *bufio.Reader, gz *gzip.Reader) error {
	n, err := io.Copy(zeros{}, io.LimitReader(gz, maxPadding+1))
	if err != nil {
		return err
	}
	if n > maxPadding {
		return errTrailing
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		return errTrailing
	}
	return nil
}

// zeros takes bytes that must all be zero.
type zeros struct{}

func (zeros) Write(p []byte) (int, error) {
	for i, b := range p {
		if b != 0 {
			return i, errTrailing
		}
	}
	return len(p), nil
}

// Read unpacks regular files only, and only to paths inside dir. On
// failure it removes what it unpacked and nothing else: dir itself may be a
// mount point the operator made. On success it returns the function that
// does so, for a restore that fails later.
func Read(r io.Reader, dir string, limits Limits) (undo func(), err error) {
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
	err = entries(r, limits, func(h *tar.Header, content io.Reader) error {
		path := filepath.Join(dir, filepath.FromSlash(h.Name))
		if err := mkdirs(dir, filepath.Dir(filepath.FromSlash(h.Name)), &made); err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		made = append(made, path)
		_, err = io.Copy(f, content)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		return nil, err
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

const sqliteHeader = "SQLite format 3\x00"

// Verify reads a backup the way a restore would, without restoring it:
// only its database is unpacked, into a temporary directory, and opened
// there to read its schema version and what it holds. A backup this build
// could not restore is refused with the reason.
func Verify(ctx context.Context, r io.Reader, limits Limits) (portico.BackupReport, error) {
	var rep portico.BackupReport
	tmp, err := os.MkdirTemp("", "portico-verify-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(tmp)
	db := filepath.Join(tmp, DBFile)
	err = entries(r, limits, func(h *tar.Header, content io.Reader) error {
		rep.Files++
		rep.Bytes += h.Size
		rep.SecretKey = rep.SecretKey || h.Name == SecretKeyFile
		if h.Name != DBFile {
			_, err := io.Copy(io.Discard, content)
			return err
		}
		rep.TakenAt = h.ModTime.UTC()
		// Nothing is written of what is not a database at all.
		header := make([]byte, len(sqliteHeader))
		if _, err := io.ReadFull(content, header); err != nil || string(header) != sqliteHeader {
			return errors.New("its database is not a SQLite file")
		}
		f, err := os.OpenFile(db, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("it holds the database twice")
		}
		_, err = io.Copy(f, io.MultiReader(bytes.NewReader(header), content))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		return rep, portico.Errorf(portico.EINVALID, "This file is not a Portico backup: %s.", readable(err))
	}
	in, err := sqlstore.Inspect(ctx, db)
	if err != nil {
		return rep, portico.Errorf(portico.EINVALID, "The backup's database does not open: %s.", readable(err))
	}
	rep.Schema, rep.Current = in.Version, sqlstore.SchemaVersion()
	rep.Users, rep.Admins, rep.Devices = in.Users, in.Admins, in.Devices
	if rep.Schema > rep.Current {
		return rep, portico.Errorf(portico.EINVALID, "The backup's database has schema version %d, newer than this Portico's %d: restore it with the Portico version it was taken with, or a newer one.", rep.Schema, rep.Current)
	}
	return rep, nil
}

var (
	errNotGzip  = errors.New("it is not a gzip-compressed archive")
	errTrailing = errors.New("it has data after the archive's end; it may be damaged, or another file joined to it")
)

// readable turns the errors of reading an archive into what an admin can
// act on.
func readable(err error) string {
	switch {
	case errors.Is(err, errNotGzip):
		return "it is not a gzip-compressed archive"
	case errors.Is(err, gzip.ErrChecksum):
		return "it is damaged (its checksum does not match)"
	case errors.Is(err, io.EOF):
		return "it is empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "it ends early; the file may be cut short"
	case errors.Is(err, tar.ErrHeader):
		return "it is not a tar archive"
	}
	return err.Error()
}
