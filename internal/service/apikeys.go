package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/store"
)

// NewAPIKey is what an admin fills in to create an API key.
type NewAPIKey struct {
	Name  string
	Scope portico.APIScope
	// ValidFor is how long the key works from now; a year at most.
	ValidFor time.Duration
}

// CreateAPIKey creates a key for the admin API (SPEC ADM-4) and returns it
// with the key itself, which is shown this once: only its hash is kept.
// Only an administrator in person may create one, never another key, so
// that a leaked key cannot make itself a successor.
func (s *Service) CreateAPIKey(ctx context.Context, nk NewAPIKey) (*portico.APIKey, string, error) {
	action := portico.AuditEntry{Action: "apikey.create", Target: nk.Name}
	if err := mayManageAPIKeys(ctx); err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, "", err
	}
	nk.Name = strings.TrimSpace(nk.Name)
	if err := portico.ValidAPIKeyName(nk.Name); err != nil {
		return nil, "", err
	}
	scope, err := portico.ParseAPIScope(string(nk.Scope))
	if err != nil {
		return nil, "", err
	}
	if nk.ValidFor <= 0 || nk.ValidFor > portico.MaxAPIKeyLifetime {
		return nil, "", portico.Errorf(portico.EINVALID, "An API key must expire, at most a year from now.")
	}
	now := s.clock.Now()
	k := &portico.APIKey{
		Name: nk.Name, Scope: scope, CreatedBy: portico.ActorFromContext(ctx).Name(),
		CreatedAt: now, ExpiresAt: now.Add(nk.ValidFor),
	}
	token, hash := secret.NewToken()
	err = s.store.InTx(ctx, func(st store.Store) error {
		if err := st.CreateAPIKey(ctx, k, hash); err != nil {
			return err
		}
		action.Target = k.Name
		action.Detail = fmt.Sprintf("%s until %s", k.Scope, k.ExpiresAt.Format(time.DateOnly))
		return s.audit(ctx, st, action)
	})
	if err != nil {
		return nil, "", err
	}
	return k, token, nil
}

func mayManageAPIKeys(ctx context.Context) error {
	if err := requireAdmin(ctx); err != nil {
		return err
	}
	return notWithAPIKey(ctx, "Managing API keys")
}

// notWithAPIKey refuses an API key what reaches a person's administrator
// rights: keys, administrators and their sign-in, and the settings that
// decide who signs in how and from where. A key acts with an
// administrator's rights within its scope, but a leaked key must not be
// able to become, or take over, a person with all of them.
func notWithAPIKey(ctx context.Context, what string) error {
	if portico.ActorFromContext(ctx).APIKey != nil {
		return portico.Errorf(portico.EFORBIDDEN, "%s is done in the admin portal by an administrator, not with an API key.", what)
	}
	return nil
}

// notOnAdminWithAPIKey is notWithAPIKey for what an admin does to another
// user's sign-in, which only an administrator's own needs it for.
func notOnAdminWithAPIKey(ctx context.Context, u *portico.User, what string) error {
	if !u.Admin {
		return nil
	}
	return notWithAPIKey(ctx, what+" of an administrator")
}

// APIKeys lists every API key, newest first (admins only).
func (s *Service) APIKeys(ctx context.Context) ([]*portico.APIKey, error) {
	if err := mayManageAPIKeys(ctx); err != nil {
		return nil, err
	}
	return s.store.ListAPIKeys(ctx)
}

// APIKey returns one API key (admins only).
func (s *Service) APIKey(ctx context.Context, id int64) (*portico.APIKey, error) {
	if err := mayManageAPIKeys(ctx); err != nil {
		return nil, err
	}
	return s.store.APIKeyByID(ctx, id)
}

// RevokeAPIKey stops a key at once (admins only).
func (s *Service) RevokeAPIKey(ctx context.Context, id int64) (*portico.APIKey, error) {
	action := portico.AuditEntry{Action: "apikey.revoke", Target: fmt.Sprint(id)}
	if err := mayManageAPIKeys(ctx); err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	var k *portico.APIKey
	err := s.store.InTx(ctx, func(st store.Store) error {
		var err error
		if k, err = st.APIKeyByID(ctx, id); err != nil {
			return err
		}
		now := s.clock.Now()
		if err := st.RevokeAPIKey(ctx, id, now); err != nil {
			return err
		}
		k.RevokedAt = now
		action.Target = k.Name
		return s.audit(ctx, st, action)
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// touchEvery is how stale a key's last use may get before a call records
// it again.
const touchEvery = time.Minute

// AuthenticateAPIKey returns the key a caller of the admin API presented.
// A valid key costs one read: nobody guesses 256 random bits, so only
// failures are recorded, and a source address that keeps failing is
// refused for a while — that keeps a broken script from filling the audit
// log, and never slows the scripts whose keys work.
func (s *Service) AuthenticateAPIKey(ctx context.Context, token string) (*portico.APIKey, error) {
	k, err := s.checkAPIKey(ctx, token)
	if err == nil {
		if now := s.clock.Now(); now.Sub(k.LastUsedAt) >= touchEvery {
			if err := s.store.TouchAPIKey(ctx, k.ID, now); err != nil {
				return nil, err
			}
			k.LastUsedAt = now
		}
		return k, nil
	}
	if portico.ErrorCode(err) != portico.EUNAUTHENTICATED {
		return nil, err
	}
	if refusal := s.apiKeyFailure(ctx); refusal != nil {
		return nil, refusal
	}
	target := ""
	if k != nil {
		target = k.Name
	}
	s.auditRefusal(ctx, portico.AuditEntry{Action: "apikey.use", Target: target}, err)
	return nil, err
}

// apiKeyFailure counts a failed key from the caller's address, and refuses
// it when that address failed too often of late.
func (s *Service) apiKeyFailure(ctx context.Context) error {
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return err
	}
	key := "apikey-addr:" + portico.ActorFromContext(ctx).Source
	window, now := v.Duration("login.lockout"), s.clock.Now()
	id, err := s.store.RecordLoginFailure(ctx, key, now)
	if err != nil {
		return err
	}
	n, last, err := s.store.LoginFailuresBefore(ctx, key, now.Add(-window), id)
	if err != nil {
		return err
	}
	refusal := throttled("calls with API keys from your address", n, last, v.Int("login.max_failures")*addressFailureFactor, window, now)
	if refusal != nil {
		// A refused call was never checked, so it counts for nothing.
		return errors.Join(refusal, s.store.DeleteLoginFailure(ctx, id))
	}
	return nil
}

// checkAPIKey finds the key; a key that no longer works is returned with
// the refusal, so that the refusal can name it.
func (s *Service) checkAPIKey(ctx context.Context, token string) (*portico.APIKey, error) {
	k, err := s.store.APIKeyByTokenHash(ctx, secret.HashToken(token))
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		return nil, portico.Errorf(portico.EUNAUTHENTICATED, "This API key is not valid.")
	} else if err != nil {
		return nil, err
	}
	switch now := s.clock.Now(); {
	case !k.RevokedAt.IsZero():
		return k, portico.Errorf(portico.EUNAUTHENTICATED, "This API key was revoked on %s.", k.RevokedAt.Format(time.DateOnly))
	case !now.Before(k.ExpiresAt):
		return k, portico.Errorf(portico.EUNAUTHENTICATED, "This API key expired on %s.", k.ExpiresAt.Format(time.DateOnly))
	}
	return k, nil
}
