package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

func addDerivedRequest(t *testing.T, st store.Store, inv *portico.Invitation, state string) *portico.DerivedRequest {
	t.Helper()
	r := &portico.DerivedRequest{InvitationID: inv.ID, UserID: inv.UserID, Status: portico.DerivedPending,
		CreatedAt: base, ExpiresAt: base.Add(15 * time.Minute)}
	check(t, st.CreateDerivedRequest(ctx(t), r, hash(state)))
	if r.ID == 0 {
		t.Fatal("CreateDerivedRequest did not set the ID")
	}
	return r
}

func issued(t *testing.T, st store.Store, inv *portico.Invitation) bool {
	t.Helper()
	ok, err := st.DerivedCredentialIssued(ctx(t), inv.ID)
	check(t, err)
	return ok
}

func testDerivedRequests(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	inv := addInvitation(t, st, alice.ID, addPendingDevice(t, st, alice.ID).ID, "token-1", "")
	other := addInvitation(t, st, alice.ID, addPendingDevice(t, st, alice.ID).ID, "token-2", "")
	r := addDerivedRequest(t, st, inv, "state-1")

	got, err := st.DerivedRequestByStateHash(ctx(t), hash("state-1"))
	check(t, err)
	if got.ID != r.ID || got.InvitationID != inv.ID || got.UserID != alice.ID || got.Status != portico.DerivedPending {
		t.Errorf("request = %+v", got)
	}
	wantTime(t, "created", got.CreatedAt, base)
	wantTime(t, "expires", got.ExpiresAt, base.Add(15*time.Minute))
	wantTime(t, "returned", got.ReturnedAt, time.Time{})
	_, err = st.DerivedRequestByStateHash(ctx(t), hash("unknown"))
	wantCode(t, err, portico.ENOTFOUND)
	if issued(t, st, inv) {
		t.Error("a credential counts as issued before any answer")
	}

	// A failure is recorded and issues nothing; another request may follow.
	check(t, st.AnswerDerivedRequest(ctx(t), r.ID, portico.DerivedFailed, base.Add(time.Minute)))
	got, _ = st.DerivedRequestByStateHash(ctx(t), hash("state-1"))
	if got.Status != portico.DerivedFailed {
		t.Errorf("status %s after a failure", got.Status)
	}
	wantTime(t, "returned", got.ReturnedAt, base.Add(time.Minute))
	if issued(t, st, inv) {
		t.Error("a failed request counts as issued")
	}

	second := addDerivedRequest(t, st, inv, "state-2")
	check(t, st.AnswerDerivedRequest(ctx(t), second.ID, portico.DerivedSucceeded, base.Add(2*time.Minute)))
	if !issued(t, st, inv) {
		t.Error("a succeeded request does not count as issued")
	}
	if issued(t, st, other) {
		t.Error("a credential issued for one registration counts for another")
	}

	// Refusals change nothing.
	wantCode(t, st.AnswerDerivedRequest(ctx(t), second.ID, portico.DerivedFailed, base.Add(3*time.Minute)), portico.ECONFLICT)
	if !issued(t, st, inv) {
		t.Error("a second answer undid the first")
	}
	wantCode(t, st.AnswerDerivedRequest(ctx(t), 999, portico.DerivedSucceeded, base), portico.ENOTFOUND)
	late := addDerivedRequest(t, st, other, "state-3")
	wantCode(t, st.AnswerDerivedRequest(ctx(t), late.ID, portico.DerivedSucceeded, late.ExpiresAt), portico.ECONFLICT)
	if issued(t, st, other) {
		t.Error("an expired request was answered")
	}
	dup := &portico.DerivedRequest{InvitationID: inv.ID, UserID: alice.ID, Status: portico.DerivedPending, CreatedAt: base, ExpiresAt: base}
	wantCode(t, st.CreateDerivedRequest(ctx(t), dup, hash("state-1")), portico.ECONFLICT)
	dup.InvitationID = 999
	wantCode(t, st.CreateDerivedRequest(ctx(t), dup, hash("state-4")), portico.ENOTFOUND)

	// Housekeeping forgets expired requests never answered, and keeps the
	// answered ones, which are the record.
	check(t, st.DeleteExpiredDerivedRequests(ctx(t), late.ExpiresAt))
	if _, err := st.DerivedRequestByStateHash(ctx(t), hash("state-3")); err != nil {
		t.Errorf("a request was deleted at the moment it expired, not after: %v", err)
	}
	check(t, st.DeleteExpiredDerivedRequests(ctx(t), base.Add(time.Hour)))
	_, err = st.DerivedRequestByStateHash(ctx(t), hash("state-3"))
	wantCode(t, err, portico.ENOTFOUND)
	for _, state := range []string{"state-1", "state-2"} {
		if _, err := st.DerivedRequestByStateHash(ctx(t), hash(state)); err != nil {
			t.Errorf("an answered request was deleted: %v", err)
		}
	}
}

// testDerivedRequestsOnce answers one request from many goroutines at
// once, as a provider's return replayed in parallel: exactly one wins.
func testDerivedRequestsOnce(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	inv := addInvitation(t, st, alice.ID, addPendingDevice(t, st, alice.ID).ID, "token", "")
	r := addDerivedRequest(t, st, inv, "state")
	onlyOneWins(t, "answers", func() error {
		return st.AnswerDerivedRequest(ctx(t), r.ID, portico.DerivedSucceeded, base.Add(time.Minute))
	})
}

// onlyOneWins runs try eight times at once and expects exactly one to
// succeed and the others to be refused with ECONFLICT: a conditional write
// that two callers cannot both win.
func onlyOneWins(t *testing.T, what string, try func() error) {
	t.Helper()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() { errs <- try() })
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch portico.ErrorCode(err) {
		case "":
			won++
		case portico.ECONFLICT:
		default:
			t.Errorf("one of the %s at once failed: %v", what, err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d %s at once won, want exactly 1", won, n, what)
	}
}
