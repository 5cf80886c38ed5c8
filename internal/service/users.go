package service

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/store"
)

// NewUser is what an admin fills in to create a user. An empty Password
// makes Portico generate one, which CreateUser returns once.
type NewUser struct {
	portico.User
	Password string
}

// CreateUser creates a user (admins only) and returns the password it was
// given, generated when none was chosen.
func (s *Service) CreateUser(ctx context.Context, nu NewUser) (*portico.User, string, error) {
	action := portico.AuditEntry{Action: "user.create", Target: nu.Username}
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, "", err
	}
	if nu.Admin {
		if err := notWithAPIKey(ctx, "Creating an administrator"); err != nil {
			s.auditRefusal(ctx, action, err)
			return nil, "", err
		}
	}
	u := nu.User
	u.Username = strings.TrimSpace(u.Username)
	u.Email = strings.TrimSpace(u.Email)
	u.Roles = portico.NormalizeRoles(u.Roles)
	u.OwnRoles = u.Roles
	u.CreatedAt = s.clock.Now()
	if err := u.Validate(); err != nil {
		return nil, "", err
	}
	// A generated password is random and long whatever the policy says; the
	// policy is for passwords people choose.
	password := nu.Password
	if password == "" {
		password = secret.NewPassword()
	} else if err := s.checkPasswordPolicy(ctx, &u, password); err != nil {
		return nil, "", err
	}
	action.Detail = fmt.Sprintf("admin=%t roles=%s", u.Admin, joinRoles(u.Roles))
	err := s.store.InTx(ctx, func(st store.Store) error {
		if err := st.CreateUser(ctx, &u, s.passwords.HashPassword(password)); err != nil {
			return err
		}
		return s.audit(ctx, st, action)
	})
	if err != nil {
		return nil, "", err
	}
	return &u, password, nil
}

// EnsureAdmin creates the first administrator when there is none, so that a
// fresh installation can be signed in to. It returns the one-time password,
// or "" when an administrator already existed. The password is temporary:
// it was printed where others may read it, so the first sign-in asks for a
// new one.
func (s *Service) EnsureAdmin(ctx context.Context, username, email string) (string, error) {
	n, err := s.store.CountAdmins(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	ctx = portico.NewContextWithActor(ctx, portico.Actor{System: true})
	_, password, err := s.CreateUser(ctx, NewUser{User: portico.User{
		Username: username, Name: "Administrator", Email: email, Admin: true, MustChangePassword: true,
	}})
	if portico.ErrorCode(err) == portico.ECONFLICT {
		// Another instance on the same database created it first.
		return "", nil
	}
	return password, err
}

// checkPasswordPolicy refuses a password that u may not choose under the
// policy the admin set (SPEC ACC-1).
func (s *Service) checkPasswordPolicy(ctx context.Context, u *portico.User, password string) error {
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return err
	}
	return v.PasswordPolicy().Check(password, u)
}

// Users lists every user (admins only).
func (s *Service) Users(ctx context.Context) ([]*portico.User, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	return s.store.ListUsers(ctx)
}

// User returns one user (admins only).
func (s *Service) User(ctx context.Context, id int64) (*portico.User, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	return s.store.UserByID(ctx, id)
}

// UserByUsername returns one user by name (admins only).
func (s *Service) UserByUsername(ctx context.Context, username string) (*portico.User, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	return s.store.UserByUsername(ctx, username)
}

// SetRoles replaces a user's own portal roles (admins only); the roles of
// the user's role sets stay.
func (s *Service) SetRoles(ctx context.Context, userID int64, roles []portico.Role) (*portico.User, error) {
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, portico.AuditEntry{Action: "user.roles", Target: fmt.Sprint(userID)}, err)
		return nil, err
	}
	roles, err := checkRoles(roles)
	if err != nil {
		return nil, err
	}
	var u *portico.User
	err = s.store.InTx(ctx, func(st store.Store) error {
		var err error
		u, err = s.setOwnRoles(ctx, st, userID, func([]portico.Role) []portico.Role { return roles })
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

func checkRoles(roles []portico.Role) ([]portico.Role, error) {
	for _, r := range roles {
		if _, err := portico.ParseRole(string(r)); err != nil {
			return nil, err
		}
	}
	return portico.NormalizeRoles(roles), nil
}

// setOwnRoles replaces the user's own roles with what change makes of
// them, through st, audited, and returns the user as they are now.
func (s *Service) setOwnRoles(ctx context.Context, st store.Store, userID int64, change func([]portico.Role) []portico.Role) (*portico.User, error) {
	u, err := st.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	roles := portico.NormalizeRoles(change(slices.Clone(u.OwnRoles)))
	if slices.Equal(u.OwnRoles, roles) {
		return u, nil
	}
	if err := st.SetUserRoles(ctx, userID, roles); err != nil {
		return nil, err
	}
	detail := joinRoles(u.OwnRoles) + " → " + joinRoles(roles)
	if err := s.audit(ctx, st, portico.AuditEntry{Action: "user.roles", Target: u.Username, Detail: detail}); err != nil {
		return nil, err
	}
	return s.rolesChanged(ctx, st, userID)
}

// rolesChanged reloads a user whose effective roles may have changed. The
// one-time PIN goes with the role that made it: losing the role, directly
// or with a role set, must stop the PIN too.
func (s *Service) rolesChanged(ctx context.Context, st store.Store, userID int64) (*portico.User, error) {
	u, err := st.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	if !u.HasRole(portico.RoleResetSecureAppsPasscode) {
		if err := st.DeleteSecureAppsPIN(ctx, userID); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// ChangeRoles grants and revokes own roles of the named user (admins only).
func (s *Service) ChangeRoles(ctx context.Context, username string, grant, revoke []portico.Role) (*portico.User, error) {
	if err := grantRevokeOverlap(grant, revoke); err != nil {
		return nil, err
	}
	u, err := s.UserByUsername(ctx, username)
	if err != nil {
		return nil, err
	}
	return s.SetRoles(ctx, u.ID, grantRevoke(u.OwnRoles, grant, revoke))
}

func grantRevokeOverlap(grant, revoke []portico.Role) error {
	for _, r := range grant {
		if slices.Contains(revoke, r) {
			return portico.Errorf(portico.EINVALID, "The role %s is both granted and revoked; say which.", r)
		}
	}
	return nil
}

func grantRevoke(roles, grant, revoke []portico.Role) []portico.Role {
	return slices.DeleteFunc(append(slices.Clone(roles), grant...), func(r portico.Role) bool {
		return slices.Contains(revoke, r)
	})
}

func joinRoles(roles []portico.Role) string {
	if len(roles) == 0 {
		return "(none)"
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return strings.Join(names, ",")
}
