package admin

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/web"
	"github.com/portico-mdm/portico/internal/web/ui"
)

// defaultKeyDays is the lifetime the form offers: long enough for a
// quarter's scripts, short enough that keys get looked at again.
const defaultKeyDays = 90

type apiKeysPage struct {
	ui.Layout
	Keys []*portico.APIKey
	// Form keeps what the admin typed when creating a key was refused.
	Form    apiKeyForm
	MaxDays int
	Error   string
	Created *portico.APIKey
	// Key is the new key itself, shown once.
	Key string
}

type apiKeyForm struct {
	Name  string
	Scope portico.APIScope
	Days  string
}

func (h *handler) apiKeys(w http.ResponseWriter, r *http.Request) error {
	return h.renderAPIKeys(w, r, http.StatusOK, apiKeysPage{Form: apiKeyForm{Scope: portico.ScopeReadOnly, Days: strconv.Itoa(defaultKeyDays)}})
}

func (h *handler) renderAPIKeys(w http.ResponseWriter, r *http.Request, status int, p apiKeysPage) error {
	keys, err := h.svc.APIKeys(r.Context())
	if err != nil {
		return err
	}
	p.Layout, p.Keys = h.layout(r, "API keys"), keys
	p.MaxDays = int(portico.MaxAPIKeyLifetime / (24 * time.Hour))
	return h.ui.Render(w, status, "admin_apikeys", p)
}

// createAPIKey shows the key on the page it answers with, rather than
// after a redirect, so that it is never kept in a session.
func (h *handler) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	f := apiKeyForm{Name: r.PostForm.Get("name"), Scope: portico.APIScope(r.PostForm.Get("scope")), Days: strings.TrimSpace(r.PostForm.Get("days"))}
	maxDays := int(portico.MaxAPIKeyLifetime / (24 * time.Hour))
	days, err := strconv.Atoi(f.Days)
	if err != nil || days < 1 || days > maxDays {
		err = portico.Errorf(portico.EINVALID, "A key is valid for 1 to %d days; %q is not that.", maxDays, f.Days)
	} else {
		var k *portico.APIKey
		var key string
		k, key, err = h.svc.CreateAPIKey(r.Context(), service.NewAPIKey{
			Name: f.Name, Scope: f.Scope, ValidFor: time.Duration(days) * 24 * time.Hour,
		})
		if err == nil {
			return h.renderAPIKeys(w, r, http.StatusCreated, apiKeysPage{
				Created: k, Key: key, Form: apiKeyForm{Scope: portico.ScopeReadOnly, Days: strconv.Itoa(defaultKeyDays)},
			})
		}
	}
	if portico.ErrorCode(err) == portico.EINTERNAL {
		return err
	}
	return h.renderAPIKeys(w, r, web.Status(err), apiKeysPage{Form: f, Error: portico.ErrorMessage(err)})
}

type revokePage struct {
	ui.Layout
	Key *portico.APIKey
}

// confirmRevoke asks before revoking: scripts using the key stop at once.
func (h *handler) confirmRevoke(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "API key")
	if err != nil {
		return err
	}
	k, err := h.svc.APIKey(r.Context(), id)
	if err != nil {
		return err
	}
	if !k.RevokedAt.IsZero() {
		return portico.Errorf(portico.ECONFLICT, "The API key %s was revoked already.", k.Name)
	}
	return h.ui.Render(w, http.StatusOK, "admin_apikey_revoke", revokePage{Layout: h.layout(r, "Revoke "+k.Name), Key: k})
}

func (h *handler) revokeAPIKey(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "API key")
	if err != nil {
		return err
	}
	k, err := h.svc.RevokeAPIKey(r.Context(), id)
	if err != nil {
		return err
	}
	return h.done(w, r, "/admin/api-keys", "Revoked the API key "+k.Name+". It stopped working at once.")
}
