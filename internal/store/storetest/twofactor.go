package storetest

import (
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

func testTwoFactor(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	bob := addUser(t, st, "bob", false)
	_, err := st.TOTP(ctx(t), alice.ID)
	wantCode(t, err, portico.ENOTFOUND)
	wantCode(t, st.PutPendingTOTP(ctx(t), &portico.TOTP{UserID: 4242, Sealed: []byte("x"), CreatedAt: base}), portico.ENOTFOUND)

	// Setting up again replaces the pending secret.
	check(t, st.PutPendingTOTP(ctx(t), &portico.TOTP{UserID: alice.ID, Sealed: []byte("first"), CreatedAt: base}))
	check(t, st.PutPendingTOTP(ctx(t), &portico.TOTP{UserID: alice.ID, Sealed: []byte("second"), CreatedAt: base.Add(time.Minute)}))
	tt, err := st.TOTP(ctx(t), alice.ID)
	check(t, err)
	if string(tt.Sealed) != "second" || tt.Enabled() || tt.LastStep != 0 {
		t.Errorf("pending TOTP = %+v", tt)
	}
	wantTime(t, "created", tt.CreatedAt, base.Add(time.Minute))
	// A pending secret accepts no code.
	wantCode(t, st.UseTOTPStep(ctx(t), alice.ID, 5), portico.ECONFLICT)

	codes := [][]byte{hash("code-1"), hash("code-2"), hash("code-3")}
	check(t, st.EnableTOTP(ctx(t), alice.ID, 100, base.Add(2*time.Minute), codes))
	wantCode(t, st.EnableTOTP(ctx(t), alice.ID, 101, base.Add(3*time.Minute), codes), portico.ECONFLICT)
	wantCode(t, st.EnableTOTP(ctx(t), bob.ID, 101, base, codes), portico.ECONFLICT) // nothing pending
	tt, err = st.TOTP(ctx(t), alice.ID)
	check(t, err)
	if !tt.Enabled() || tt.LastStep != 100 {
		t.Errorf("enabled TOTP = %+v", tt)
	}
	wantTime(t, "enabled", tt.EnabledAt, base.Add(2*time.Minute))
	// An enabled secret is not replaced by setting up again.
	wantCode(t, st.PutPendingTOTP(ctx(t), &portico.TOTP{UserID: alice.ID, Sealed: []byte("third"), CreatedAt: base}), portico.ECONFLICT)

	// Steps only move forward: the confirming step and earlier ones are
	// refused, a later one once.
	for _, tc := range []struct {
		step int64
		want string
	}{{99, portico.ECONFLICT}, {100, portico.ECONFLICT}, {101, ""}, {101, portico.ECONFLICT}, {103, ""}, {102, portico.ECONFLICT}} {
		wantCode(t, st.UseTOTPStep(ctx(t), alice.ID, tc.step), tc.want)
	}
	wantCode(t, st.UseTOTPStep(ctx(t), bob.ID, 500), portico.ECONFLICT)

	// Recovery codes work once each, for their user only.
	if n, err := st.RecoveryCodesLeft(ctx(t), alice.ID); err != nil || n != 3 {
		t.Errorf("codes left = %d, %v", n, err)
	}
	wantCode(t, st.UseRecoveryCode(ctx(t), bob.ID, hash("code-1"), base), portico.ENOTFOUND)
	check(t, st.UseRecoveryCode(ctx(t), alice.ID, hash("code-1"), base))
	wantCode(t, st.UseRecoveryCode(ctx(t), alice.ID, hash("code-1"), base), portico.ENOTFOUND)
	wantCode(t, st.UseRecoveryCode(ctx(t), alice.ID, hash("nope"), base), portico.ENOTFOUND)
	if n, _ := st.RecoveryCodesLeft(ctx(t), alice.ID); n != 2 {
		t.Errorf("codes left after one use = %d", n)
	}

	// Deleting forgets the secret and its codes; deleting again is fine.
	check(t, st.DeleteTOTP(ctx(t), alice.ID))
	check(t, st.DeleteTOTP(ctx(t), alice.ID))
	_, err = st.TOTP(ctx(t), alice.ID)
	wantCode(t, err, portico.ENOTFOUND)
	if n, _ := st.RecoveryCodesLeft(ctx(t), alice.ID); n != 0 {
		t.Errorf("codes left after delete = %d", n)
	}
	wantCode(t, st.UseRecoveryCode(ctx(t), alice.ID, hash("code-2"), base), portico.ENOTFOUND)
	// After a reset the user can set it up anew, with new codes only.
	check(t, st.PutPendingTOTP(ctx(t), &portico.TOTP{UserID: alice.ID, Sealed: []byte("new"), CreatedAt: base}))
	check(t, st.EnableTOTP(ctx(t), alice.ID, 7, base, [][]byte{hash("fresh")}))
	if n, _ := st.RecoveryCodesLeft(ctx(t), alice.ID); n != 1 {
		t.Errorf("codes left after setting up again = %d", n)
	}
}

// testTOTPStepOnce replays one code, and one recovery code, from many
// callers at once: exactly one of each is accepted.
func testTOTPStepOnce(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	check(t, st.PutPendingTOTP(ctx(t), &portico.TOTP{UserID: alice.ID, Sealed: []byte("s"), CreatedAt: base}))
	check(t, st.EnableTOTP(ctx(t), alice.ID, 1, base, [][]byte{hash("r")}))
	onlyOneWins(t, "codes", func() error { return st.UseTOTPStep(ctx(t), alice.ID, 2) })
	onlyOneWins(t, "recovery codes", func() error {
		err := st.UseRecoveryCode(ctx(t), alice.ID, hash("r"), base)
		if portico.ErrorCode(err) == portico.ENOTFOUND {
			return portico.Errorf(portico.ECONFLICT, "%s", portico.ErrorMessage(err))
		}
		return err
	})
}
