package admin

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
	"github.com/portico-mdm/portico/internal/web"
	"github.com/portico-mdm/portico/internal/web/ui"
)

func registerUsers(mux *web.Mux, h *handler, r *ui.Renderer) {
	mux.Handle("POST /admin/users/bulk", web.Admin, r.HTML(h.bulk))
	mux.Handle("POST /admin/users/{id}/details", web.Admin, r.HTML(h.updateUser))
	mux.Handle("POST /admin/users/{id}/disable", web.Admin, r.HTML(h.disable))
	mux.Handle("POST /admin/users/{id}/enable", web.Admin, r.HTML(h.enable))
	mux.Handle("POST /admin/users/{id}/password-link", web.Admin, r.HTML(h.passwordLink))
	mux.Handle("POST /admin/users/{id}/temporary-password", web.Admin, r.HTML(h.temporaryPassword))
	mux.Handle("POST /admin/users/{id}/rolesets", web.Admin, r.HTML(h.assignUserSet))
	mux.Handle("POST /admin/users/{id}/rolesets/{set}/remove", web.Admin, r.HTML(h.removeUserSet))
	mux.Handle("GET /admin/users/import", web.Admin, r.HTML(h.importPage))
	mux.Handle("POST /admin/users/import/preview", web.Admin, r.HTML(h.previewImport))
	mux.Handle("POST /admin/users/import", web.Admin, r.HTML(h.importUsers))
	mux.Handle("GET /admin/rolesets", web.Admin, r.HTML(h.roleSets))
	mux.Handle("POST /admin/rolesets", web.Admin, r.HTML(h.createRoleSet))
	mux.Handle("GET /admin/rolesets/{id}", web.Admin, r.HTML(h.roleSet))
	mux.Handle("POST /admin/rolesets/{id}", web.Admin, r.HTML(h.updateRoleSet))
	mux.Handle("POST /admin/rolesets/{id}/delete", web.Admin, r.HTML(h.deleteRoleSet))
}

// usersPerPage keeps the user list quick with many thousands of users.
const usersPerPage = 50

type usersPage struct {
	ui.Layout
	Users    []*portico.User
	Roles    []portico.Role
	RoleSets []*portico.RoleSet
	Query    string
	Page     int
	More     bool
	// Form keeps what the admin typed when creating a user was refused.
	Form    *portico.User
	Error   string
	Created *portico.User
	// Password is the new user's generated password, shown once.
	Password string
	// BulkError says why a change of the ticked users was refused.
	BulkError string
	Ticked    map[int64]bool
}

// listPosition is where in the user list a form was sent from, to go back
// there.
func listPosition(q url.Values) (string, int) {
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	return strings.TrimSpace(q.Get("q")), page
}

func listURL(query string, page int) string {
	v := url.Values{}
	if query != "" {
		v.Set("q", query)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/admin/users"
	}
	return "/admin/users?" + v.Encode()
}

func (h *handler) users(w http.ResponseWriter, r *http.Request) error {
	return h.renderUsers(w, r, http.StatusOK, usersPage{})
}

func (h *handler) renderUsers(w http.ResponseWriter, r *http.Request, status int, p usersPage) error {
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		q = r.PostForm
	}
	p.Query, p.Page = listPosition(q)
	users, err := h.svc.SearchUsers(r.Context(), store.UserFilter{Query: p.Query, Limit: usersPerPage + 1, Offset: (p.Page - 1) * usersPerPage})
	if err != nil {
		return err
	}
	sets, err := h.svc.RoleSets(r.Context())
	if err != nil {
		return err
	}
	p.Layout, p.Roles, p.RoleSets = h.layout(r, "Users"), portico.Roles, sets
	p.Users, p.More = users[:min(len(users), usersPerPage)], len(users) > usersPerPage
	if p.Form == nil {
		p.Form = &portico.User{}
	}
	return h.ui.Render(w, status, "admin_users", p)
}

func formIDs(values []string) ([]int64, error) {
	ids := make([]int64, 0, len(values))
	for _, v := range values {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return nil, portico.Errorf(portico.EINVALID, "%q is not a user.", v)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// confirmed refuses a destructive step whose form's confirmation box was
// not ticked.
func confirmed(r *http.Request, what string) error {
	if r.PostForm.Get("confirm") != "on" {
		return portico.Errorf(portico.EINVALID, "Tick the box to confirm that you want to %s.", what)
	}
	return nil
}

// bulk changes every ticked user of the list at once: grants or revokes
// roles, gives or takes a role set.
func (h *handler) bulk(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	msg, err := h.bulkChange(r, f)
	if err == nil {
		query, page := listPosition(f)
		return h.done(w, r, listURL(query, page), msg)
	}
	if portico.ErrorCode(err) == portico.EINTERNAL {
		return err
	}
	ticked := map[int64]bool{}
	if ids, idErr := formIDs(f["user"]); idErr == nil {
		for _, id := range ids {
			ticked[id] = true
		}
	}
	return h.renderUsers(w, r, web.Status(err), usersPage{BulkError: portico.ErrorMessage(err), Ticked: ticked})
}

func (h *handler) bulkChange(r *http.Request, f url.Values) (string, error) {
	ids, err := formIDs(f["user"])
	if err != nil {
		return "", err
	}
	ctx := r.Context()
	action := f.Get("action")
	switch action {
	case "grant", "revoke":
		roles, err := portico.ParseRoles(f["role"])
		if err != nil {
			return "", err
		}
		var n int
		if action == "grant" {
			n, err = h.svc.BulkChangeRoles(ctx, ids, roles, nil)
		} else if err = confirmed(r, "revoke roles"); err == nil {
			n, err = h.svc.BulkChangeRoles(ctx, ids, nil, roles)
		}
		if err != nil {
			return "", err
		}
		return "Changed the roles of " + countUsers(n) + "; the others had them as asked already.", nil
	case "assign", "unassign":
		setID, err := strconv.ParseInt(f.Get("set"), 10, 64)
		if err != nil {
			return "", portico.Errorf(portico.EINVALID, "Choose a role set.")
		}
		var set *portico.RoleSet
		if action == "assign" {
			set, err = h.svc.AssignRoleSet(ctx, setID, ids)
		} else if err = confirmed(r, "take users out of the role set"); err == nil {
			set, err = h.svc.UnassignRoleSet(ctx, setID, ids)
		}
		if err != nil {
			return "", err
		}
		verb := "Gave"
		if action == "unassign" {
			verb = "Took"
		}
		return verb + " the role set " + set.Name + " to " + countUsers(len(ids)) + "; it has " + countUsers(set.Members) + " now.", nil
	}
	return "", portico.Errorf(portico.EINVALID, "Choose what to do with the ticked users.")
}

func countUsers(n int) string {
	if n == 1 {
		return "1 user"
	}
	return strconv.Itoa(n) + " users"
}

type userPage struct {
	ui.Layout
	deviceTable
	Subject   *portico.User
	Roles     []portico.Role
	Sets      []*portico.RoleSet
	Offered   []*portico.RoleSet
	Error     string
	Form      *portico.User
	Link      *service.PasswordLink
	Password  string
	LinkHours int
	// TwoFactor says whether the user signs in with a second factor.
	TwoFactor bool
}

func (h *handler) user(w http.ResponseWriter, r *http.Request) error {
	return h.renderUser(w, r, http.StatusOK, userPage{})
}

func (h *handler) renderUser(w http.ResponseWriter, r *http.Request, status int, p userPage) error {
	id, err := web.PathID(r, "id", "user")
	if err != nil {
		return err
	}
	ctx := r.Context()
	if p.Subject, err = h.svc.User(ctx, id); err != nil {
		return err
	}
	if p.Devices, err = h.svc.AllDevices(ctx, store.DeviceFilter{UserID: id}); err != nil {
		return err
	}
	if p.TwoFactor, err = h.svc.UserTwoFactor(ctx, id); err != nil {
		return err
	}
	if p.Sets, err = h.svc.UserRoleSets(ctx, id); err != nil {
		return err
	}
	all, err := h.svc.RoleSets(ctx)
	if err != nil {
		return err
	}
	// Offer only the sets the user is not in yet.
	p.Offered = slices.DeleteFunc(all, func(s *portico.RoleSet) bool {
		return slices.ContainsFunc(p.Sets, func(in *portico.RoleSet) bool { return in.ID == s.ID })
	})
	if p.Form == nil {
		p.Form = p.Subject
	}
	p.Layout, p.Roles = h.layout(r, p.Subject.Username), portico.Roles
	p.LinkHours = int(service.PasswordLinkLifetime.Hours())
	return h.ui.Render(w, status, "admin_user", p)
}

// userAction runs an action on the user of the path and goes back to the
// user's page with msg; a refusal the admin can put right is shown there.
func (h *handler) userAction(w http.ResponseWriter, r *http.Request, act func(id int64) (string, error)) error {
	id, err := web.PathID(r, "id", "user")
	if err != nil {
		return err
	}
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	msg, err := act(id)
	switch portico.ErrorCode(err) {
	case "":
		return h.done(w, r, "/admin/users/"+strconv.FormatInt(id, 10), msg)
	case portico.EINVALID, portico.ECONFLICT:
		return h.renderUser(w, r, web.Status(err), userPage{Error: portico.ErrorMessage(err)})
	}
	return err
}

func (h *handler) setRoles(w http.ResponseWriter, r *http.Request) error {
	return h.userAction(w, r, func(id int64) (string, error) {
		roles, err := portico.ParseRoles(r.PostForm["role"])
		if err != nil {
			return "", err
		}
		u, err := h.svc.SetRoles(r.Context(), id, roles)
		if err != nil {
			return "", err
		}
		return "Saved the portal roles of " + u.Username + ".", nil
	})
}

func (h *handler) updateUser(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "user")
	if err != nil {
		return err
	}
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	d := service.UserDetails{Name: f.Get("name"), Email: f.Get("email"), Phone: f.Get("phone")}
	u, err := h.svc.UpdateUser(r.Context(), id, d)
	switch portico.ErrorCode(err) {
	case "":
		return h.done(w, r, "/admin/users/"+strconv.FormatInt(id, 10), "Saved the details of "+u.Username+".")
	case portico.EINVALID, portico.ECONFLICT:
		return h.renderUser(w, r, web.Status(err), userPage{Error: portico.ErrorMessage(err),
			Form: &portico.User{Name: d.Name, Email: d.Email, Phone: d.Phone}})
	}
	return err
}

func (h *handler) disable(w http.ResponseWriter, r *http.Request) error {
	return h.userAction(w, r, func(id int64) (string, error) {
		if err := confirmed(r, "disable the user"); err != nil {
			return "", err
		}
		u, err := h.svc.SetUserDisabled(r.Context(), id, true)
		if err != nil {
			return "", err
		}
		return "Disabled " + u.Username + ": their sessions ended, and they can neither sign in nor register devices.", nil
	})
}

func (h *handler) enable(w http.ResponseWriter, r *http.Request) error {
	return h.userAction(w, r, func(id int64) (string, error) {
		u, err := h.svc.SetUserDisabled(r.Context(), id, false)
		if err != nil {
			return "", err
		}
		return "Enabled " + u.Username + ".", nil
	})
}

// passwordLink and temporaryPassword answer with the user's page itself,
// rather than after a redirect, so that the link or password shown once is
// never kept in a session.
func (h *handler) passwordLink(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "user")
	if err != nil {
		return err
	}
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	link, err := h.svc.SendPasswordLink(r.Context(), id)
	if err != nil {
		return err
	}
	return h.renderUser(w, r, http.StatusCreated, userPage{Link: link})
}

func (h *handler) temporaryPassword(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "user")
	if err != nil {
		return err
	}
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	if err := confirmed(r, "replace the user's password"); err != nil {
		return h.renderUser(w, r, http.StatusBadRequest, userPage{Error: portico.ErrorMessage(err)})
	}
	_, password, err := h.svc.SetTemporaryPassword(r.Context(), id)
	if err != nil {
		return err
	}
	return h.renderUser(w, r, http.StatusCreated, userPage{Password: password})
}

func (h *handler) assignUserSet(w http.ResponseWriter, r *http.Request) error {
	return h.userAction(w, r, func(id int64) (string, error) {
		setID, err := strconv.ParseInt(r.PostForm.Get("set"), 10, 64)
		if err != nil {
			return "", portico.Errorf(portico.EINVALID, "Choose a role set.")
		}
		set, err := h.svc.AssignRoleSet(r.Context(), setID, []int64{id})
		if err != nil {
			return "", err
		}
		return "Gave the role set " + set.Name + ".", nil
	})
}

func (h *handler) removeUserSet(w http.ResponseWriter, r *http.Request) error {
	setID, err := web.PathID(r, "set", "role set")
	if err != nil {
		return err
	}
	return h.userAction(w, r, func(id int64) (string, error) {
		set, err := h.svc.UnassignRoleSet(r.Context(), setID, []int64{id})
		if err != nil {
			return "", err
		}
		return "Took away the role set " + set.Name + ".", nil
	})
}

type roleSetsPage struct {
	ui.Layout
	Sets  []*portico.RoleSet
	Set   *portico.RoleSet
	Roles []portico.Role
	Error string
}

func (h *handler) roleSets(w http.ResponseWriter, r *http.Request) error {
	return h.renderRoleSets(w, r, http.StatusOK, roleSetsPage{})
}

func (h *handler) renderRoleSets(w http.ResponseWriter, r *http.Request, status int, p roleSetsPage) error {
	sets, err := h.svc.RoleSets(r.Context())
	if err != nil {
		return err
	}
	if p.Set == nil {
		p.Set = &portico.RoleSet{}
	}
	p.Layout, p.Sets, p.Roles = h.layout(r, "Role sets"), sets, portico.Roles
	return h.ui.Render(w, status, "admin_rolesets", p)
}

func (h *handler) createRoleSet(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	name := r.PostForm.Get("name")
	roles, err := portico.ParseRoles(r.PostForm["role"])
	if err == nil {
		var set *portico.RoleSet
		if set, err = h.svc.CreateRoleSet(r.Context(), name, roles); err == nil {
			return h.done(w, r, "/admin/rolesets", "Created the role set "+set.Name+". Give it to users in the user list.")
		}
	}
	if portico.ErrorCode(err) == portico.EINTERNAL {
		return err
	}
	return h.renderRoleSets(w, r, web.Status(err), roleSetsPage{Error: portico.ErrorMessage(err), Set: &portico.RoleSet{Name: name, Roles: roles}})
}

func (h *handler) roleSet(w http.ResponseWriter, r *http.Request) error {
	return h.renderRoleSet(w, r, http.StatusOK, nil, "")
}

func (h *handler) renderRoleSet(w http.ResponseWriter, r *http.Request, status int, form *portico.RoleSet, msg string) error {
	id, err := web.PathID(r, "id", "role set")
	if err != nil {
		return err
	}
	set, err := h.svc.RoleSet(r.Context(), id)
	if err != nil {
		return err
	}
	if form == nil {
		form = set
	}
	form.ID, form.Members = set.ID, set.Members
	return h.ui.Render(w, status, "admin_roleset", roleSetsPage{Layout: h.layout(r, set.Name), Set: form, Roles: portico.Roles, Error: msg})
}

func (h *handler) updateRoleSet(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "role set")
	if err != nil {
		return err
	}
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	name := r.PostForm.Get("name")
	roles, err := portico.ParseRoles(r.PostForm["role"])
	if err == nil {
		var set *portico.RoleSet
		if set, err = h.svc.UpdateRoleSet(r.Context(), id, name, roles); err == nil {
			return h.done(w, r, "/admin/rolesets", "Saved the role set "+set.Name+"; its members have its roles now.")
		}
	}
	switch portico.ErrorCode(err) {
	case portico.EINVALID, portico.ECONFLICT:
		return h.renderRoleSet(w, r, web.Status(err), &portico.RoleSet{Name: name, Roles: roles}, portico.ErrorMessage(err))
	}
	return err
}

func (h *handler) deleteRoleSet(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "role set")
	if err != nil {
		return err
	}
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	if err := confirmed(r, "delete the role set"); err != nil {
		return h.renderRoleSet(w, r, http.StatusBadRequest, nil, portico.ErrorMessage(err))
	}
	if err := h.svc.DeleteRoleSet(r.Context(), id); err != nil {
		return err
	}
	return h.done(w, r, "/admin/rolesets", "Deleted the role set. Its members keep their own roles.")
}

type importPage struct {
	ui.Layout
	Roles   []portico.Role
	Columns string
	Text    string
	Preview *service.ImportPreview
	Error   string
	MaxRows int
	MaxKiB  int
}

func (h *handler) importPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderImport(w, r, http.StatusOK, importPage{})
}

func (h *handler) renderImport(w http.ResponseWriter, r *http.Request, status int, p importPage) error {
	p.Layout, p.Columns, p.Roles = h.layout(r, "Import users"), strings.Join(service.ImportColumns, ","), portico.Roles
	p.MaxRows, p.MaxKiB = service.MaxImportRows, service.MaxImportBytes>>10
	return h.ui.Render(w, status, "admin_import", p)
}

// importText reads the CSV file of the import form: the uploaded file when
// one was chosen, else the text area's.
func importText(w http.ResponseWriter, r *http.Request) (string, error) {
	const limit = 2*service.MaxImportBytes + 64<<10 // a file, the text area and the other fields
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseMultipartForm(limit); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return "", portico.Errorf(portico.EINVALID, "The upload could not be read; a file of users is at most %d KiB.", service.MaxImportBytes>>10)
	} else if err != nil {
		if err := r.ParseForm(); err != nil {
			return "", portico.Errorf(portico.EINVALID, "The form could not be read; a file of users is at most %d KiB.", service.MaxImportBytes>>10)
		}
	}
	if f, hdr, err := r.FormFile("file"); err == nil {
		defer f.Close()
		if hdr.Size > 0 {
			b, err := io.ReadAll(io.LimitReader(f, service.MaxImportBytes+1))
			return string(b), err
		}
	}
	return strings.ReplaceAll(r.FormValue("csv"), "\r\n", "\n"), nil
}

func (h *handler) previewImport(w http.ResponseWriter, r *http.Request) error {
	text, err := importText(w, r)
	if err != nil {
		return h.renderImport(w, r, http.StatusBadRequest, importPage{Error: portico.ErrorMessage(err)})
	}
	p := importPage{Text: text}
	p.Preview, err = h.svc.PreviewImport(r.Context(), text)
	if portico.ErrorCode(err) == portico.EINVALID {
		p.Error = portico.ErrorMessage(err)
		return h.renderImport(w, r, http.StatusBadRequest, p)
	} else if err != nil {
		return err
	}
	status := http.StatusOK
	if p.Preview.Bad > 0 {
		status = http.StatusBadRequest
	}
	return h.renderImport(w, r, status, p)
}

func (h *handler) importUsers(w http.ResponseWriter, r *http.Request) error {
	text, err := importText(w, r)
	if err != nil {
		return h.renderImport(w, r, http.StatusBadRequest, importPage{Error: portico.ErrorMessage(err)})
	}
	res, err := h.svc.ImportUsers(r.Context(), text)
	if portico.ErrorCode(err) == portico.EINVALID || portico.ErrorCode(err) == portico.ECONFLICT {
		// Show every row's problem again, as the preview does.
		p := importPage{Text: text, Error: portico.ErrorMessage(err)}
		p.Preview, _ = h.svc.PreviewImport(r.Context(), text)
		return h.renderImport(w, r, web.Status(err), p)
	} else if err != nil {
		return err
	}
	return h.done(w, r, "/admin/users", "Imported "+countUsers(len(res.Users))+"; "+countUsers(res.Mailed)+" were mailed a link to choose a password.")
}
