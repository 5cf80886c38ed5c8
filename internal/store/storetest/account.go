package storetest

import (
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

func testUpdateUser(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false, portico.RoleChangeAccount)
	bob := addUser(t, st, "bob", false)

	alice.Name, alice.Email = "Alice Liddell", "alice.liddell@example.com"
	check(t, st.UpdateUser(ctx(t), alice))
	got, err := st.UserByID(ctx(t), alice.ID)
	check(t, err)
	wantUser(t, got, alice)

	// Keeping one's own address, in another case, is no conflict.
	alice.Email = "Alice.Liddell@example.com"
	check(t, st.UpdateUser(ctx(t), alice))

	for _, email := range []string{"bob@example.com", "BOB@example.com"} {
		taken := *alice
		taken.Email = email
		err := st.UpdateUser(ctx(t), &taken)
		wantCode(t, err, portico.ECONFLICT)
		if msg := portico.ErrorMessage(err); !strings.Contains(msg, email) {
			t.Errorf("conflict message %q does not name %s", msg, email)
		}
	}
	got, _ = st.UserByID(ctx(t), alice.ID)
	wantUser(t, got, alice)
	got, _ = st.UserByID(ctx(t), bob.ID)
	wantUser(t, got, bob)

	missing := &portico.User{ID: 42, Email: "nobody@example.com"}
	wantCode(t, st.UpdateUser(ctx(t), missing), portico.ENOTFOUND)

	// Admins may create users who share an address: each can still be
	// changed while keeping it, in any case, but not given another's.
	shared := []*portico.User{
		{Username: "desk1", Email: "frontdesk@example.com", CreatedAt: base},
		{Username: "desk2", Email: "FrontDesk@example.com", CreatedAt: base},
	}
	for _, u := range shared {
		check(t, st.CreateUser(ctx(t), u, "hash"))
	}
	for _, u := range shared {
		u.Name, u.Phone, u.Email = "Front desk", "+41 44 000 00 00", strings.ToUpper(u.Email)
		check(t, st.UpdateUser(ctx(t), u))
		got, _ := st.UserByID(ctx(t), u.ID)
		wantUser(t, got, u)
	}
	moved := *shared[0]
	moved.Email = "bob@example.com"
	wantCode(t, st.UpdateUser(ctx(t), &moved), portico.ECONFLICT)
	bob.Email = "frontdesk@example.com"
	wantCode(t, st.UpdateUser(ctx(t), bob), portico.ECONFLICT)
}

func testEndUserSessions(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	bob := addUser(t, st, "bob", false)
	if alice.SessionEpoch != 0 {
		t.Errorf("a new user's session epoch is %d, want 0", alice.SessionEpoch)
	}
	for want := int64(1); want <= 2; want++ {
		epoch, err := st.EndUserSessions(ctx(t), alice.ID)
		check(t, err)
		if epoch != want {
			t.Errorf("EndUserSessions = %d, want %d", epoch, want)
		}
		for _, get := range []func() (*portico.User, error){
			func() (*portico.User, error) { return st.UserByID(ctx(t), alice.ID) },
			func() (*portico.User, error) { return st.UserByUsername(ctx(t), "alice") },
		} {
			if u, err := get(); err != nil || u.SessionEpoch != want {
				t.Errorf("user after EndUserSessions: %+v, %v; want epoch %d", u, err, want)
			}
		}
	}
	if u, _ := st.UserByID(ctx(t), bob.ID); u.SessionEpoch != 0 {
		t.Errorf("ending alice's sessions moved bob's epoch to %d", u.SessionEpoch)
	}
	_, err := st.EndUserSessions(ctx(t), 42)
	wantCode(t, err, portico.ENOTFOUND)
}
