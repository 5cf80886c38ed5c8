package secret_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-mdm/portico/internal/secret"
)

func newSealer(t *testing.T, fill byte) *secret.Sealer {
	t.Helper()
	s, err := secret.NewSealer(bytes.Repeat([]byte{fill}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealRoundTrip(t *testing.T) {
	s := newSealer(t, 1)
	for _, plain := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("pkcs12"), 1000)} {
		for _, context := range [][]byte{nil, []byte("user-certificate:42:pkcs12")} {
			sealed := s.Seal(plain, context)
			if len(plain) > 8 && bytes.Contains(sealed, plain) {
				t.Error("sealed value contains the plain text")
			}
			got, err := s.Open(sealed, context)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain) {
				t.Errorf("Open = %q, want %q", got, plain)
			}
		}
	}
	if a, b := s.Seal([]byte("same"), nil), s.Seal([]byte("same"), nil); bytes.Equal(a, b) {
		t.Error("sealing twice gave the same value; the nonce is not random")
	}
}

func TestOpenRefuses(t *testing.T) {
	s := newSealer(t, 1)
	context := []byte("user-certificate:42:pkcs12")
	sealed := s.Seal([]byte("private key"), context)
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		return b
	}
	const cannotOpen = "secret: cannot open sealed value: wrong key, wrong context, or altered data"
	tests := []struct {
		name    string
		sealer  *secret.Sealer
		sealed  []byte
		context []byte
		want    string
	}{
		{"wrong key", newSealer(t, 2), sealed, context, cannotOpen},
		{"wrong context", s, sealed, []byte("user-certificate:43:pkcs12"), cannotOpen},
		{"no context", s, sealed, nil, cannotOpen},
		{"altered nonce", s, flip(1), context, cannotOpen},
		{"altered ciphertext", s, flip(len(sealed) - 20), context, cannotOpen},
		{"altered tag", s, flip(len(sealed) - 1), context, cannotOpen},
		{"unknown version", s, append([]byte{2}, sealed[1:]...), context, "secret: sealed value has unknown version 2"},
		{"truncated", s, sealed[:1+12+15], context, "secret: sealed value is too short"},
		{"empty", s, nil, context, "secret: sealed value is too short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sealer.Open(tt.sealed, tt.context)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Open = %q, %v; want error %q", got, err, tt.want)
			}
		})
	}
}

func TestNewSealerKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := secret.NewSealer(make([]byte, n)); err == nil {
			t.Errorf("NewSealer accepted a %d-byte key", n)
		}
	}
}

func TestLoadKey(t *testing.T) {
	key := bytes.Repeat([]byte{7}, secret.KeySize)
	b64 := base64.StdEncoding.EncodeToString(key)
	writeKeyFile := func(t *testing.T, content string) string {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "keys"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "keys", "secret.key"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	short := base64.StdEncoding.EncodeToString(key[:16])
	tests := []struct {
		name    string
		dataDir string
		env     string
		want    []byte
		wantErr string
	}{
		{"env", t.TempDir(), b64, key, ""},
		{"env wins over the file", writeKeyFile(t, base64.StdEncoding.EncodeToString(make([]byte, 32))), " " + b64 + "\n", key, ""},
		{"existing file", writeKeyFile(t, b64+"\n"), "", key, ""},
		{"env not base64", t.TempDir(), "not base64!", nil,
			"secret: PORTICO_SECRET_KEY is not a key: not standard base64 (make one with: openssl rand -base64 32)"},
		{"env too short", t.TempDir(), short, nil,
			"secret: PORTICO_SECRET_KEY is not a key: holds 16 bytes, want 32 (make one with: openssl rand -base64 32)"},
		{"file not base64", writeKeyFile(t, string(key)), "", nil, "not standard base64"},
		{"file too short", writeKeyFile(t, short), "", nil, "holds 16 bytes, want 32"},
		{"empty file", writeKeyFile(t, ""), "", nil, "holds 0 bytes, want 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, created, err := secret.LoadKey(tt.dataDir, tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), strings.TrimSpace(tt.env)) && tt.env != "" {
					t.Errorf("error %q quotes the key", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if created || !bytes.Equal(got, tt.want) {
				t.Errorf("LoadKey = %x, %v; want %x, false", got, created, tt.want)
			}
		})
	}
}

func TestLoadKeyCreates(t *testing.T) {
	dataDir := t.TempDir()
	key, created, err := secret.LoadKey(dataDir, "")
	if err != nil {
		t.Fatal(err)
	}
	if !created || len(key) != secret.KeySize || bytes.Equal(key, make([]byte, secret.KeySize)) {
		t.Fatalf("LoadKey = %x, %v; want a new random key", key, created)
	}
	for path, mode := range map[string]os.FileMode{
		filepath.Join(dataDir, "keys"):               0o700 | os.ModeDir,
		filepath.Join(dataDir, "keys", "secret.key"): 0o600,
	} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != mode {
			t.Errorf("%s has mode %v, want %v", path, info.Mode(), mode)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dataDir, "keys"))
	if len(entries) != 1 {
		t.Errorf("keys directory holds %d files, want only secret.key", len(entries))
	}

	// The next start reads the same key, and so can the environment.
	again, created, err := secret.LoadKey(dataDir, "")
	if err != nil || created || !bytes.Equal(again, key) {
		t.Fatalf("second LoadKey = %x, %v, %v; want %x, false, nil", again, created, err, key)
	}
	text, _ := os.ReadFile(filepath.Join(dataDir, "keys", "secret.key"))
	fromEnv, _, err := secret.LoadKey(t.TempDir(), string(text))
	if err != nil || !bytes.Equal(fromEnv, key) {
		t.Fatalf("the key file's content as %s gave %x, %v; want %x", secret.KeyEnv, fromEnv, err, key)
	}
}
