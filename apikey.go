package portico

import (
	"regexp"
	"time"
)

// APIScope is what an API key may do with the admin API (SPEC ADM-4).
type APIScope string

const (
	// ScopeReadOnly keys may only read: GET and HEAD.
	ScopeReadOnly APIScope = "read-only"
	// ScopeReadWrite keys may do everything the admin API offers.
	ScopeReadWrite APIScope = "read-write"
)

// ParseAPIScope returns the scope with the given name.
func ParseAPIScope(s string) (APIScope, error) {
	switch sc := APIScope(s); sc {
	case ScopeReadOnly, ScopeReadWrite:
		return sc, nil
	}
	return "", Errorf(EINVALID, "%q is not an API key scope; choose read-only or read-write.", s)
}

// MaxAPIKeyLifetime is the longest an API key may be valid: a key that
// never expires is a key nobody remembers to revoke.
const MaxAPIKeyLifetime = 365 * 24 * time.Hour

// APIKey is a credential for the admin API. The key itself is shown once
// when it is created; only its SHA-256 is stored.
type APIKey struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Scope     APIScope  `json:"scope"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// LastUsedAt is kept to the minute: writing it on every call would
	// cost a write per read.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

// Active reports whether the key still works at now.
func (k *APIKey) Active(now time.Time) bool {
	return k.RevokedAt.IsZero() && now.Before(k.ExpiresAt)
}

// ActorName is how the audit log names what the key did.
func (k *APIKey) ActorName() string { return "api-key:" + k.Name }

var apiKeyNamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`)

// ValidAPIKeyName checks the name an admin gave a key; it names the key in
// the audit log, so it is short and plain.
func ValidAPIKeyName(name string) error {
	if !apiKeyNamePattern.MatchString(name) {
		return Errorf(EINVALID, "A key's name has 1 to 64 letters, digits, dots, dashes or underscores, and starts with a letter or digit.")
	}
	return nil
}
