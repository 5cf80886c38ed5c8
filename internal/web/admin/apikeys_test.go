package admin_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/store"
)

var shownKey = regexp.MustCompile(`class="secret">([^<]+)<`)

func TestCreateAPIKeyShowsItOnceAndItWorks(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	root := e.SignIn("root")
	res := e.PostForm(root, "/admin/api-keys", url.Values{"name": {"inventory"}, "scope": {"read-only"}, "days": {"30"}})
	if res.Status != http.StatusCreated {
		t.Fatalf("status %d:\n%s", res.Status, res.Body)
	}
	m := shownKey.FindStringSubmatch(res.Body)
	if m == nil {
		t.Fatalf("no key on the page:\n%s", res.Body)
	}
	k, err := e.Service.AuthenticateAPIKey(e.Op, m[1])
	if err != nil || k.Name != "inventory" || k.Scope != portico.ScopeReadOnly || k.CreatedBy != "root" ||
		!k.ExpiresAt.Equal(e.Clock.Now().AddDate(0, 0, 30)) {
		t.Fatalf("the shown key: %+v, %v", k, err)
	}
	list := e.Get(root, "/admin/api-keys")
	if strings.Contains(list.Body, m[1]) {
		t.Error("the key is shown a second time")
	}
	for _, want := range []string{"inventory", "read-only", "root", "/admin/api-keys/1/revoke"} {
		if !strings.Contains(list.Body, want) {
			t.Errorf("the list has no %q", want)
		}
	}
}

func TestCreateAPIKeyRefusalsKeepTheForm(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	e.APIKey("taken", portico.ScopeReadOnly)
	root := e.SignIn("root")
	tests := []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"no name", url.Values{"name": {""}, "scope": {"read-only"}, "days": {"30"}}, http.StatusBadRequest, "A key's name has"},
		{"a taken name", url.Values{"name": {"taken"}, "scope": {"read-write"}, "days": {"30"}}, http.StatusConflict, "already an API key named taken"},
		{"no scope", url.Values{"name": {"new-key"}, "days": {"30"}}, http.StatusBadRequest, "not an API key scope"},
		{"no expiry", url.Values{"name": {"new-key"}, "scope": {"read-only"}, "days": {""}}, http.StatusBadRequest, "1 to 365 days"},
		{"over a year", url.Values{"name": {"new-key"}, "scope": {"read-only"}, "days": {"366"}}, http.StatusBadRequest, "1 to 365 days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.PostForm(root, "/admin/api-keys", tt.form)
			body := html.UnescapeString(res.Body)
			if res.Status != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("status %d, want %d with %q:\n%s", res.Status, tt.status, tt.want, body)
			}
			if shownKey.MatchString(res.Body) {
				t.Error("a refusal shows a key")
			}
			if name := tt.form.Get("name"); name != "" && !strings.Contains(body, `value="`+name+`"`) {
				t.Errorf("the form lost the name %q", name)
			}
		})
	}
	keys, _ := e.Service.APIKeys(e.Op)
	if len(keys) != 1 {
		t.Errorf("%d keys after the refusals, want 1", len(keys))
	}
}

func TestRevokeAPIKeyAsksFirst(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	k, key := e.APIKey("scripts", portico.ScopeReadWrite)
	root := e.SignIn("root")
	path := "/admin/api-keys/" + strconv.FormatInt(k.ID, 10) + "/revoke"
	confirm := e.Get(root, path)
	if confirm.Status != http.StatusOK || !strings.Contains(confirm.Body, "Revoke the key scripts?") || !strings.Contains(confirm.Body, `action="`+path+`"`) {
		t.Fatalf("confirmation: status %d:\n%s", confirm.Status, confirm.Body)
	}
	if _, err := e.Service.AuthenticateAPIKey(e.Op, key); err != nil {
		t.Fatalf("asking revoked the key: %v", err)
	}
	res := e.PostForm(root, path, nil)
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/admin/api-keys" {
		t.Fatalf("revoke: status %d:\n%s", res.Status, res.Body)
	}
	if _, err := e.Service.AuthenticateAPIKey(e.Op, key); portico.ErrorCode(err) != portico.EUNAUTHENTICATED {
		t.Errorf("a revoked key still works: %v", err)
	}
	list := e.Get(root, "/admin/api-keys")
	if !strings.Contains(list.Body, "Revoked the API key scripts") || !strings.Contains(list.Body, "revoked") || strings.Contains(list.Body, path) {
		t.Errorf("the list after revoking:\n%s", list.Body)
	}
	if again := e.Get(root, path); again.Status != http.StatusConflict {
		t.Errorf("asking to revoke a revoked key: status %d", again.Status)
	}
	if again := e.PostForm(root, path, nil); again.Status != http.StatusConflict {
		t.Errorf("revoking twice: status %d", again.Status)
	}
	if missing := e.Get(root, "/admin/api-keys/999/revoke"); missing.Status != http.StatusNotFound {
		t.Errorf("an unknown key: status %d", missing.Status)
	}
	entries, _ := e.Service.AuditLog(e.Op, store.AuditFilter{Actor: "root"})
	if len(entries) != 2 || entries[0].Action != "apikey.revoke" || entries[0].Target != "scripts" || entries[1].Action != "login" {
		t.Errorf("audit = %+v", entries)
	}
}
