package portico

import (
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Role is a portal role: one capability of the user portal that an admin
// grants to a user (SPEC ROLE).
type Role string

const (
	RoleRegisterDevice          Role = "register_device"
	RoleRequestPIN              Role = "request_pin"
	RoleGenerateQR              Role = "generate_qr"
	RoleLock                    Role = "lock"
	RoleUnlock                  Role = "unlock"
	RoleLocate                  Role = "locate"
	RoleWipe                    Role = "wipe"
	RoleRetire                  Role = "retire"
	RoleForceCheckin            Role = "force_checkin"
	RoleChangeOwnership         Role = "change_ownership"
	RoleResetSecureAppsPasscode Role = "reset_secure_apps_passcode"
	RoleManageCertificates      Role = "manage_certificates"
	RoleChangeAccount           Role = "change_account"
)

// Roles lists every portal role in the order the admin portal shows them.
var Roles = []Role{
	RoleRegisterDevice, RoleRequestPIN, RoleGenerateQR, RoleLock, RoleUnlock,
	RoleLocate, RoleWipe, RoleRetire, RoleForceCheckin, RoleChangeOwnership,
	RoleResetSecureAppsPasscode, RoleManageCertificates, RoleChangeAccount,
}

var roleLabels = map[Role]string{
	RoleRegisterDevice:          "Register device",
	RoleRequestPIN:              "Request registration PIN",
	RoleGenerateQR:              "Generate QR code",
	RoleLock:                    "Lock",
	RoleUnlock:                  "Unlock",
	RoleLocate:                  "Locate",
	RoleWipe:                    "Wipe",
	RoleRetire:                  "Retire",
	RoleForceCheckin:            "Force check-in",
	RoleChangeOwnership:         "Change ownership",
	RoleResetSecureAppsPasscode: "Reset secure apps passcode",
	RoleManageCertificates:      "Manage certificates",
	RoleChangeAccount:           "Change account info",
}

// Label is the role's name as people read it.
func (r Role) Label() string { return roleLabels[r] }

// ParseRole returns the role with the given name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.TrimSpace(s))
	if !slices.Contains(Roles, r) {
		return "", Errorf(EINVALID, "%q is not a portal role; the roles are %s.", s, roleList())
	}
	return r, nil
}

// ParseRoles parses role names and returns them sorted without repeats.
func ParseRoles(names []string) ([]Role, error) {
	roles := make([]Role, 0, len(names))
	for _, n := range names {
		r, err := ParseRole(n)
		if err != nil {
			return nil, err
		}
		roles = append(roles, r)
	}
	return NormalizeRoles(roles), nil
}

// NormalizeRoles sorts roles and drops repeats, so stored sets compare equal.
func NormalizeRoles(roles []Role) []Role {
	out := slices.Clone(roles)
	slices.Sort(out)
	return slices.Compact(out)
}

func roleList() string {
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// User is a person who signs in to the portal.
type User struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
	Email    string `json:"email"`
	Phone    string `json:"phone,omitempty"`
	Admin    bool   `json:"admin"`
	Disabled bool   `json:"disabled"`
	// Roles are the user's effective portal roles: their own and those of
	// every role set they are in. Every check of what the user may do reads
	// these.
	Roles []Role `json:"roles"`
	// OwnRoles are the roles granted to the user directly.
	OwnRoles  []Role    `json:"own_roles"`
	CreatedAt time.Time `json:"created_at"`
	// SessionEpoch moves on when the user's password changes: a browser
	// session signed in under an earlier one has ended (SPEC ACC-1).
	SessionEpoch int64 `json:"-"`
	// MustChangePassword is set by a temporary password an admin gave: the
	// portal lets the user do nothing else until they chose their own.
	MustChangePassword bool `json:"must_change_password"`
}

// HasRole reports whether the user was granted the portal role.
func (u *User) HasRole(r Role) bool { return u != nil && slices.Contains(u.Roles, r) }

// HasOwnRole reports whether the role was granted to the user directly,
// not only with a role set.
func (u *User) HasOwnRole(r Role) bool { return u != nil && slices.Contains(u.OwnRoles, r) }

// DisplayName is the name the welcome menu shows.
func (u *User) DisplayName() string {
	if u.Name != "" {
		return u.Name
	}
	return u.Username
}

var (
	usernamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._@-]{0,63}$`)
	phonePattern    = regexp.MustCompile(`^\+?[0-9][0-9 ()-]{5,30}$`)
)

// Validate checks the fields a person typed.
func (u *User) Validate() error {
	switch {
	case !usernamePattern.MatchString(u.Username):
		return Errorf(EINVALID, "A user name has 1 to 64 letters, digits, dots, dashes, underscores or @, and starts with a letter or digit.")
	case len(u.Name) > 200:
		return Errorf(EINVALID, "The name is longer than 200 characters.")
	case u.Email == "":
		return Errorf(EINVALID, "An email address is required.")
	case !validEmail(u.Email):
		return Errorf(EINVALID, "%q is not an email address.", u.Email)
	case u.Phone != "" && !phonePattern.MatchString(u.Phone):
		return Errorf(EINVALID, "%q is not a phone number; use digits, an optional leading +, spaces, dashes or brackets.", u.Phone)
	}
	for _, r := range u.Roles {
		if _, err := ParseRole(string(r)); err != nil {
			return err
		}
	}
	return nil
}

// ValidUsername reports whether s has the form of a user name; one that
// does not cannot exist.
func ValidUsername(s string) bool { return usernamePattern.MatchString(s) }

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && len(s) <= 254
}
