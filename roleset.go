package portico

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// RoleSet is a named set of portal roles ("Standard employee") that admins
// give to users at once; a member has every role of the set as long as
// they are in it (SPEC ADM-1).
type RoleSet struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Roles []Role `json:"roles"`
	// Members is how many users are in the set.
	Members   int       `json:"members"`
	CreatedAt time.Time `json:"created_at"`
}

// HasRole reports whether the set holds the role.
func (s *RoleSet) HasRole(r Role) bool {
	return slices.Contains(s.Roles, r)
}

// Validate checks what an admin typed for the set.
func (s *RoleSet) Validate() error {
	s.Name = strings.TrimSpace(s.Name)
	switch {
	case s.Name == "":
		return Errorf(EINVALID, "A role set needs a name.")
	case utf8.RuneCountInString(s.Name) > 100:
		return Errorf(EINVALID, "The name of a role set is at most 100 characters.")
	}
	for _, r := range s.Roles {
		if _, err := ParseRole(string(r)); err != nil {
			return err
		}
	}
	s.Roles = NormalizeRoles(s.Roles)
	return nil
}

// PasswordReset is a one-time link with which a user sets a new password
// (SPEC ADM-1). Only the SHA-256 of its token is kept.
type PasswordReset struct {
	ID        int64     `json:"id"`
	UserID    int64     `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at,omitzero"`
}
