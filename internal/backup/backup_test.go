package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type entry struct {
	name     string
	typeflag byte
	body     string
}

func archive(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typeflag, Mode: 0o600, Size: int64(len(e.body))}
		if e.typeflag == tar.TypeSymlink {
			h.Linkname, h.Size = "/etc/passwd", 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil && h.Size > 0 {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// listing is every path under dir, with a slash after directories.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			rel += "/"
		}
		paths = append(paths, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

func TestReadBackupRefusals(t *testing.T) {
	db := entry{name: DBFile, typeflag: tar.TypeReg, body: "SQLite format 3"}
	cert := entry{name: "tls/cert.pem", typeflag: tar.TypeReg, body: "cert"}
	deep := entry{name: "keys/a/b.pem", typeflag: tar.TypeReg, body: "key"}
	small := Limits{Bytes: 100, Entries: 10}
	tests := []struct {
		name    string
		entries []entry
		limits  Limits
		want    string
	}{
		{"a path out of the directory", []entry{db, cert, deep, {name: "../x", typeflag: tar.TypeReg, body: "x"}}, RestoreLimits, `unexpected entry "../x"`},
		{"an absolute path", []entry{db, cert, deep, {name: "/tmp/x", typeflag: tar.TypeReg, body: "x"}}, RestoreLimits, `unexpected entry "/tmp/x"`},
		{"a symbolic link", []entry{db, cert, deep, {name: "link", typeflag: tar.TypeSymlink}}, RestoreLimits, `unexpected entry "link"`},
		{"a directory entry", []entry{db, cert, {name: "keys/", typeflag: tar.TypeDir}}, RestoreLimits, `unexpected entry "keys/"`},
		{"no database", []entry{cert, deep}, RestoreLimits, "no database"},
		{"the same file twice", []entry{db, cert, deep, cert}, RestoreLimits, "exists"},
		{"more bytes than the limit", []entry{db, cert, deep, {name: "big", typeflag: tar.TypeReg, body: strings.Repeat("x", 101)}}, small, "more than 10 files or 100 bytes"},
		{"more files than the limit", []entry{db, cert, deep, {name: "1", typeflag: tar.TypeReg}, {name: "2", typeflag: tar.TypeReg}}, Limits{Bytes: 100, Entries: 4}, "more than 4 files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			// A directory the operator made, which the restore must keep.
			if err := os.Mkdir(filepath.Join(dir, "tls"), 0o700); err != nil {
				t.Fatal(err)
			}
			before := listing(t, dir)
			_, err := Read(bytes.NewReader(archive(t, tt.entries...)), dir, tt.limits)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
			if after := listing(t, dir); !slices.Equal(after, before) {
				t.Errorf("the directory holds %q after the refusal, want %q as before", after, before)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "x")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a file was written outside the directory: %v", err)
			}
		})
	}
}

func TestReadBackupUndo(t *testing.T) {
	dir := t.TempDir()
	undo, err := Read(bytes.NewReader(archive(t,
		entry{name: DBFile, typeflag: tar.TypeReg, body: "SQLite format 3"},
		entry{name: "keys/a/b.pem", typeflag: tar.TypeReg, body: "key"},
	)), dir, RestoreLimits)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := listing(t, dir), []string{"keys/", "keys/a/", "keys/a/b.pem", DBFile}; !slices.Equal(got, want) {
		t.Fatalf("unpacked %q, want %q", got, want)
	}
	undo()
	if got := listing(t, dir); len(got) != 0 {
		t.Errorf("after undo the directory holds %q", got)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("undo removed the directory itself: %v", err)
	}
}

// TestWriteBackupInsideTheDataDirectory writes a backup into the data
// directory beside an earlier one: neither is in the archive.
func TestWriteBackupInsideTheDataDirectory(t *testing.T) {
	data := t.TempDir()
	snapshot := filepath.Join(t.TempDir(), DBFile)
	for path, body := range map[string]string{snapshot: "SQLite format 3", filepath.Join(data, DBFile): "live", filepath.Join(data, "tls", "cert.pem"): "cert"} {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"first.tar.gz", "second.tar.gz"} {
		out, err := os.Create(filepath.Join(data, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Write(out, data, snapshot); err != nil {
			t.Fatal(err)
		}
		out.Close()
	}
	f, err := os.Open(filepath.Join(data, "second.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	if want := []string{DBFile, "tls/cert.pem"}; !slices.Equal(names, want) {
		t.Errorf("the backup holds %q, want %q", names, want)
	}
}

// The damage a backup's last bytes can take, which leaves its entries
// readable: gzip notices only once the stream is read to its end.
const (
	crcFlipped = iota
	trailerCut
	junkAppended
	streamAppended
)

func damaged(good []byte, how int) []byte {
	b := bytes.Clone(good)
	switch how {
	case crcFlipped: // the CRC-32 is the trailer's first four bytes
		b[len(b)-8] ^= 0xff
	case trailerCut:
		b = b[:len(b)-8]
	case junkAppended:
		b = append(b, "junk"...)
	case streamAppended:
		var extra bytes.Buffer
		gz := gzip.NewWriter(&extra)
		gz.Write([]byte("more"))
		gz.Close()
		b = append(b, extra.Bytes()...)
	}
	return b
}

func TestReadRefusesADamagedEnd(t *testing.T) {
	good := archive(t, entry{name: DBFile, typeflag: tar.TypeReg, body: "SQLite format 3"},
		entry{name: "keys/secret.key", typeflag: tar.TypeReg, body: "key"})
	for _, tt := range []struct {
		name string
		how  int
		want string
	}{
		{"a wrong checksum", crcFlipped, "checksum"},
		{"no gzip trailer", trailerCut, "unexpected EOF"},
		{"data after the end", junkAppended, "after the archive's end"},
		{"another gzip stream after the end", streamAppended, "after the archive's end"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Read(bytes.NewReader(damaged(good, tt.how)), dir, RestoreLimits)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
			if after := listing(t, dir); len(after) != 0 {
				t.Errorf("the directory holds %q after the refusal", after)
			}
		})
	}
	if _, err := Read(bytes.NewReader(good), t.TempDir(), RestoreLimits); err != nil {
		t.Errorf("the undamaged archive: %v", err)
	}
}
