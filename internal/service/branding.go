package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/logo"
	"github.com/portico-mdm/portico/internal/store"
)

// Brand returns how the portal presents itself. Every page shows it, the
// sign-in page included, so anyone may read it; it is read from the store
// each time, so a change shows on every instance at the next page.
func (s *Service) Brand(ctx context.Context) (portico.Brand, error) {
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return portico.Brand{}, err
	}
	l, err := s.LogoInfo(ctx)
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		l, err = nil, nil
	}
	if err != nil {
		return portico.Brand{}, err
	}
	return v.Brand(l), nil
}

// LogoInfo returns the logo without its image, for anyone: every page
// links it by its digest. ENOTFOUND when there is none.
func (s *Service) LogoInfo(ctx context.Context) (*portico.Logo, error) {
	return s.store.Logo(ctx, false)
}

// Logo returns the logo with its image, for anyone: the sign-in page shows
// it. ENOTFOUND when there is none.
func (s *Service) Logo(ctx context.Context) (*portico.Logo, error) {
	return s.store.Logo(ctx, true)
}

// SetLogo checks an uploaded image and makes it the logo (admins only);
// an SVG is stored as rebuilt by internal/logo, never as uploaded.
func (s *Service) SetLogo(ctx context.Context, data []byte) (*portico.Logo, error) {
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, portico.AuditEntry{Action: "branding.logo"}, err)
		return nil, err
	}
	contentType, clean, err := logo.Check(data)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(clean)
	l := &portico.Logo{ContentType: contentType, Data: clean, Size: len(clean), Digest: hex.EncodeToString(sum[:]), UpdatedAt: s.clock.Now()}
	err = s.store.InTx(ctx, func(st store.Store) error {
		if err := st.PutLogo(ctx, l); err != nil {
			return err
		}
		return s.audit(ctx, st, portico.AuditEntry{Action: "branding.logo", Target: "logo",
			Detail: fmt.Sprintf("%s, %d bytes, sha256 %s", contentType, len(clean), l.Digest[:12])})
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// RemoveLogo removes the logo (admins only); the portal shows its name
// alone again.
func (s *Service) RemoveLogo(ctx context.Context) error {
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, portico.AuditEntry{Action: "branding.logo_remove"}, err)
		return err
	}
	return s.store.InTx(ctx, func(st store.Store) error {
		if err := st.DeleteLogo(ctx); err != nil {
			return err
		}
		return s.audit(ctx, st, portico.AuditEntry{Action: "branding.logo_remove", Target: "logo"})
	})
}
