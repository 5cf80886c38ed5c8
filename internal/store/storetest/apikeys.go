package storetest

import (
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

func addAPIKey(t *testing.T, st store.Store, name string, scope portico.APIScope, token string) *portico.APIKey {
	t.Helper()
	k := &portico.APIKey{Name: name, Scope: scope, CreatedBy: "admin", CreatedAt: base, ExpiresAt: base.Add(30 * 24 * time.Hour)}
	check(t, st.CreateAPIKey(ctx(t), k, hash(token)))
	if k.ID == 0 {
		t.Fatal("CreateAPIKey did not set the ID")
	}
	return k
}

func testAPIKeys(t *testing.T, st store.Store) {
	ro := addAPIKey(t, st, "reporting", portico.ScopeReadOnly, "token-ro")
	rw := addAPIKey(t, st, "provisioning", portico.ScopeReadWrite, "token-rw")

	got, err := st.APIKeyByTokenHash(ctx(t), hash("token-ro"))
	check(t, err)
	if got.ID != ro.ID || got.Name != "reporting" || got.Scope != portico.ScopeReadOnly || got.CreatedBy != "admin" {
		t.Errorf("key = %+v", got)
	}
	wantTime(t, "created", got.CreatedAt, base)
	wantTime(t, "expires", got.ExpiresAt, base.Add(30*24*time.Hour))
	wantTime(t, "last used", got.LastUsedAt, time.Time{})
	wantTime(t, "revoked", got.RevokedAt, time.Time{})
	_, err = st.APIKeyByTokenHash(ctx(t), hash("unknown"))
	wantCode(t, err, portico.ENOTFOUND)
	_, err = st.APIKeyByID(ctx(t), rw.ID+100)
	wantCode(t, err, portico.ENOTFOUND)

	list, err := st.ListAPIKeys(ctx(t))
	check(t, err)
	if got := ids(list, func(k *portico.APIKey) int64 { return k.ID }); len(got) != 2 || got[0] != rw.ID || got[1] != ro.ID {
		t.Errorf("ListAPIKeys = %v, want newest first [%d %d]", got, rw.ID, ro.ID)
	}

	check(t, st.TouchAPIKey(ctx(t), rw.ID, base.Add(time.Hour)))
	wantCode(t, st.TouchAPIKey(ctx(t), rw.ID+100, base), portico.ENOTFOUND)
	got, _ = st.APIKeyByID(ctx(t), rw.ID)
	wantTime(t, "last used", got.LastUsedAt, base.Add(time.Hour))

	// A revoked key is still found, so its caller can be told why it no
	// longer works, and is revoked only once.
	check(t, st.RevokeAPIKey(ctx(t), ro.ID, base.Add(2*time.Hour)))
	got, err = st.APIKeyByTokenHash(ctx(t), hash("token-ro"))
	check(t, err)
	wantTime(t, "revoked", got.RevokedAt, base.Add(2*time.Hour))
	wantCode(t, st.RevokeAPIKey(ctx(t), ro.ID, base.Add(3*time.Hour)), portico.ECONFLICT)
	wantCode(t, st.RevokeAPIKey(ctx(t), rw.ID+100, base), portico.ENOTFOUND)
	got, _ = st.APIKeyByID(ctx(t), ro.ID)
	wantTime(t, "revoked after a second revocation", got.RevokedAt, base.Add(2*time.Hour))
}

func testAPIKeysRefused(t *testing.T, st store.Store) {
	addAPIKey(t, st, "reporting", portico.ScopeReadOnly, "token-1")
	tests := []struct {
		name, key, token string
	}{
		{"the same name", "reporting", "token-2"},
		{"the name in another case", "REPORTING", "token-3"},
		{"the same key", "other", "token-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &portico.APIKey{Name: tt.key, Scope: portico.ScopeReadWrite, CreatedBy: "admin", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
			wantCode(t, st.CreateAPIKey(ctx(t), k, hash(tt.token)), portico.ECONFLICT)
		})
	}
	list, err := st.ListAPIKeys(ctx(t))
	check(t, err)
	if len(list) != 1 {
		t.Errorf("%d keys after the refusals, want 1", len(list))
	}
}
