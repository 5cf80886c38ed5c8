package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length of a sealing key: AES-256.
const KeySize = 32

// KeyEnv names the environment variable that, when set, holds the sealing
// key as standard base64, instead of the key file in the data directory.
const KeyEnv = "PORTICO_SECRET_KEY"

// sealV1 marks AES-256-GCM with a 96-bit random nonce. Every sealed value
// starts with its version so that a later key or algorithm can be told
// apart from this one and old values still opened.
const sealV1 = 1

// Sealer encrypts secrets kept at rest, such as the PKCS#12 files users
// upload and their passwords, with a key that lives outside the database,
// so that a copy of the database alone reveals none of them.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a KeySize-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret: sealing key has %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts and authenticates plain as version byte, nonce, ciphertext
// and tag. The context, which may be nil, is authenticated but not stored:
// Open needs the same one. Passing what the value belongs to (for example
// "user-certificate:42:pkcs12") stops a value copied to another row or
// column from opening there. Random nonces are safe for 2^32 values per key.
func (s *Sealer) Seal(plain, context []byte) []byte {
	nonceSize := s.aead.NonceSize()
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plain)+s.aead.Overhead())
	out[0] = sealV1
	rand.Read(out[1:])
	return s.aead.Seal(out, out[1:], plain, associated(out[0], context))
}

// Open returns the plain text of a value Seal made with the same key and
// context.
func (s *Sealer) Open(sealed, context []byte) ([]byte, error) {
	nonceSize := s.aead.NonceSize()
	if len(sealed) < 1+nonceSize+s.aead.Overhead() {
		return nil, errors.New("secret: sealed value is too short")
	}
	if sealed[0] != sealV1 {
		return nil, fmt.Errorf("secret: sealed value has unknown version %d", sealed[0])
	}
	plain, err := s.aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], associated(sealed[0], context))
	if err != nil {
		// GCM cannot tell these apart.
		return nil, errors.New("secret: cannot open sealed value: wrong key, wrong context, or altered data")
	}
	return plain, nil
}

// associated binds the version byte too, so it cannot be changed to make
// a value be read under another scheme.
func associated(version byte, context []byte) []byte {
	return append([]byte{version}, context...)
}

// LoadKey returns the sealing key: from env, the value of KeyEnv read by the
// caller, when it is set; else from dataDir/keys/secret.key, which holds the
// key as standard base64 so that it can be copied into KeyEnv as it is. When
// that file does not exist, LoadKey makes a random key, writes it (file
// 0600, directory 0700) and reports created, so the caller can tell the
// operator to back the key up: sealed data cannot be read without it.
func LoadKey(dataDir, env string) (key []byte, created bool, err error) {
	if env != "" {
		key, err := decodeKey(env)
		if err != nil {
			return nil, false, fmt.Errorf("secret: %s is not a key: %w", KeyEnv, err)
		}
		return key, false, nil
	}
	dir := filepath.Join(dataDir, "keys")
	path := filepath.Join(dir, "secret.key")
	if key, err := readKey(path); !errors.Is(err, os.ErrNotExist) {
		return key, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("secret: create key directory: %w", err)
	}
	key = make([]byte, KeySize)
	rand.Read(key)
	switch err := writeNew(dir, path, []byte(base64.StdEncoding.EncodeToString(key)+"\n")); {
	case errors.Is(err, os.ErrExist):
		// Another process made the key first; theirs is the one in use.
		key, err := readKey(path)
		return key, false, err
	case err != nil:
		return nil, false, fmt.Errorf("secret: write key file: %w", err)
	}
	return key, true, nil
}

func readKey(path string) ([]byte, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret: read key file: %w", err)
	}
	key, err := decodeKey(string(text))
	if err != nil {
		return nil, fmt.Errorf("secret: key file %s: %w", path, err)
	}
	return key, nil
}

// decodeKey reads standard base64 of KeySize bytes. Its errors never quote
// the value, which may be most of a key.
func decodeKey(text string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return nil, errors.New("not standard base64 (make one with: openssl rand -base64 32)")
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("holds %d bytes, want %d (make one with: openssl rand -base64 32)", len(key), KeySize)
	}
	return key, nil
}

// writeNew writes the key to a temporary file and links it into place, so
// that the key file either does not exist or is whole, even after a crash,
// and a key made at the same time by another process is never overwritten.
func writeNew(dir, path string, data []byte) error {
	tmp, err := os.CreateTemp(dir, ".secret.key-*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
