// Package admin is the admin portal's door: users and their portal roles,
// every device, the settings and the audit log. Admins only: the
// mux's Admin guard refuses everyone else, and the service checks again.
package admin

import (
	"net/http"
	"strconv"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
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
	mux.Handle("GET /admin/devices", web.Admin, r.HTML(h.devices))
	mux.Handle("GET /admin/settings", web.Admin, http.RedirectHandler("/admin/settings/"+portico.SettingGroups[0].Key, http.StatusSeeOther))
	mux.Handle("GET /admin/settings/{group}", web.Admin, r.HTML(h.settings))
	mux.Handle("POST /admin/settings/{group}", web.Admin, r.HTML(h.saveSettings))
	mux.Handle("GET /admin/audit", web.Admin, r.HTML(h.audit))
	mux.Handle("GET /admin/outbox", web.Admin, r.HTML(h.outbox))
	mux.Handle("GET /admin/outbox/{id}", web.Admin, r.HTML(h.message))
}

func (h *handler) layout(r *http.Request, title string) ui.Layout {
	l := h.ui.Layout(r, title, "admin")
	l.Flash = h.sessions.PopFlash(r.Context())
	return l
}

// done leaves a message for the next page and sends the admin there, so
// that reloading it does not repeat the change.
func (h *handler) done(w http.ResponseWriter, r *http.Request, to, msg string) error {
	h.sessions.Flash(r.Context(), msg)
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

type usersPage struct {
	ui.Layout
	Users []*portico.User
	Roles []portico.Role
	// Form keeps what the admin typed when creating a user was refused.
	Form    *portico.User
	Error   string
	Created *portico.User
	// Password is the new user's generated password, shown once.
	Password string
}

func (h *handler) users(w http.ResponseWriter, r *http.Request) error {
	return h.renderUsers(w, r, http.StatusOK, usersPage{})
}

func (h *handler) renderUsers(w http.ResponseWriter, r *http.Request, status int, p usersPage) error {
	users, err := h.svc.Users(r.Context())
	if err != nil {
		return err
	}
	p.Layout, p.Users, p.Roles = h.layout(r, "Users"), users, portico.Roles
	if p.Form == nil {
		p.Form = &portico.User{}
	}
	return h.ui.Render(w, status, "admin_users", p)
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

// deviceTable is what the device table shows; Owners is nil where the
// table is of one user's devices.
type deviceTable struct {
	Devices []*portico.Device
	Owners  map[int64]*portico.User
}

type userPage struct {
	ui.Layout
	deviceTable
	Subject *portico.User
	Roles   []portico.Role
}

func (h *handler) user(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "user")
	if err != nil {
		return err
	}
	u, err := h.svc.User(r.Context(), id)
	if err != nil {
		return err
	}
	devices, err := h.svc.AllDevices(r.Context(), store.DeviceFilter{UserID: id})
	if err != nil {
		return err
	}
	return h.ui.Render(w, http.StatusOK, "admin_user", userPage{
		Layout: h.layout(r, u.Username), Subject: u, Roles: portico.Roles, deviceTable: deviceTable{Devices: devices},
	})
}

func (h *handler) setRoles(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "user")
	if err != nil {
		return err
	}
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	roles, err := portico.ParseRoles(r.PostForm["role"])
	if err != nil {
		return err
	}
	u, err := h.svc.SetRoles(r.Context(), id, roles)
	if err != nil {
		return err
	}
	return h.done(w, r, "/admin/users/"+strconv.FormatInt(id, 10), "Saved the portal roles of "+u.Username+".")
}

// devicesPerPage keeps the device list quick with a large fleet.
const devicesPerPage = 100

type devicesPage struct {
	ui.Layout
	deviceTable
	Page int
	More bool
}

func (h *handler) devices(w http.ResponseWriter, r *http.Request) error {
	page, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	devices, err := h.svc.AllDevices(r.Context(), store.DeviceFilter{Limit: devicesPerPage + 1, Offset: (page - 1) * devicesPerPage})
	if err != nil {
		return err
	}
	users, err := h.svc.Users(r.Context())
	if err != nil {
		return err
	}
	owners := make(map[int64]*portico.User, len(users))
	for _, u := range users {
		owners[u.ID] = u
	}
	p := devicesPage{Layout: h.layout(r, "Devices"), Page: page, More: len(devices) > devicesPerPage}
	p.deviceTable = deviceTable{Devices: devices[:min(len(devices), devicesPerPage)], Owners: owners}
	return h.ui.Render(w, http.StatusOK, "admin_devices", p)
}

type settingsPage struct {
	ui.Layout
	Groups []portico.SettingGroup
	Group  portico.SettingGroup
	Fields []settingField
	Error  string
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
	return h.renderSettings(w, r, http.StatusOK, group, values, "")
}

func (h *handler) renderSettings(w http.ResponseWriter, r *http.Request, status int, group portico.SettingGroup, values portico.SettingValues, msg string) error {
	p := settingsPage{Layout: h.layout(r, group.Label), Groups: portico.SettingGroups, Group: group, Error: msg}
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
		return h.renderSettings(w, r, http.StatusBadRequest, group, values, portico.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	return h.done(w, r, "/admin/settings/"+group.Key, "Saved. The change is in effect now.")
}

type auditPage struct {
	ui.Layout
	Entries []*portico.AuditEntry
	Actor   string
}

func (h *handler) audit(w http.ResponseWriter, r *http.Request) error {
	f := store.AuditFilter{Actor: r.URL.Query().Get("actor"), Limit: 200}
	entries, err := h.svc.AuditLog(r.Context(), f)
	if err != nil {
		return err
	}
	return h.ui.Render(w, http.StatusOK, "admin_audit", auditPage{Layout: h.layout(r, "Audit log"), Entries: entries, Actor: f.Actor})
}
