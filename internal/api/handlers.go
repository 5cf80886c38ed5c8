package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
	"github.com/portico-mdm/portico/internal/web"
)

// List is the body of every answer that lists things. NextOffset, where a
// list is paged, is the offset of the next page, absent on the last one.
type List[T any] struct {
	Items      []T `json:"items"`
	NextOffset int `json:"next_offset,omitempty"`
}

// Paging bounds.
const (
	defaultLimit = 100
	maxLimit     = 500
)

// paging reads limit and offset from the query.
func paging(q url.Values) (limit, offset int, err error) {
	limit, err = intParam(q, "limit", defaultLimit, 1, maxLimit)
	if err != nil {
		return 0, 0, err
	}
	offset, err = intParam(q, "offset", 0, 0, 1<<31-1)
	return limit, offset, err
}

// intParam reads a whole number from the query, def when it is absent.
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, portico.Errorf(portico.EINVALID, "%s is a whole number from %d to %d, not %q.", name, lo, hi, s)
	}
	return n, nil
}

// page answers with one page of items, fetched with one more than limit
// so that the answer knows whether another page follows.
func page[T any](w http.ResponseWriter, items []T, limit, offset int) error {
	l := List[T]{Items: items[:min(len(items), limit)]}
	if len(items) > limit {
		l.NextOffset = offset + limit
	}
	return web.WriteJSON(w, http.StatusOK, l)
}

// users lists the users whose user name, name or email address holds q,
// by user name.
func (a *API) users(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, offset, err := paging(q)
	if err != nil {
		return err
	}
	users, err := a.svc.SearchUsers(r.Context(), store.UserFilter{Query: strings.TrimSpace(q.Get("q")), Limit: limit + 1, Offset: offset})
	if err != nil {
		return err
	}
	return page(w, users, limit, offset)
}

// CreateUserRequest is a new user. Without a password, Portico generates
// one and answers with it, this once.
type CreateUserRequest struct {
	Username string         `json:"username"`
	Name     string         `json:"name"`
	Email    string         `json:"email"`
	Phone    string         `json:"phone"`
	Admin    bool           `json:"admin"`
	Roles    []portico.Role `json:"roles"`
	Password string         `json:"password"`
}

// CreateUserResponse is the new user, and the password Portico generated.
type CreateUserResponse struct {
	User     *portico.User `json:"user"`
	Password string        `json:"password,omitempty"`
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	var req CreateUserRequest
	if err := web.DecodeJSON(w, r, maxBody, &req); err != nil {
		return err
	}
	u, password, err := a.svc.CreateUser(r.Context(), service.NewUser{
		User: portico.User{
			Username: req.Username, Name: req.Name, Email: req.Email, Phone: req.Phone,
			Admin: req.Admin, Roles: req.Roles,
		},
		Password: req.Password,
	})
	if err != nil {
		return err
	}
	res := CreateUserResponse{User: u}
	if req.Password == "" {
		res.Password = password
	}
	return web.WriteJSON(w, http.StatusCreated, res)
}

func (a *API) setRoles(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "user")
	if err != nil {
		return err
	}
	// A pointer tells a missing list from an empty one, which takes every
	// role away.
	var req struct {
		Roles *[]portico.Role `json:"roles"`
	}
	if err := web.DecodeJSON(w, r, maxBody, &req); err != nil {
		return err
	}
	if req.Roles == nil {
		return portico.Errorf(portico.EINVALID, "roles is required: the user's roles after the change; [] takes every role away.")
	}
	u, err := a.svc.SetRoles(r.Context(), id, *req.Roles)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, u)
}

// InvitationRequest starts a registration for a user.
type InvitationRequest struct {
	Kind     portico.InvitationKind `json:"kind"`
	Platform portico.Platform       `json:"platform"`
}

// InvitationResponse is the registration started. The link is given for
// a QR code only, whose link is shown rather than sent; the PIN, for a
// registration with a PIN, is given this once.
type InvitationResponse struct {
	Invitation *portico.Invitation `json:"invitation"`
	Link       string              `json:"link,omitempty"`
	PIN        string              `json:"pin,omitempty"`
	SentTo     []string            `json:"sent_to"`
}

func (a *API) invite(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "user")
	if err != nil {
		return err
	}
	var req InvitationRequest
	if err := web.DecodeJSON(w, r, maxBody, &req); err != nil {
		return err
	}
	started, err := a.svc.InviteUser(r.Context(), id, req.Kind, req.Platform)
	if err != nil {
		return err
	}
	res := InvitationResponse{Invitation: started.Invitation, PIN: started.PIN, SentTo: started.SentTo}
	if started.Invitation.Kind == portico.InviteByQR {
		res.Link = started.Link
	}
	if res.SentTo == nil {
		res.SentTo = []string{}
	}
	return web.WriteJSON(w, http.StatusCreated, res)
}

// Role is a portal role as the API lists it.
type Role struct {
	Name  portico.Role `json:"name"`
	Label string       `json:"label"`
}

func (a *API) roles(w http.ResponseWriter, r *http.Request) error {
	roles := make([]Role, len(portico.Roles))
	for i, role := range portico.Roles {
		roles[i] = Role{Name: role, Label: role.Label()}
	}
	return web.WriteJSON(w, http.StatusOK, List[Role]{Items: roles})
}

func (a *API) devices(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, offset, err := paging(q)
	if err != nil {
		return err
	}
	userID, err := intParam(q, "user_id", 0, 1, 1<<53)
	if err != nil {
		return err
	}
	f, err := a.svc.DeviceFilter(service.DeviceQuery{
		Platform: q.Get("platform"), Status: q.Get("status"), Ownership: q.Get("ownership"),
		Owner: q.Get("owner"), NotSeenDays: q.Get("not_seen_days"), Search: q.Get("q"),
	})
	if err != nil {
		return err
	}
	f.UserID, f.Limit, f.Offset = int64(userID), limit+1, offset
	devices, err := a.svc.AllDevices(r.Context(), f)
	if err != nil {
		return err
	}
	return page(w, devices, limit, offset)
}

func (a *API) commands(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "device")
	if err != nil {
		return err
	}
	cmds, err := a.svc.Commands(r.Context(), id)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, List[*portico.Command]{Items: cmds})
}

// ActionRequest asks a device to do something. A wipe must be confirmed
// with the device's name, a retirement with "retire".
type ActionRequest struct {
	Action  portico.CommandKind `json:"action"`
	Confirm string              `json:"confirm"`
}

func (a *API) act(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "device")
	if err != nil {
		return err
	}
	var req ActionRequest
	if err := web.DecodeJSON(w, r, maxBody, &req); err != nil {
		return err
	}
	cmd, err := a.svc.Act(r.Context(), id, req.Action, req.Confirm)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusCreated, cmd)
}

func (a *API) cancel(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "command")
	if err != nil {
		return err
	}
	cmd, err := a.svc.CancelAction(r.Context(), id)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, cmd)
}

// settings answers with every setting's value in force, the defaults
// included; stored secrets are masked.
func (a *API) settings(w http.ResponseWriter, r *http.Request) error {
	v, err := a.svc.Settings(r.Context())
	if err != nil {
		return err
	}
	all := make(map[string]string, len(portico.Settings))
	for _, def := range portico.Settings {
		all[def.Key] = v.Get(def.Key)
	}
	return web.WriteJSON(w, http.StatusOK, all)
}

func (a *API) setSettings(w http.ResponseWriter, r *http.Request) error {
	var values map[string]string
	if err := web.DecodeJSON(w, r, maxBody, &values); err != nil {
		return err
	}
	if len(values) == 0 {
		return portico.Errorf(portico.EINVALID, "Send the settings to change as an object of keys and values, for example {\"helpdesk.phone\": \"+41 44 000 00 00\"}.")
	}
	if err := a.svc.SetSettings(r.Context(), values); err != nil {
		return err
	}
	return a.settings(w, r)
}

// audit lists the entries the filter keeps, newest first, a page at a
// time; its filter is the admin portal's.
func (a *API) audit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, offset, err := paging(q)
	if err != nil {
		return err
	}
	if id := q.Get("device_id"); id != "" {
		if _, err := intParam(q, "device_id", 0, 1, 1<<53); err != nil {
			return err
		}
	}
	f, err := service.AuditFilter(service.AuditQuery{
		Actor: q.Get("actor"), Device: q.Get("device_id"), Action: q.Get("action"),
		Result: q.Get("result"), From: q.Get("from"), To: q.Get("to"),
	})
	if err != nil {
		return err
	}
	f.Limit, f.Offset = limit+1, offset
	entries, err := a.svc.AuditLog(r.Context(), f)
	if err != nil {
		return err
	}
	return page(w, entries, limit, offset)
}
