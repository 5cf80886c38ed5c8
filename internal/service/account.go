package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

// Account is what the account page shows the signed-in user (SPEC ACC-1).
type Account struct {
	User   *portico.User
	Policy portico.PasswordPolicy
	// Details says whether the user may change their name and email
	// address (the role change_account); every user may change their own
	// password.
	Details bool
}

// AccountChange is what the user typed on the account page.
type AccountChange struct {
	Name, Email string
	// CurrentPassword is required to change the email address or the
	// password: a session left open on a shared computer must not be enough
	// to take the account over.
	CurrentPassword string
	// NewPassword and RepeatPassword are both empty when the password stays.
	NewPassword, RepeatPassword string
	// PasswordOnly says the form had no name and email address: they stay
	// as they are (the form of users without the role change_account).
	PasswordOnly bool
}

// AccountChanged says what a change of account changed.
type AccountChanged struct {
	User                  *portico.User
	Name, Email, Password bool
}

// Any reports whether anything changed.
func (c *AccountChanged) Any() bool { return c.Name || c.Email || c.Password }

var errWrongCurrentPassword = portico.Errorf(portico.EINVALID, "Your current password is wrong.")

// Account returns the signed-in user's account and the password policy.
func (s *Service) Account(ctx context.Context) (*Account, error) {
	u, err := signedInUser(ctx)
	if err != nil {
		return nil, err
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, err
	}
	return &Account{User: u, Policy: v.PasswordPolicy(), Details: u.HasRole(portico.RoleChangeAccount)}, nil
}

// ChangeAccount changes the signed-in user's password and, with the role
// change_account, their name and email address. A new password ends every session of the user (the returned
// user has the new session epoch, to sign the current one in again), and
// the current password is checked with the sign-in's throttling, so the
// form cannot be used to guess it. Each change and each refusal is audited;
// the password never is.
func (s *Service) ChangeAccount(ctx context.Context, c AccountChange) (*AccountChanged, error) {
	action := portico.AuditEntry{Action: "account.update"}
	if c.NewPassword != "" || c.RepeatPassword != "" {
		action.Action = "account.password"
	}
	u, err := signedInUser(ctx)
	if err == nil {
		action.Target = u.Username
		var changed *AccountChanged
		if changed, err = s.changeAccount(ctx, u, c); err == nil {
			return changed, nil
		}
	}
	if portico.ErrorCode(err) == portico.EINTERNAL {
		action.Result = portico.ResultFailed
	}
	s.auditRefusal(ctx, action, err)
	return nil, err
}

func (s *Service) changeAccount(ctx context.Context, u *portico.User, c AccountChange) (*AccountChanged, error) {
	next := *u
	if !c.PasswordOnly {
		next.Name = strings.TrimSpace(c.Name)
		next.Email = strings.TrimSpace(c.Email)
	}
	ch := &AccountChanged{
		User:     &next,
		Name:     next.Name != u.Name,
		Email:    next.Email != u.Email,
		Password: c.NewPassword != "" || c.RepeatPassword != "",
	}
	if !ch.Any() {
		return ch, nil
	}
	if (ch.Name || ch.Email) && !u.HasRole(portico.RoleChangeAccount) {
		return nil, portico.Errorf(portico.EFORBIDDEN, "Your account may not change its name or email address. Ask the helpdesk if something in it is wrong.")
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	if ch.Email || ch.Password {
		if err := s.checkPasswords(ctx, &next, ch, c); err != nil {
			return nil, err
		}
	}
	var hash string
	if ch.Password {
		hash = s.passwords.HashPassword(c.NewPassword) // slow: not inside the transaction
	}
	err := s.store.InTx(ctx, func(st store.Store) error {
		if ch.Name || ch.Email {
			if err := st.UpdateUser(ctx, &next); err != nil {
				return err
			}
			if err := s.audit(ctx, st, portico.AuditEntry{Action: "account.update", Target: u.Username, Detail: accountDetail(u, &next)}); err != nil {
				return err
			}
		}
		if !ch.Password {
			return nil
		}
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
		return s.audit(ctx, st, portico.AuditEntry{Action: "account.password", Target: u.Username, Detail: "password changed; other sessions ended"})
	})
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// checkPasswords checks, cheapest first, what a change of email
// address or password needs: the new password itself, then the current
// one, whose check counts as a sign-in attempt.
func (s *Service) checkPasswords(ctx context.Context, next *portico.User, ch *AccountChanged, c AccountChange) error {
	if ch.Password {
		if c.NewPassword != c.RepeatPassword {
			return portico.Errorf(portico.EINVALID, "The new password and its repetition differ. Type the same new password twice.")
		}
		if err := s.checkPasswordPolicy(ctx, next, c.NewPassword); err != nil {
			return err
		}
	}
	if c.CurrentPassword == "" {
		what := "email address"
		if ch.Password {
			what = "password"
		}
		return portico.Errorf(portico.EINVALID, "Type your current password to change your %s.", what)
	}
	if ch.Password && c.NewPassword == c.CurrentPassword {
		return portico.Errorf(portico.EINVALID, "The new password is the one you have now. Choose another.")
	}
	if _, err := s.checkPassword(ctx, next.Username, c.CurrentPassword); portico.ErrorCode(err) == portico.EUNAUTHENTICATED {
		return errWrongCurrentPassword
	} else if err != nil {
		return err
	}
	return nil
}

// accountDetail says what a change of name or email address changed.
func accountDetail(old, next *portico.User) string {
	var parts []string
	if old.Name != next.Name {
		parts = append(parts, fmt.Sprintf("name %q → %q", old.Name, next.Name))
	}
	if old.Email != next.Email {
		parts = append(parts, fmt.Sprintf("email %q → %q", old.Email, next.Email))
	}
	return strings.Join(parts, "; ")
}
