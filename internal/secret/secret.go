// Package secret makes and checks the secrets Portico hands out: argon2id
// password hashes in PHC form, and random 256-bit tokens kept as SHA-256.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's costs. Production uses Default; tests use Cheap so
// that a suite of logins takes milliseconds.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

var (
	// Default follows the OWASP recommendation for argon2id (19 MiB, 2 passes).
	Default = Params{Memory: 19 * 1024, Time: 2, Threads: 1}
	// Cheap is for tests only.
	Cheap = Params{Memory: 64, Time: 1, Threads: 1}
)

// HashPassword returns the argon2id PHC string of the password.
func (p Params) HashPassword(password string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// CheckPassword reports whether password matches the PHC string, with the
// costs the string was made with.
func CheckPassword(phc, password string) (bool, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("secret: not an argon2id PHC string")
	}
	var version int
	var p Params
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("secret: unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, fmt.Errorf("secret: bad argon2 parameters: %w", err)
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("secret: bad salt: %w", err)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil {
		return false, fmt.Errorf("secret: bad hash: %w", err)
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NewToken returns 256 random bits as URL-safe text, and its hash for storage.
func NewToken() (token string, hash []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// HashToken is the SHA-256 of a token: an indexed look-up, not a slow hash,
// because the token already has 256 bits of entropy.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// NewPassword returns a random password of 20 characters that avoids
// letters people confuse (0/O, 1/l/I).
func NewPassword() string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	return randomFrom(alphabet, 20)
}

func randomFrom(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		var r [1]byte
		for {
			rand.Read(r[:])
			if int(r[0]) < 256-256%len(alphabet) {
				break
			}
		}
		b[i] = alphabet[int(r[0])%len(alphabet)]
	}
	return string(b)
}

// PINDigits is the length of a registration PIN: with the five tries an
// invitation allows, guessing one is a chance in twenty million.
const PINDigits = 8

// NewPIN returns a random registration PIN of PINDigits digits.
func NewPIN() string { return randomFrom("0123456789", PINDigits) }

// NewDigits returns n random digits: a PIN whose length someone else
// decides, such as the six digits a Mac locks with.
func NewDigits(n int) string { return randomFrom("0123456789", n) }
