package service

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/secret"
)

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
	window := settings.Duration("login.lockout")
	userKey := "user:" + strings.ToLower(strings.TrimSpace(username))
	addrKey := "addr:" + portico.ActorFromContext(ctx).Source
	if err := s.throttle(ctx, userKey, limit, window); err != nil {
		return nil, err
	}
	if err := s.throttle(ctx, addrKey, limit*addressFailureFactor, window); err != nil {
		return nil, err
	}

	u, err := s.verify(ctx, username, password)
	if err == nil {
		return u, s.store.ClearLoginFailures(ctx, userKey)
	}
	if portico.ErrorCode(err) != portico.EUNAUTHENTICATED {
		return nil, err
	}
	now := s.clock.Now()
	for _, key := range []string{userKey, addrKey} {
		if rerr := s.store.RecordLoginFailure(ctx, key, now); rerr != nil {
			return nil, rerr
		}
	}
	return nil, err
}

func (s *Service) verify(ctx context.Context, username, password string) (*portico.User, error) {
	u, err := s.store.UserByUsername(ctx, strings.TrimSpace(username))
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
	} else if !ok || u.Disabled {
		return nil, errWrongCredentials
	}
	return u, nil
}

// throttle refuses an attempt while the key is locked out, or while it must
// still wait after its last failure.
func (s *Service) throttle(ctx context.Context, key string, limit int, window time.Duration) error {
	now := s.clock.Now()
	n, last, err := s.store.LoginFailuresSince(ctx, key, now.Add(-window))
	if err != nil {
		return err
	}
	if n >= limit {
		return portico.Errorf(portico.ETHROTTLED, "Too many failed sign-ins. Try again in %s.", humanWait(last.Add(window).Sub(now)))
	}
	if n >= freeFailures {
		wait := time.Duration(math.Pow(2, float64(n-freeFailures))) * time.Second
		if until := last.Add(wait); now.Before(until) {
			return portico.Errorf(portico.ETHROTTLED, "Too many failed sign-ins. Wait %s before trying again.", humanWait(until.Sub(now)))
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
// who was disabled or deleted since signing in.
func (s *Service) SessionUser(ctx context.Context, userID int64) (*portico.User, error) {
	u, err := s.store.UserByID(ctx, userID)
	if portico.ErrorCode(err) == portico.ENOTFOUND || (err == nil && u.Disabled) {
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
