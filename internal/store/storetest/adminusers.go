package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

func usernames(users []*portico.User) []string {
	names := make([]string, len(users))
	for i, u := range users {
		names[i] = u.Username
	}
	return names
}

func testSearchUsers(t *testing.T, st store.Store) {
	for i := range 25 {
		addUser(t, st, fmt.Sprintf("user%02d", i), false)
	}
	carol := &portico.User{Username: "carol", Name: "Carol 100% Smith", Email: "c.smith@corp.example", CreatedAt: base}
	check(t, st.CreateUser(ctx(t), carol, "h"))
	tests := []struct {
		name string
		f    store.UserFilter
		want []string
	}{
		{"first page", store.UserFilter{Limit: 3}, []string{"carol", "user00", "user01"}},
		{"second page", store.UserFilter{Limit: 3, Offset: 3}, []string{"user02", "user03", "user04"}},
		{"past the end", store.UserFilter{Limit: 3, Offset: 30}, []string{}},
		{"user name, any case", store.UserFilter{Query: "USER1", Limit: 3}, []string{"user10", "user11", "user12"}},
		{"name", store.UserFilter{Query: "smith"}, []string{"carol"}},
		{"email", store.UserFilter{Query: "corp.example"}, []string{"carol"}},
		{"percent is no wildcard", store.UserFilter{Query: "100%"}, []string{"carol"}},
		{"underscore is no wildcard", store.UserFilter{Query: "user_1"}, []string{}},
		{"no match", store.UserFilter{Query: "nobody"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.SearchUsers(ctx(t), tt.f)
			check(t, err)
			if names := usernames(got); !slices.Equal(names, tt.want) {
				t.Errorf("SearchUsers(%+v) = %v, want %v", tt.f, names, tt.want)
			}
		})
	}
	all, err := st.SearchUsers(ctx(t), store.UserFilter{})
	check(t, err)
	if len(all) != 26 {
		t.Errorf("SearchUsers without a limit = %d users, want 26", len(all))
	}
}

func testExistingUsernames(t *testing.T, st store.Store) {
	addUser(t, st, "Alice", false)
	addUser(t, st, "bob", false)
	names := []string{"alice", "BOB", "carol"}
	for i := range 1200 { // more than one batch
		names = append(names, fmt.Sprintf("nobody%d", i))
	}
	got, err := st.ExistingUsernames(ctx(t), names)
	check(t, err)
	slices.Sort(got)
	if !slices.Equal(got, []string{"Alice", "bob"}) {
		t.Errorf("ExistingUsernames = %v", got)
	}

	shared := &portico.User{Username: "bob2", Email: "BOB@example.com", CreatedAt: base}
	check(t, st.CreateUser(ctx(t), shared, "hash"))
	emails := []string{"alice@example.com", "bob@example.com", "nobody@example.com"}
	for i := range 600 { // more than one batch
		emails = append(emails, fmt.Sprintf("nobody%d@example.com", i))
	}
	got, err = st.ExistingEmails(ctx(t), emails)
	check(t, err)
	slices.Sort(got)
	if !slices.Equal(got, []string{"Alice@example.com", "BOB@example.com", "bob@example.com"}) {
		t.Errorf("ExistingEmails = %v", got)
	}
}

func testDisableAndTemporaryPassword(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", true)
	check(t, st.SetUserDisabled(ctx(t), alice.ID, true))
	got, _ := st.UserByID(ctx(t), alice.ID)
	if !got.Disabled {
		t.Error("not disabled")
	}
	if n, _ := st.CountAdmins(ctx(t)); n != 0 {
		t.Errorf("a disabled admin counts: %d", n)
	}
	check(t, st.SetUserDisabled(ctx(t), alice.ID, false))
	if got, _ := st.UserByID(ctx(t), alice.ID); got.Disabled {
		t.Error("not enabled again")
	}
	wantCode(t, st.SetUserDisabled(ctx(t), 999, true), portico.ENOTFOUND)

	check(t, st.SetTemporaryPassword(ctx(t), alice.ID, "temp-hash"))
	got, _ = st.UserByID(ctx(t), alice.ID)
	h, _ := st.PasswordHash(ctx(t), alice.ID)
	if !got.MustChangePassword || h != "temp-hash" {
		t.Errorf("after a temporary password: must change %t, hash %q", got.MustChangePassword, h)
	}
	check(t, st.SetPasswordHash(ctx(t), alice.ID, "own-hash"))
	if got, _ := st.UserByUsername(ctx(t), "alice"); got.MustChangePassword {
		t.Error("a chosen password still must be changed")
	}
	wantCode(t, st.SetTemporaryPassword(ctx(t), 999, "x"), portico.ENOTFOUND)

	alice.Phone = "+41 79 123 45 67"
	check(t, st.UpdateUser(ctx(t), alice))
	if got, _ := st.UserByID(ctx(t), alice.ID); got.Phone != alice.Phone {
		t.Errorf("phone = %q, want %q", got.Phone, alice.Phone)
	}
}

func testRoleSets(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false, portico.RoleLock)
	bob := addUser(t, st, "bob", false)
	std := &portico.RoleSet{Name: "Standard employee", Roles: []portico.Role{portico.RoleWipe, portico.RoleLock}, CreatedAt: base}
	check(t, st.CreateRoleSet(ctx(t), std))
	exec := &portico.RoleSet{Name: "Executive", Roles: []portico.Role{portico.RoleLocate}, CreatedAt: base}
	check(t, st.CreateRoleSet(ctx(t), exec))
	wantCode(t, st.CreateRoleSet(ctx(t), &portico.RoleSet{Name: "EXECUTIVE", CreatedAt: base}), portico.ECONFLICT)

	roles := func(u *portico.User) ([]portico.Role, []portico.Role) {
		t.Helper()
		byID, err := st.UserByID(ctx(t), u.ID)
		check(t, err)
		byName, err := st.UserByUsername(ctx(t), u.Username)
		check(t, err)
		found, err := st.SearchUsers(ctx(t), store.UserFilter{Query: u.Username, Limit: 10})
		check(t, err)
		all, err := st.ListUsers(ctx(t))
		check(t, err)
		listed := all[slices.IndexFunc(all, func(x *portico.User) bool { return x.ID == u.ID })]
		for _, other := range []*portico.User{byName, found[0], listed} {
			if fmt.Sprint(other.Roles, other.OwnRoles) != fmt.Sprint(byID.Roles, byID.OwnRoles) {
				t.Errorf("%s: the look-ups disagree: %v/%v and %v/%v", u.Username, byID.Roles, byID.OwnRoles, other.Roles, other.OwnRoles)
			}
		}
		return byID.Roles, byID.OwnRoles
	}
	want := func(u *portico.User, effective, own []portico.Role) {
		t.Helper()
		gotEff, gotOwn := roles(u)
		if !slices.Equal(gotEff, portico.NormalizeRoles(effective)) || !slices.Equal(gotOwn, portico.NormalizeRoles(own)) {
			t.Errorf("%s: effective %v own %v, want %v and %v", u.Username, gotEff, gotOwn, effective, own)
		}
	}

	check(t, st.AddToRoleSet(ctx(t), std.ID, []int64{alice.ID, bob.ID, bob.ID}))
	check(t, st.AddToRoleSet(ctx(t), std.ID, []int64{alice.ID})) // in it already
	check(t, st.AddToRoleSet(ctx(t), exec.ID, []int64{bob.ID}))
	want(alice, []portico.Role{portico.RoleLock, portico.RoleWipe}, []portico.Role{portico.RoleLock})
	want(bob, []portico.Role{portico.RoleLock, portico.RoleWipe, portico.RoleLocate}, nil)
	wantCode(t, st.AddToRoleSet(ctx(t), 999, []int64{alice.ID}), portico.ENOTFOUND)
	wantCode(t, st.AddToRoleSet(ctx(t), std.ID, []int64{999}), portico.ENOTFOUND)

	sets, err := st.ListRoleSets(ctx(t))
	check(t, err)
	if len(sets) != 2 || sets[0].Name != "Executive" || sets[0].Members != 1 || sets[1].Members != 2 ||
		!slices.Equal(sets[1].Roles, []portico.Role{portico.RoleLock, portico.RoleWipe}) {
		t.Errorf("ListRoleSets = %+v %+v", sets[0], sets[1])
	}
	wantTime(t, "created_at", sets[0].CreatedAt, base)
	mine, err := st.UserRoleSets(ctx(t), bob.ID)
	check(t, err)
	if len(mine) != 2 || mine[0].ID != exec.ID || mine[1].ID != std.ID {
		t.Errorf("UserRoleSets(bob) = %v", mine)
	}
	members, err := st.RoleSetMembers(ctx(t), std.ID)
	check(t, err)
	if !slices.Equal(members, []int64{alice.ID, bob.ID}) {
		t.Errorf("RoleSetMembers = %v", members)
	}

	// A change of the set applies to its members at once.
	std.Name, std.Roles = "Standard", []portico.Role{portico.RoleRetire}
	check(t, st.UpdateRoleSet(ctx(t), std))
	got, err := st.RoleSetByID(ctx(t), std.ID)
	check(t, err)
	if got.Name != "Standard" || !slices.Equal(got.Roles, std.Roles) || got.Members != 2 {
		t.Errorf("after UpdateRoleSet: %+v", got)
	}
	want(alice, []portico.Role{portico.RoleLock, portico.RoleRetire}, []portico.Role{portico.RoleLock})
	exec2 := *std
	exec2.Name = "executive"
	wantCode(t, st.UpdateRoleSet(ctx(t), &exec2), portico.ECONFLICT)
	wantCode(t, st.UpdateRoleSet(ctx(t), &portico.RoleSet{ID: 999, Name: "x"}), portico.ENOTFOUND)

	check(t, st.RemoveFromRoleSet(ctx(t), std.ID, []int64{alice.ID}))
	want(alice, []portico.Role{portico.RoleLock}, []portico.Role{portico.RoleLock})

	check(t, st.DeleteRoleSet(ctx(t), exec.ID))
	want(bob, []portico.Role{portico.RoleRetire}, nil)
	wantCode(t, st.DeleteRoleSet(ctx(t), exec.ID), portico.ENOTFOUND)
	_, err = st.RoleSetByID(ctx(t), exec.ID)
	wantCode(t, err, portico.ENOTFOUND)
}

func testPasswordResets(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	r := &portico.PasswordReset{UserID: alice.ID, CreatedAt: base, ExpiresAt: base.Add(24 * time.Hour)}
	check(t, st.CreatePasswordReset(ctx(t), r, hash("token")))
	wantCode(t, st.CreatePasswordReset(ctx(t), &portico.PasswordReset{UserID: alice.ID, CreatedAt: base, ExpiresAt: base}, hash("token")), portico.ECONFLICT)
	wantCode(t, st.CreatePasswordReset(ctx(t), &portico.PasswordReset{UserID: 999, CreatedAt: base, ExpiresAt: base}, hash("other")), portico.ENOTFOUND)

	got, err := st.PasswordResetByTokenHash(ctx(t), hash("token"))
	check(t, err)
	if got.ID != r.ID || got.UserID != alice.ID {
		t.Errorf("got %+v", got)
	}
	wantTime(t, "expires_at", got.ExpiresAt, r.ExpiresAt)
	wantTime(t, "used_at", got.UsedAt, time.Time{})
	_, err = st.PasswordResetByTokenHash(ctx(t), hash("nothing"))
	wantCode(t, err, portico.ENOTFOUND)

	// Expired: refused.
	wantCode(t, st.UsePasswordReset(ctx(t), r.ID, r.ExpiresAt), portico.ECONFLICT)
	used := base.Add(time.Hour)
	onlyOneWins(t, "UsePasswordReset", func() error { return st.UsePasswordReset(ctx(t), r.ID, used) })
	got, _ = st.PasswordResetByTokenHash(ctx(t), hash("token"))
	wantTime(t, "used_at", got.UsedAt, used)
}

func testEndPasswordResets(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	bob := addUser(t, st, "bob", false)
	link := func(u *portico.User, token string) *portico.PasswordReset {
		t.Helper()
		r := &portico.PasswordReset{UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(24 * time.Hour)}
		check(t, st.CreatePasswordReset(ctx(t), r, hash(token)))
		return r
	}
	used := link(alice, "used")
	earlier := base.Add(time.Minute)
	check(t, st.UsePasswordReset(ctx(t), used.ID, earlier))
	first, second, bobs := link(alice, "first"), link(alice, "second"), link(bob, "bob")

	ended := base.Add(time.Hour)
	check(t, st.EndPasswordResets(ctx(t), alice.ID, ended))
	for _, tt := range []struct {
		token string
		used  time.Time
	}{
		{"used", earlier}, // keeps when it was used
		{"first", ended},
		{"second", ended},
		{"bob", time.Time{}},
	} {
		got, err := st.PasswordResetByTokenHash(ctx(t), hash(tt.token))
		check(t, err)
		wantTime(t, tt.token+" used_at", got.UsedAt, tt.used)
	}
	for _, r := range []*portico.PasswordReset{first, second} {
		wantCode(t, st.UsePasswordReset(ctx(t), r.ID, ended), portico.ECONFLICT)
	}
	check(t, st.UsePasswordReset(ctx(t), bobs.ID, ended))
	// A user without links is no error.
	check(t, st.EndPasswordResets(ctx(t), alice.ID, ended))
}
