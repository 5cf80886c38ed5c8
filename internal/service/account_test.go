package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
)

// change is a change of alice's account that keeps what it does not name.
func change(c service.AccountChange) service.AccountChange {
	if c.Name == "" {
		c.Name = "Alice"
	}
	if c.Email == "" {
		c.Email = "alice@example.com"
	}
	return c
}

func TestChangeAccountRefusals(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]string
		user     string // who asks: alice has the role, bob does not
		change   service.AccountChange
		code     string
		msg      string
	}{
		{"no role", nil, "bob", change(service.AccountChange{Name: "Bobby"}), portico.EFORBIDDEN, "may not change"},
		{"wrong current password for a new email", nil, "alice",
			change(service.AccountChange{Email: "a@example.com", CurrentPassword: "wrong-password"}), portico.EINVALID, "current password is wrong"},
		{"wrong current password for a new password", nil, "alice",
			change(service.AccountChange{CurrentPassword: "wrong-password", NewPassword: "a-new-password", RepeatPassword: "a-new-password"}),
			portico.EINVALID, "current password is wrong"},
		{"no current password for a new email", nil, "alice",
			change(service.AccountChange{Email: "a@example.com"}), portico.EINVALID, "current password to change your email address"},
		{"no current password for a new password", nil, "alice",
			change(service.AccountChange{NewPassword: "a-new-password", RepeatPassword: "a-new-password"}), portico.EINVALID, "current password to change your password"},
		{"repetition differs", nil, "alice",
			change(service.AccountChange{CurrentPassword: "alice-password", NewPassword: "a-new-password", RepeatPassword: "a-new-passwort"}), portico.EINVALID, "repetition differ"},
		{"only the repetition", nil, "alice",
			change(service.AccountChange{CurrentPassword: "alice-password", RepeatPassword: "a-new-password"}), portico.EINVALID, "repetition differ"},
		{"shorter than the default policy", nil, "alice",
			change(service.AccountChange{CurrentPassword: "alice-password", NewPassword: "short-pw1", RepeatPassword: "short-pw1"}), portico.EINVALID, "at least 10 characters"},
		{"shorter than the admin's policy", map[string]string{"password.min_length": "16"}, "alice",
			change(service.AccountChange{CurrentPassword: "alice-password", NewPassword: "fifteen-chars15", RepeatPassword: "fifteen-chars15"}), portico.EINVALID, "at least 16 characters"},
		{"no digit when the policy wants one", map[string]string{"password.letters_and_digits": "true"}, "alice",
			change(service.AccountChange{CurrentPassword: "alice-password", NewPassword: "only-letters-here", RepeatPassword: "only-letters-here"}), portico.EINVALID, "letters and digits"},
		{"no letter when the policy wants one", map[string]string{"password.letters_and_digits": "true"}, "alice",
			change(service.AccountChange{CurrentPassword: "alice-password", NewPassword: "1234567890-12", RepeatPassword: "1234567890-12"}), portico.EINVALID, "letters and digits"},
		{"the email address as password", nil, "alice",
			change(service.AccountChange{CurrentPassword: "alice-password", NewPassword: "ALICE@example.com", RepeatPassword: "ALICE@example.com"}), portico.EINVALID, "not be the user name or the email address"},
		{"the same password again", nil, "alice",
			change(service.AccountChange{CurrentPassword: "alice-password", NewPassword: "alice-password", RepeatPassword: "alice-password"}), portico.EINVALID, "one you have now"},
		{"email taken", nil, "alice",
			change(service.AccountChange{Email: "Carol@example.com", CurrentPassword: "alice-password"}), portico.ECONFLICT, "belongs to another user"},
		{"email invalid", nil, "alice",
			change(service.AccountChange{Email: "alice at example.com", CurrentPassword: "alice-password"}), portico.EINVALID, "not an email address"},
		{"email emptied", nil, "alice",
			change(service.AccountChange{Email: " ", CurrentPassword: "alice-password"}), portico.EINVALID, "email address is required"},
		{"name too long", nil, "alice",
			change(service.AccountChange{Name: strings.Repeat("x", 201)}), portico.EINVALID, "longer than 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			users := map[string]*portico.User{
				"alice": e.addUser(t, "alice", false, portico.RoleChangeAccount),
				"bob":   e.addUser(t, "bob", false, portico.RoleLock),
			}
			e.addUser(t, "carol", false)
			if err := e.db.UpdateUser(context.Background(), &portico.User{ID: users["alice"].ID, Name: "Alice", Email: "alice@example.com"}); err != nil {
				t.Fatal(err)
			}
			if tt.settings != nil {
				if err := e.svc.SetSettings(e.op, tt.settings); err != nil {
					t.Fatal(err)
				}
			}
			u := users[tt.user]
			before, _ := e.db.UserByID(context.Background(), u.ID)

			_, err := e.svc.ChangeAccount(as(before), tt.change)
			wantCode(t, err, tt.code)
			if msg := portico.ErrorMessage(err); !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not say %q", msg, tt.msg)
			}

			after, _ := e.db.UserByID(context.Background(), u.ID)
			if after.Name != before.Name || after.Email != before.Email || after.SessionEpoch != before.SessionEpoch {
				t.Errorf("a refused change changed the user: %+v → %+v", before, after)
			}
			if _, err := e.svc.Login(from("198.51.100.7"), tt.user, tt.user+"-password"); err != nil {
				t.Errorf("the old password stopped working: %v", err)
			}
			entries := audit(t, e, "account.")
			if len(entries) != 1 || entries[0].Result != portico.ResultDenied || entries[0].Actor != tt.user {
				t.Fatalf("audit = %+v, want one denied entry by %s", entries, tt.user)
			}
			noPasswordIn(t, entries, tt.change)
		})
	}
}

func TestChangeAccount(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false, portico.RoleChangeAccount)
	ctx := as(alice)

	// The name alone needs no password.
	got, err := e.svc.ChangeAccount(ctx, service.AccountChange{Name: "  Alice Liddell ", Email: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Name || got.Email || got.Password || got.User.Name != "Alice Liddell" {
		t.Errorf("name change = %+v, user %+v", got, got.User)
	}
	alice = got.User

	c := service.AccountChange{
		Name: alice.Name, Email: "liddell@example.com", CurrentPassword: "alice-password",
		NewPassword: "through the looking glass", RepeatPassword: "through the looking glass",
	}
	got, err = e.svc.ChangeAccount(as(alice), c)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name || !got.Email || !got.Password {
		t.Errorf("change = %+v", got)
	}
	stored, _ := e.db.UserByID(context.Background(), alice.ID)
	if stored.Email != "liddell@example.com" || stored.Name != "Alice Liddell" || stored.SessionEpoch != got.User.SessionEpoch || stored.SessionEpoch == alice.SessionEpoch {
		t.Errorf("stored %+v, returned %+v", stored, got.User)
	}

	// Other sessions end; one signed in under the new epoch lives.
	if _, err := e.svc.SessionUser(context.Background(), alice.ID, alice.SessionEpoch); portico.ErrorCode(err) != portico.EUNAUTHENTICATED {
		t.Errorf("a session from before the password change: %v", err)
	}
	if _, err := e.svc.SessionUser(context.Background(), alice.ID, got.User.SessionEpoch); err != nil {
		t.Errorf("a session under the new epoch: %v", err)
	}
	if _, err := e.svc.Login(from("192.0.2.5"), "alice", "alice-password"); portico.ErrorCode(err) != portico.EUNAUTHENTICATED {
		t.Errorf("the old password still works: %v", err)
	}
	if _, err := e.svc.Login(from("192.0.2.5"), "alice", "through the looking glass"); err != nil {
		t.Errorf("the new password does not work: %v", err)
	}

	// Nothing changed: nothing saved, nothing audited.
	got, err = e.svc.ChangeAccount(as(stored), service.AccountChange{Name: stored.Name, Email: stored.Email})
	if err != nil || got.Any() {
		t.Errorf("no change = %+v, %v", got, err)
	}

	entries := audit(t, e, "account.")
	var summary []string
	for _, en := range entries {
		if en.Result != portico.ResultOK || en.Actor != "alice" || en.Target != "alice" {
			t.Errorf("audit entry %+v", en)
		}
		summary = append(summary, en.Action+": "+en.Detail)
	}
	want := []string{ // newest first
		"account.password: password changed; other sessions ended",
		`account.update: email "alice@example.com" → "liddell@example.com"`,
		`account.update: name "" → "Alice Liddell"`,
	}
	if strings.Join(summary, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(summary, "\n"), strings.Join(want, "\n"))
	}
	noPasswordIn(t, entries, c)
}

// TestChangeOwnPasswordWithoutTheRole: the role change_account is for the
// name and email address; every user changes their own password.
func TestChangeOwnPasswordWithoutTheRole(t *testing.T) {
	e := newEnv(t)
	bob := e.addUser(t, "bob", false, portico.RoleLock)
	got, err := e.svc.ChangeAccount(as(bob), service.AccountChange{
		PasswordOnly: true, CurrentPassword: "bob-password", NewPassword: "bobs-own-pw-2", RepeatPassword: "bobs-own-pw-2",
	})
	if err != nil || !got.Password || got.Name || got.Email {
		t.Fatalf("bob's new password: %+v, %v", got, err)
	}
	if _, err := e.svc.Login(from("192.0.2.1"), "bob", "bobs-own-pw-2"); err != nil {
		t.Errorf("the new password does not work: %v", err)
	}
	after, _ := e.db.UserByID(context.Background(), bob.ID)
	if after.Name != bob.Name || after.Email != bob.Email {
		t.Errorf("a password change changed bob's details: %+v → %+v", bob, after)
	}
	acc, err := e.svc.Account(as(after))
	if err != nil || acc.Details {
		t.Errorf("bob's account: details %t, %v; want the password only", acc != nil && acc.Details, err)
	}
}

// TestChangeAccountIsThrottledLikeSignIn: wrong current passwords count
// with failed sign-ins, so the form is no way around the lock-out.
func TestChangeAccountIsThrottledLikeSignIn(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false, portico.RoleChangeAccount)
	wrong := service.AccountChange{Email: "a@example.com", CurrentPassword: "wrong-password"}
	for range 3 {
		_, err := e.svc.Login(as(alice), "alice", "wrong-password")
		wantCode(t, err, portico.EUNAUTHENTICATED)
	}
	_, err := e.svc.ChangeAccount(as(alice), wrong)
	wantCode(t, err, portico.ETHROTTLED)
	e.clock.Advance(time.Second)
	_, err = e.svc.ChangeAccount(as(alice), wrong)
	wantCode(t, err, portico.EINVALID)
	_, err = e.svc.Login(as(alice), "alice", "alice-password")
	wantCode(t, err, portico.ETHROTTLED)
}

func TestCreateUserFollowsThePasswordPolicy(t *testing.T) {
	e := newEnv(t)
	if err := e.svc.SetSettings(e.op, map[string]string{"password.min_length": "12", "password.letters_and_digits": "true"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ password, msg string }{
		{"eleven-chr1", "at least 12 characters"},
		{"twelve-chars-no-digit", "letters and digits"},
		{"Dave2026@example.com", "not be the user name or the email address"},
		{"dave2026@example.com-1234", ""},
	} {
		_, _, err := e.svc.CreateUser(e.op, service.NewUser{
			User:     portico.User{Username: "dave", Email: "dave2026@example.com"},
			Password: tt.password,
		})
		if tt.msg == "" && err != nil || tt.msg != "" && !strings.Contains(portico.ErrorMessage(err), tt.msg) {
			t.Errorf("password %q: %v, want %q", tt.password, err, tt.msg)
		}
	}
	// A generated password is not held to the policy: it is random.
	if _, password, err := e.svc.CreateUser(e.op, service.NewUser{User: portico.User{Username: "erin", Email: "erin@example.com"}}); err != nil || password == "" {
		t.Errorf("generated password: %q, %v", password, err)
	}
}

func audit(t *testing.T, e *env, prefix string) []*portico.AuditEntry {
	t.Helper()
	all, err := e.db.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*portico.AuditEntry
	for _, en := range all {
		if strings.HasPrefix(en.Action, prefix) {
			out = append(out, en)
		}
	}
	return out
}

func noPasswordIn(t *testing.T, entries []*portico.AuditEntry, c service.AccountChange) {
	t.Helper()
	for _, en := range entries {
		for _, p := range []string{c.CurrentPassword, c.NewPassword, c.RepeatPassword} {
			if p != "" && (strings.Contains(en.Detail, p) || strings.Contains(en.Target, p)) {
				t.Errorf("audit entry %+v holds a password", en)
			}
		}
	}
}
