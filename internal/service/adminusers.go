package service

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/store"
)

// SearchUsers lists a page of users whose user name, name or email address
// contains the filter's text (admins only). The users have their effective
// roles in Roles and their own in OwnRoles.
func (s *Service) SearchUsers(ctx context.Context, f store.UserFilter) ([]*portico.User, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	if len(f.Query) > 200 {
		return nil, portico.Errorf(portico.EINVALID, "Search for at most 200 characters.")
	}
	return s.store.SearchUsers(ctx, f)
}

// UserDetails is what an admin may change of a user's details.
type UserDetails struct {
	Name, Email, Phone string
}

// UpdateUser changes a user's name, email address and phone number
// (admins only), audited with the old and new values.
func (s *Service) UpdateUser(ctx context.Context, userID int64, d UserDetails) (*portico.User, error) {
	action := portico.AuditEntry{Action: "user.update", Target: fmt.Sprint(userID)}
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	var next portico.User
	err := s.store.InTx(ctx, func(st store.Store) error {
		u, err := st.UserByID(ctx, userID)
		if err != nil {
			return err
		}
		next = *u
		next.Name, next.Email, next.Phone = strings.TrimSpace(d.Name), strings.TrimSpace(d.Email), strings.TrimSpace(d.Phone)
		if err := next.Validate(); err != nil {
			return err
		}
		detail := accountDetail(u, &next)
		if u.Phone != next.Phone {
			detail = strings.TrimPrefix(detail+fmt.Sprintf("; phone %q → %q", u.Phone, next.Phone), "; ")
		}
		if detail == "" {
			return nil
		}
		if err := st.UpdateUser(ctx, &next); err != nil {
			return err
		}
		return s.audit(ctx, st, portico.AuditEntry{Action: "user.update", Target: u.Username, Detail: detail})
	})
	if err != nil {
		return nil, err
	}
	return &next, nil
}

// SetUserDisabled disables or enables a user (admins only). Disabling ends
// the user's browser sessions at once; the user can then neither sign in
// nor register devices. No admin may disable themselves, nor the last
// admin who is not disabled.
func (s *Service) SetUserDisabled(ctx context.Context, userID int64, disabled bool) (*portico.User, error) {
	action := portico.AuditEntry{Action: "user.enable", Target: fmt.Sprint(userID)}
	if disabled {
		action.Action = "user.disable"
	}
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	if a := portico.ActorFromContext(ctx); disabled && a.User != nil && a.User.ID == userID {
		return nil, portico.Errorf(portico.EINVALID, "You cannot disable your own account; ask another administrator.")
	}
	var u *portico.User
	err := s.store.InTx(ctx, func(st store.Store) error {
		var err error
		if u, err = st.UserByID(ctx, userID); err != nil {
			return err
		}
		action.Target = u.Username
		if disabled {
			if err := notOnAdminWithAPIKey(ctx, u, "Disabling the account"); err != nil {
				return err
			}
		}
		if u.Disabled == disabled {
			return nil
		}
		if err := st.SetUserDisabled(ctx, userID, disabled); err != nil {
			return err
		}
		u.Disabled = disabled
		if disabled {
			if u.Admin {
				// Counted after the change, in its transaction, so two
				// admins disabling each other cannot both succeed.
				if n, err := st.CountAdmins(ctx); err != nil {
					return err
				} else if n == 0 {
					return portico.Errorf(portico.ECONFLICT, "%s is the last administrator; make someone else an administrator first.", u.Username)
				}
			}
			if u.SessionEpoch, err = st.EndUserSessions(ctx, userID); err != nil {
				return err
			}
			if err := st.EndPasswordResets(ctx, userID, s.clock.Now()); err != nil {
				return err
			}
			action.Detail = "enabled → disabled; sessions ended"
		} else {
			action.Detail = "disabled → enabled"
		}
		return s.audit(ctx, st, action)
	})
	if portico.ErrorCode(err) == portico.EFORBIDDEN {
		s.auditRefusal(ctx, action, err)
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// PasswordLinkLifetime is how long a link to set a new password works.
const PasswordLinkLifetime = 24 * time.Hour

// PasswordLink is a one-time link to set a new password: shown to the
// admin who made it once, and mailed to the user.
type PasswordLink struct {
	User      *portico.User
	Link      string
	ExpiresAt time.Time
	MailedTo  string
}

// SendPasswordLink makes a one-time link with which the user sets a new
// password, mails it to them and returns it (admins only).
func (s *Service) SendPasswordLink(ctx context.Context, userID int64) (*PasswordLink, error) {
	action := portico.AuditEntry{Action: "user.password_link", Target: fmt.Sprint(userID)}
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	var link *PasswordLink
	err := s.store.InTx(ctx, func(st store.Store) error {
		u, err := st.UserByID(ctx, userID)
		if err != nil {
			return err
		}
		action.Target = u.Username
		if err := notOnAdminWithAPIKey(ctx, u, "Sending a password link"); err != nil {
			return err
		}
		if link, err = s.newPasswordLink(ctx, st, u); err != nil {
			return err
		}
		action.Target, action.Detail = u.Username, "link valid until "+link.ExpiresAt.UTC().Format(time.RFC3339)
		if link.MailedTo != "" {
			action.Detail += "; mailed to " + link.MailedTo
		}
		return s.audit(ctx, st, action)
	})
	if portico.ErrorCode(err) == portico.EFORBIDDEN {
		s.auditRefusal(ctx, action, err)
	}
	if err != nil {
		return nil, err
	}
	return link, nil
}

// newPasswordLink stores a link for u through st, in place of any earlier
// one, and queues its mail when u has an email address.
func (s *Service) newPasswordLink(ctx context.Context, st store.Store, u *portico.User) (*PasswordLink, error) {
	now := s.clock.Now()
	if err := st.EndPasswordResets(ctx, u.ID, now); err != nil {
		return nil, err
	}
	token, tokenHash := secret.NewToken()
	r := &portico.PasswordReset{UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(PasswordLinkLifetime)}
	if err := st.CreatePasswordReset(ctx, r, tokenHash); err != nil {
		return nil, err
	}
	link := &PasswordLink{User: u, Link: s.baseURL + "reset-password?t=" + url.QueryEscape(token), ExpiresAt: r.ExpiresAt}
	if u.Email == "" {
		return link, nil
	}
	text := fmt.Sprintf("Hello %s,\n\nto choose a password for your account %s, open this link:\n\n%s\n\n"+
		"The link works once, until %s.\n\nIf you did not expect this, tell the helpdesk.\n",
		u.DisplayName(), u.Username, link.Link, r.ExpiresAt.UTC().Format("2 January 2006 15:04 MST"))
	m := &portico.Message{Channel: portico.ChannelMail, To: u.Email, Subject: "Choose your password", Text: text, CreatedAt: now}
	if err := st.EnqueueMessage(ctx, m); err != nil {
		return nil, err
	}
	link.MailedTo = u.Email
	return link, nil
}

// SetTemporaryPassword gives the user a generated password, returned to be
// shown once, which they must change at their next sign-in (admins only).
// Their browser sessions end.
func (s *Service) SetTemporaryPassword(ctx context.Context, userID int64) (*portico.User, string, error) {
	action := portico.AuditEntry{Action: "user.password_temporary", Target: fmt.Sprint(userID)}
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, "", err
	}
	password := secret.NewPassword()
	hash := s.passwords.HashPassword(password)
	var u *portico.User
	err := s.store.InTx(ctx, func(st store.Store) error {
		var err error
		if u, err = st.UserByID(ctx, userID); err != nil {
			return err
		}
		action.Target = u.Username
		if err := notOnAdminWithAPIKey(ctx, u, "Setting the password"); err != nil {
			return err
		}
		if err := st.SetTemporaryPassword(ctx, userID, hash); err != nil {
			return err
		}
		if u.SessionEpoch, err = st.EndUserSessions(ctx, userID); err != nil {
			return err
		}
		if err := st.EndPasswordResets(ctx, userID, s.clock.Now()); err != nil {
			return err
		}
		u.MustChangePassword = true
		action.Target, action.Detail = u.Username, "temporary password set; sessions ended"
		return s.audit(ctx, st, action)
	})
	if portico.ErrorCode(err) == portico.EFORBIDDEN {
		s.auditRefusal(ctx, action, err)
	}
	if err != nil {
		return nil, "", err
	}
	return u, password, nil
}

// PasswordLinkUser returns the user a link to set a password is for, and
// the password policy, with a clear message when the link does not work.
func (s *Service) PasswordLinkUser(ctx context.Context, token string) (*portico.User, portico.PasswordPolicy, error) {
	_, u, err := s.passwordLink(ctx, token)
	if err != nil {
		return nil, portico.PasswordPolicy{}, err
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, portico.PasswordPolicy{}, err
	}
	return u, v.PasswordPolicy(), nil
}

func (s *Service) passwordLink(ctx context.Context, token string) (*portico.PasswordReset, *portico.User, error) {
	r, err := s.store.PasswordResetByTokenHash(ctx, secret.HashToken(token))
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		return nil, nil, portico.Errorf(portico.ENOTFOUND, "This password link is not valid. Check that you opened the whole link, or ask the helpdesk for a new one.")
	} else if err != nil {
		return nil, nil, err
	}
	switch {
	case !r.UsedAt.IsZero():
		return nil, nil, portico.Errorf(portico.ECONFLICT, "This password link was already used. If you did not use it, ask the helpdesk for a new one.")
	case !s.clock.Now().Before(r.ExpiresAt):
		return nil, nil, portico.Errorf(portico.ECONFLICT, "This password link has expired. Ask the helpdesk for a new one.")
	}
	u, err := s.store.UserByID(ctx, r.UserID)
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled {
		return nil, nil, errDisabled
	}
	return r, u, nil
}

// NewPassword is what a user typed to choose a password.
type NewPassword struct {
	Password, Repeat string
}

func (s *Service) checkNewPassword(ctx context.Context, u *portico.User, p NewPassword) error {
	if p.Password != p.Repeat {
		return portico.Errorf(portico.EINVALID, "The new password and its repetition differ. Type the same new password twice.")
	}
	return s.checkPasswordPolicy(ctx, u, p.Password)
}

// SetPasswordWithLink sets the password of the link's user, which the
// password policy allows; the link then stops working and every session of
// the user ends.
func (s *Service) SetPasswordWithLink(ctx context.Context, token string, p NewPassword) (*portico.User, error) {
	action := portico.AuditEntry{Action: "password.reset"}
	r, u, err := s.passwordLink(ctx, token)
	if err == nil {
		action.Target = u.Username
		err = s.checkNewPassword(ctx, u, p)
	}
	if err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	hash := s.passwords.HashPassword(p.Password)
	err = s.store.InTx(ctx, func(st store.Store) error {
		now := s.clock.Now()
		if err := st.UsePasswordReset(ctx, r.ID, now); err != nil {
			return err
		}
		if err := st.EndPasswordResets(ctx, u.ID, now); err != nil {
			return err
		}
		if err := st.SetPasswordHash(ctx, u.ID, hash); err != nil {
			return err
		}
		if _, err := st.EndUserSessions(ctx, u.ID); err != nil {
			return err
		}
		return s.audit(ctx, st, portico.AuditEntry{Action: action.Action, Target: u.Username, Detail: "password set with a one-time link; sessions ended"})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// ReplaceTemporaryPassword sets the signed-in user's own password in place
// of the temporary one an admin gave; the returned user has the new
// session epoch, to sign the current session in again.
func (s *Service) ReplaceTemporaryPassword(ctx context.Context, p NewPassword) (*portico.User, error) {
	action := portico.AuditEntry{Action: "account.password"}
	u, err := signedInUser(ctx)
	if err == nil {
		action.Target = u.Username
		if !u.MustChangePassword {
			err = portico.Errorf(portico.ECONFLICT, "Your password is not temporary. Change it on your account page.")
		} else {
			err = s.checkNewPassword(ctx, u, p)
		}
	}
	if err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	hash := s.passwords.HashPassword(p.Password)
	next := *u
	err = s.store.InTx(ctx, func(st store.Store) error {
		if err := st.SetPasswordHash(ctx, u.ID, hash); err != nil {
			return err
		}
		if err := st.EndPasswordResets(ctx, u.ID, s.clock.Now()); err != nil {
			return err
		}
		var err error
		if next.SessionEpoch, err = st.EndUserSessions(ctx, u.ID); err != nil {
			return err
		}
		action.Detail = "temporary password replaced; other sessions ended"
		return s.audit(ctx, st, action)
	})
	if err != nil {
		return nil, err
	}
	next.MustChangePassword = false
	return &next, nil
}

// maxBulkUsers bounds one bulk change, which is one transaction.
const maxBulkUsers = 1000

func checkSelection(userIDs []int64) ([]int64, error) {
	ids := slices.Compact(slices.Sorted(slices.Values(userIDs)))
	switch {
	case len(ids) == 0:
		return nil, portico.Errorf(portico.EINVALID, "Tick at least one user.")
	case len(ids) > maxBulkUsers:
		return nil, portico.Errorf(portico.EINVALID, "Change at most %d users at once.", maxBulkUsers)
	}
	return ids, nil
}

// BulkChangeRoles grants and revokes own roles of every selected user, all
// or none (admins only), and returns how many users changed.
func (s *Service) BulkChangeRoles(ctx context.Context, userIDs []int64, grant, revoke []portico.Role) (int, error) {
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, portico.AuditEntry{Action: "user.roles"}, err)
		return 0, err
	}
	ids, err := checkSelection(userIDs)
	if err != nil {
		return 0, err
	}
	if grant, err = checkRoles(grant); err != nil {
		return 0, err
	}
	if revoke, err = checkRoles(revoke); err != nil {
		return 0, err
	}
	if len(grant) == 0 && len(revoke) == 0 {
		return 0, portico.Errorf(portico.EINVALID, "Choose a role to grant or revoke.")
	}
	if err := grantRevokeOverlap(grant, revoke); err != nil {
		return 0, err
	}
	changed := 0
	err = s.store.InTx(ctx, func(st store.Store) error {
		changed = 0
		for _, id := range ids {
			before, err := st.UserByID(ctx, id)
			if err != nil {
				return err
			}
			u, err := s.setOwnRoles(ctx, st, id, func(own []portico.Role) []portico.Role { return grantRevoke(own, grant, revoke) })
			if err != nil {
				return err
			}
			if !slices.Equal(before.OwnRoles, u.OwnRoles) {
				changed++
			}
		}
		return nil
	})
	return changed, err
}

// PasswordPolicy is what a password people choose must be, as the settings
// say now.
func (s *Service) PasswordPolicy(ctx context.Context) (portico.PasswordPolicy, error) {
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return portico.PasswordPolicy{}, err
	}
	return v.PasswordPolicy(), nil
}
