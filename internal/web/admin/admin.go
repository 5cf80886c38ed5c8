// Package admin is the admin portal's door: users and their portal roles,
// every device, the settings and the audit log. Admins only: the
// mux's Admin guard refuses everyone else, and the service checks again.
package admin

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/web"
	"github.com/portico-mdm/portico/internal/web/ui"
)

type handler struct {
	svc      *service.Service
	sessions *web.Sessions
	ui       *ui.Renderer
}

// Register adds the admin portal's routes to mux.
func Register(mux *web.Mux, svc *service.Service, sessions *web.Sessions, r *ui.Renderer) {
	h := &handler{svc: svc, sessions: sessions, ui: r}
	h.registerBranding(mux)
	h.registerBackup(mux)
	mux.Handle("GET /admin/{$}", web.Admin, http.RedirectHandler("/admin/users", http.StatusSeeOther))
	mux.Handle("GET /admin/users", web.Admin, r.HTML(h.users))
	mux.Handle("POST /admin/users", web.Admin, r.HTML(h.createUser))
	mux.Handle("GET /admin/users/{id}", web.Admin, r.HTML(h.user))
	mux.Handle("POST /admin/users/{id}/roles", web.Admin, r.HTML(h.setRoles))
	registerUsers(mux, h, r)
	mux.Handle("POST /admin/users/{id}/two-factor/reset", web.Admin, r.HTML(h.resetTwoFactor))
	mux.Handle("GET /admin/devices", web.Admin, r.HTML(h.devices))
	mux.Handle("GET /admin/devices/export", web.Admin, r.HTML(h.exportDevices))
	mux.Handle("GET /admin/settings", web.Admin, http.RedirectHandler("/admin/settings/"+portico.SettingGroups[0].Key, http.StatusSeeOther))
	mux.Handle("GET /admin/settings/{group}", web.Admin, r.HTML(h.settings))
	mux.Handle("POST /admin/settings/{group}", web.Admin, r.HTML(h.saveSettings))
	mux.Handle("POST /admin/settings/{group}/test", web.Admin, r.HTML(h.sendTestMessage))
	mux.Handle("GET /admin/audit", web.Admin, r.HTML(h.audit))
	mux.Handle("GET /admin/audit/export", web.Admin, r.HTML(h.exportAudit))
	mux.Handle("GET /admin/apple/bulk", web.Admin, r.HTML(h.bulkPage))
	mux.Handle("POST /admin/apple/bulk", web.Admin, r.HTML(h.bulkProfile))
	mux.Handle("GET /admin/outbox", web.Admin, r.HTML(h.outbox))
	mux.Handle("GET /admin/outbox/{id}", web.Admin, r.HTML(h.message))
	mux.Handle("GET /admin/api-keys", web.Admin, r.HTML(h.apiKeys))
	mux.Handle("POST /admin/api-keys", web.Admin, r.HTML(h.createAPIKey))
	mux.Handle("GET /admin/api-keys/{id}/revoke", web.Admin, r.HTML(h.confirmRevoke))
	mux.Handle("POST /admin/api-keys/{id}/revoke", web.Admin, r.HTML(h.revokeAPIKey))
	registerPush(mux, h)
}

func (h *handler) layout(r *http.Request, title string) ui.Layout {
	l := h.ui.Layout(r, title, "admin")
	l.Tabs = adminTabs(r.URL.Path)
	l.Flash = h.sessions.PopFlash(r.Context())
	l.Warning = h.pushWarning(r)
	return l
}

// adminTabOrder is the admin tab bar, left to right.
var adminTabOrder = []ui.Tab{
	{Label: "Users", Href: "/admin/users"},
	{Label: "Role sets", Href: "/admin/rolesets"},
	{Label: "Devices", Href: "/admin/devices"},
	{Label: "Settings", Href: "/admin/settings"},
	{Label: "Bulk enrollment", Href: "/admin/apple/bulk"},
	{Label: "Audit log", Href: "/admin/audit"},
	{Label: "Outbox", Href: "/admin/outbox"},
	{Label: "API keys", Href: "/admin/api-keys"},
	{Label: "Apple push", Href: "/admin/apple/push"},
	{Label: "Backup", Href: "/admin/backup"},
}

// adminTabs marks the tab whose pages include path: the tab's own page and
// everything under it (a user's page belongs to Users).
func adminTabs(path string) []ui.Tab {
	tabs := make([]ui.Tab, len(adminTabOrder))
	copy(tabs, adminTabOrder)
	for i := range tabs {
		tabs[i].Current = path == tabs[i].Href || strings.HasPrefix(path, tabs[i].Href+"/")
	}
	return tabs
}

// done leaves a message for the next page and sends the admin there, so
// that reloading it does not repeat the change.
func (h *handler) done(w http.ResponseWriter, r *http.Request, to, msg string) error {
	h.sessions.Flash(r.Context(), msg)
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// createUser shows the generated password on the page it answers with,
// rather than after a redirect, so that it is never kept in a session.
func (h *handler) createUser(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	nu := service.NewUser{User: portico.User{
		Username: f.Get("username"), Name: f.Get("name"), Email: f.Get("email"),
		Phone: f.Get("phone"), Admin: f.Get("admin") == "on",
	}}
	roles, err := portico.ParseRoles(f["role"])
	if err == nil {
		nu.Roles = roles
		var u *portico.User
		var password string
		if u, password, err = h.svc.CreateUser(r.Context(), nu); err == nil {
			return h.renderUsers(w, r, http.StatusCreated, usersPage{Created: u, Password: password})
		}
	}
	if portico.ErrorCode(err) == portico.EINTERNAL {
		return err
	}
	return h.renderUsers(w, r, web.Status(err), usersPage{Form: &nu.User, Error: portico.ErrorMessage(err)})
}

// resetTwoFactor switches a user's second factor off, for a user who lost
// both phone and recovery codes; the form's box confirms it.
func (h *handler) resetTwoFactor(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "user")
	if err != nil {
		return err
	}
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	if r.PostForm.Get("confirm") != "yes" {
		return portico.Errorf(portico.EINVALID, "Tick the box to confirm that you checked who asked for the reset.")
	}
	u, err := h.svc.ResetTwoFactor(r.Context(), id)
	if err != nil {
		return err
	}
	return h.done(w, r, "/admin/users/"+strconv.FormatInt(id, 10), "Two-step sign-in of "+u.Username+" is off. They sign in with their password and can set it up again.")
}

type settingsPage struct {
	ui.Layout
	Groups []portico.SettingGroup
	Group  portico.SettingGroup
	Fields []settingField
	Error  string
	// Test is the mail and SMS pages' test message form.
	Test *testMessage
}

type settingField struct {
	portico.Setting
	Value string
}

func (h *handler) settings(w http.ResponseWriter, r *http.Request) error {
	group, err := portico.LookupSettingGroup(r.PathValue("group"))
	if err != nil {
		return err
	}
	values, err := h.svc.Settings(r.Context())
	if err != nil {
		return err
	}
	return h.renderSettings(w, r, http.StatusOK, group, values, "", newTestMessage(r, group))
}

func (h *handler) renderSettings(w http.ResponseWriter, r *http.Request, status int, group portico.SettingGroup, values portico.SettingValues, msg string, test *testMessage) error {
	p := settingsPage{Layout: h.layout(r, group.Label), Groups: portico.SettingGroups, Group: group, Error: msg, Test: test}
	for _, def := range portico.GroupSettings(group.Key) {
		p.Fields = append(p.Fields, settingField{Setting: def, Value: values.Get(def.Key)})
	}
	return h.ui.Render(w, status, "admin_settings", p)
}

// saveSettings stores a group's form. A switch's form sends "false" from a
// hidden field and "true" from its checkbox when ticked, so the last value
// wins; a secret left empty keeps the stored one, which is never sent to
// the browser.
func (h *handler) saveSettings(w http.ResponseWriter, r *http.Request) error {
	group, err := portico.LookupSettingGroup(r.PathValue("group"))
	if err != nil {
		return err
	}
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	values := portico.SettingValues{}
	for _, def := range portico.GroupSettings(group.Key) {
		sent := r.PostForm[def.Key]
		if len(sent) == 0 || (def.Kind == portico.SecretSetting && sent[len(sent)-1] == "") {
			continue
		}
		values[def.Key] = sent[len(sent)-1]
	}
	err = h.svc.SetSettings(r.Context(), values)
	if portico.ErrorCode(err) == portico.EINVALID {
		return h.renderSettings(w, r, http.StatusBadRequest, group, values, portico.ErrorMessage(err), newTestMessage(r, group))
	} else if err != nil {
		return err
	}
	return h.done(w, r, "/admin/settings/"+group.Key, "Saved. The change is in effect now.")
}
