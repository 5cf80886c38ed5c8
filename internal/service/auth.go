package service

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/secret"
)

var errDisabled = portico.Errorf(portico.EFORBIDDEN, "This account is disabled. Ask the helpdesk if you need it again.")

// ownPassword refuses what only a user who chose their own password may
// do: a temporary password is known to the admin who set it, and lets the
// user do nothing but sign in to the portal to replace it.
func ownPassword(u *portico.User, doing string) error {
	if u.MustChangePassword {
		return portico.Errorf(portico.EFORBIDDEN, "Sign in to the portal and choose your own password before you %s.", doing)
	}
	return nil
}

// Failed sign-ins from one address may outnumber those against one user by
// this factor before the address is locked out: a NAT carries many users.
const addressFailureFactor = 4

// Failures below this count cost nothing; each one above it doubles the wait
// before the next attempt.
const freeFailures = 3

var errWrongCredentials = portico.Errorf(portico.EUNAUTHENTICATED, "The user name or password is wrong.")

// Login checks a user name and password (SPEC LOGIN-1). It answers the same
// way whether or not the user exists, and counts failures per user name and
// per source address: successful sign-ins are never slowed.
func (s *Service) Login(ctx context.Context, username, password string) (*portico.User, error) {
	u, err := s.checkPassword(ctx, username, password)
	action := portico.AuditEntry{Action: "login", Target: username}
	if err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	ctx = portico.NewContextWithActor(ctx, portico.Actor{User: u, Source: portico.ActorFromContext(ctx).Source})
	if on, err := s.twoFactorEnabled(ctx, u.ID); err != nil {
		return nil, err
	} else if on {
		action.Detail = "password right; the second factor follows"
	}
	if err := s.audit(ctx, s.store, action); err != nil {
		return nil, err
	}
	return u, nil
}

// checkPassword is the throttled password check that both the portal's
// sign-in and a device's registration use.
func (s *Service) checkPassword(ctx context.Context, username, password string) (*portico.User, error) {
	settings, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, err
	}
	limit := settings.Int("login.max_failures")
	userKey := "user:" + strings.ToLower(strings.TrimSpace(username))
	a, err := s.beginAttempt(ctx, settings.Duration("login.lockout"),
		attemptLimit{userKey, limit}, attemptLimit{"addr:" + portico.ActorFromContext(ctx).Source, limit * addressFailureFactor})
	if err != nil {
		return nil, err
	}
	u, err := s.verify(ctx, username, password)
	if err != nil {
		return nil, a.failed(ctx, err)
	}
	if err := s.store.ClearLoginFailures(ctx, userKey); err != nil {
		return nil, err
	}
	return u, a.succeeded(ctx)
}

func (s *Service) verify(ctx context.Context, username, password string) (*portico.User, error) {
	username = strings.TrimSpace(username)
	if !portico.ValidUsername(username) { // cannot exist: no look-up, but as slow
		secret.CheckPassword(s.dummyHash, password)
		return nil, errWrongCredentials
	}
	u, err := s.store.UserByUsername(ctx, username)
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		secret.CheckPassword(s.dummyHash, password)
		return nil, errWrongCredentials
	} else if err != nil {
		return nil, err
	}
	hash, err := s.store.PasswordHash(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if ok, err := secret.CheckPassword(hash, password); err != nil {
		return nil, err
	} else if !ok {
		return nil, errWrongCredentials
	}
	if u.Disabled {
		// Said only to someone who knows the password, so it tells a
		// guesser nothing.
		return nil, errDisabled
	}
	return u, nil
}

// attemptLimit is how many failures a key may have within the lock-out
// window.
type attemptLimit struct {
	key string
	max int
}

// attempt is one try of a secret. It is recorded as a failure before the
// secret is checked, so that tries made at the same moment, on one
// instance or several, each see the others: however many arrive at once,
// no more than the limit are checked.
type attempt struct {
	s   *Service
	ids []int64
}

// beginAttempt records the attempt under every key, then refuses it while
// a key is locked out or must still wait after its last failure; a refused
// attempt is forgotten again, since its secret was never tried.
func (s *Service) beginAttempt(ctx context.Context, window time.Duration, limits ...attemptLimit) (*attempt, error) {
	now := s.clock.Now()
	a := &attempt{s: s}
	for _, l := range limits {
		id, err := s.store.RecordLoginFailure(ctx, l.key, now)
		if err != nil {
			return nil, errors.Join(err, a.succeeded(ctx))
		}
		a.ids = append(a.ids, id)
		n, last, err := s.store.LoginFailuresBefore(ctx, l.key, now.Add(-window), id)
		if err == nil {
			err = throttled("sign-ins", n, last, l.max, window, now)
		}
		if err != nil {
			return nil, errors.Join(err, a.succeeded(ctx))
		}
	}
	return a, nil
}

// succeeded forgets the attempt: only failures count.
func (a *attempt) succeeded(ctx context.Context) error {
	var errs []error
	for _, id := range a.ids {
		errs = append(errs, a.s.store.DeleteLoginFailure(ctx, id))
	}
	return errors.Join(errs...)
}

// failed keeps the attempt counted as a failure, unless the check failed
// for a reason of the server's own, and returns the check's error.
func (a *attempt) failed(ctx context.Context, err error) error {
	if portico.ErrorCode(err) == portico.EUNAUTHENTICATED {
		return err
	}
	return errors.Join(err, a.succeeded(ctx))
}

// maxBackoff caps the wait between failures; the lock-out is what stops a
// patient guesser.
const maxBackoff = time.Minute

// throttled refuses an attempt that n earlier failures within the window
// (the latest at last) lock out, or that comes too soon after the last;
// what names the attempts for the refusal.
func throttled(what string, n int, last time.Time, limit int, window time.Duration, now time.Time) error {
	if n >= limit {
		return portico.Errorf(portico.ETHROTTLED, "Too many failed %s. Try again in %s.", what, humanWait(last.Add(window).Sub(now)))
	}
	if n >= freeFailures {
		wait := maxBackoff
		if shift := n - freeFailures; shift < 6 {
			wait = min(time.Duration(1<<shift)*time.Second, maxBackoff)
		}
		if until := last.Add(wait); now.Before(until) {
			return portico.Errorf(portico.ETHROTTLED, "Too many failed %s. Wait %s before trying again.", what, humanWait(until.Sub(now)))
		}
	}
	return nil
}

func humanWait(d time.Duration) string {
	if d < time.Minute {
		secs := int(math.Ceil(d.Seconds()))
		return plural(secs, "second")
	}
	return plural(int(math.Ceil(d.Minutes())), "minute")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// SessionUser returns the user a browser session belongs to, refusing one
// who was disabled or deleted since signing in, or whose password changed
// since: epoch is the user's session epoch when the session signed in.
func (s *Service) SessionUser(ctx context.Context, userID, epoch int64) (*portico.User, error) {
	u, err := s.store.UserByID(ctx, userID)
	if portico.ErrorCode(err) == portico.ENOTFOUND || (err == nil && (u.Disabled || u.SessionEpoch != epoch)) {
		return nil, portico.Errorf(portico.EUNAUTHENTICATED, "Your session has ended. Please sign in again.")
	}
	return u, err
}

// Logout records that the user signed out.
func (s *Service) Logout(ctx context.Context) error {
	return s.audit(ctx, s.store, portico.AuditEntry{Action: "logout"})
}

// SessionPolicy is how long sessions live, from the settings.
func (s *Service) SessionPolicy(ctx context.Context) (idle, lifetime time.Duration, err error) {
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return 0, 0, err
	}
	return v.Duration("session.idle_timeout"), v.Duration("session.lifetime"), nil
}
