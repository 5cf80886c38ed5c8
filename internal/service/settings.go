package service

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

// Settings returns the system settings. Every page needs some of them (the
// helpdesk contact is on all of them), so anyone may read them; secrets are
// masked.
func (s *Service) Settings(ctx context.Context) (portico.SettingValues, error) {
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, err
	}
	for _, def := range portico.Settings {
		if def.Kind == portico.SecretSetting && v[def.Key] != "" {
			v[def.Key] = secretMask
		}
	}
	return v, nil
}

// secretMask stands for a stored secret wherever settings are shown.
const secretMask = "********"

// SetSettings validates every value first and stores them all or none
// (admins only); each change is audited with its old and new value.
func (s *Service) SetSettings(ctx context.Context, values map[string]string) error {
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, portico.AuditEntry{Action: "settings.change"}, err)
		return err
	}
	for _, key := range slices.Sorted(maps.Keys(values)) {
		def, err := portico.LookupSetting(key)
		if err != nil {
			return err
		}
		if def.Kind == portico.SecretSetting && values[key] == secretMask {
			return portico.Errorf(portico.EINVALID, "%s: %s stands for the stored secret; send the new secret instead, or leave the setting out.", def.Label, secretMask)
		}
		if def.Check != nil {
			if err := def.Check(values[key]); err != nil {
				return portico.Errorf(portico.EINVALID, "%s: %s", def.Label, portico.ErrorMessage(err))
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(values)) {
		if def, _ := portico.LookupSetting(key); def.Group == "access" || def.Group == "security" {
			err := notWithAPIKey(ctx, "Changing the "+def.Group+" settings")
			if err != nil {
				s.auditRefusal(ctx, portico.AuditEntry{Action: "settings.change", Target: key}, err)
				return err
			}
		}
	}
	if err := checkAdminLockOut(ctx, values); err != nil {
		return err
	}
	return s.store.InTx(ctx, func(st store.Store) error {
		old, err := st.SettingValues(ctx)
		if err != nil {
			return err
		}
		for _, key := range slices.Sorted(maps.Keys(values)) {
			if old.Get(key) == values[key] {
				continue
			}
			if err := st.PutSetting(ctx, key, values[key]); err != nil {
				return err
			}
			detail := fmt.Sprintf("%q → %q", old.Get(key), values[key])
			if def, _ := portico.LookupSetting(key); def.Kind == portico.SecretSetting {
				detail = "secret changed"
			}
			if err := s.audit(ctx, st, portico.AuditEntry{Action: "settings.change", Target: key, Detail: detail}); err != nil {
				return err
			}
		}
		return nil
	})
}

// AuditLog lists audit entries, newest first (admins only).
func (s *Service) AuditLog(ctx context.Context, f store.AuditFilter) ([]*portico.AuditEntry, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	return s.store.ListAudit(ctx, f)
}
