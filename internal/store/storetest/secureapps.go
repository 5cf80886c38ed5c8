package storetest

import (
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

func testRegisteredWith(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	d := addDevice(t, st, alice.ID, "alice's iPhone")
	other := addDevice(t, st, alice.ID, "alice's Pixel")

	_, err := st.RegisteredWith(ctx(t), d.ID)
	wantCode(t, err, portico.ENOTFOUND) // registered before it was recorded
	check(t, st.SetRegisteredWith(ctx(t), d.ID, portico.RegisteredWithPIN))
	check(t, st.SetRegisteredWith(ctx(t), other.ID, portico.RegisteredWithPassword))
	if w, err := st.RegisteredWith(ctx(t), d.ID); err != nil || w != portico.RegisteredWithPIN {
		t.Errorf("RegisteredWith = %q, %v; want pin", w, err)
	}
	// Recording again replaces: a device registers once, but the write
	// must not fail if it is repeated.
	check(t, st.SetRegisteredWith(ctx(t), d.ID, portico.RegisteredWithPassword))
	if w, _ := st.RegisteredWith(ctx(t), d.ID); w != portico.RegisteredWithPassword {
		t.Errorf("after recording again: %q", w)
	}
	wantCode(t, st.SetRegisteredWith(ctx(t), 4242, portico.RegisteredWithPIN), portico.ENOTFOUND)
}

func testSecureAppsPINs(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	bob := addUser(t, st, "bob", false)
	_, _, err := st.SecureAppsPIN(ctx(t), alice.ID)
	wantCode(t, err, portico.ENOTFOUND)

	put := func(u *portico.User, hash string, at time.Time) {
		t.Helper()
		check(t, st.PutSecureAppsPIN(ctx(t), &portico.SecureAppsPIN{UserID: u.ID, CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour)}, hash))
	}
	put(alice, "hash-1", base)
	put(bob, "bob-hash", base)
	p, h, err := st.SecureAppsPIN(ctx(t), alice.ID)
	check(t, err)
	if h != "hash-1" || p.UserID != alice.ID || p.Attempts != 0 || !p.UsedAt.IsZero() {
		t.Errorf("PIN = %+v, hash %q", p, h)
	}
	wantTime(t, "created", p.CreatedAt, base)
	wantTime(t, "expires", p.ExpiresAt, base.Add(24*time.Hour))

	// Tries are counted up to the limit, and only against the PIN tried.
	for i := range 3 {
		if ok, err := st.TakeSecureAppsPINAttempt(ctx(t), alice.ID, "hash-1", 3); err != nil || !ok {
			t.Fatalf("try %d: %v, %v", i+1, ok, err)
		}
	}
	if ok, err := st.TakeSecureAppsPINAttempt(ctx(t), alice.ID, "hash-1", 3); err != nil || ok {
		t.Errorf("a try beyond the limit: %v, %v", ok, err)
	}
	if ok, _ := st.TakeSecureAppsPINAttempt(ctx(t), alice.ID, "bob-hash", 3); ok {
		t.Error("a try counted against a hash that is not alice's PIN")
	}
	if p, _, _ := st.SecureAppsPIN(ctx(t), alice.ID); p.Attempts != 3 {
		t.Errorf("attempts = %d, want 3", p.Attempts)
	}

	// Using: not with another hash, not once expired; then once only.
	wantCode(t, st.UseSecureAppsPIN(ctx(t), alice.ID, "bob-hash", base.Add(time.Hour)), portico.ECONFLICT)
	wantCode(t, st.UseSecureAppsPIN(ctx(t), alice.ID, "hash-1", base.Add(24*time.Hour)), portico.ECONFLICT)
	check(t, st.UseSecureAppsPIN(ctx(t), alice.ID, "hash-1", base.Add(time.Hour)))
	wantCode(t, st.UseSecureAppsPIN(ctx(t), alice.ID, "hash-1", base.Add(2*time.Hour)), portico.ECONFLICT)
	p, _, _ = st.SecureAppsPIN(ctx(t), alice.ID)
	wantTime(t, "used", p.UsedAt, base.Add(time.Hour))

	// A new PIN replaces the old one with a clean slate; the old one is
	// of no use any more.
	put(alice, "hash-2", base.Add(time.Hour))
	p, h, _ = st.SecureAppsPIN(ctx(t), alice.ID)
	if h != "hash-2" || p.Attempts != 0 || !p.UsedAt.IsZero() {
		t.Errorf("after replacing: %+v, hash %q", p, h)
	}
	wantCode(t, st.UseSecureAppsPIN(ctx(t), alice.ID, "hash-1", base.Add(2*time.Hour)), portico.ECONFLICT)
	if ok, _ := st.TakeSecureAppsPINAttempt(ctx(t), alice.ID, "hash-1", 3); ok {
		t.Error("a try counted against a replaced PIN")
	}

	onlyOneWins(t, "uses of one PIN", func() error {
		return st.UseSecureAppsPIN(ctx(t), alice.ID, "hash-2", base.Add(3*time.Hour))
	})
	if _, h, _ := st.SecureAppsPIN(ctx(t), bob.ID); h != "bob-hash" {
		t.Errorf("alice's PINs touched bob's: %q", h)
	}
	wantCode(t, st.PutSecureAppsPIN(ctx(t), &portico.SecureAppsPIN{UserID: 4242, CreatedAt: base, ExpiresAt: base}, "h"), portico.ENOTFOUND)
}
