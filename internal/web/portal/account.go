package portal

import (
	"net/http"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/web"
	"github.com/portico-mdm/portico/internal/web/ui"
)

// accountPage is the form to change one's password and, with the role
// change_account, name and email address (SPEC ACC-1). Name and Email are what the form shows: the stored values,
// or what the user typed when a change was refused. Passwords are never
// sent back.
type accountPage struct {
	ui.Layout
	Name, Email string
	// Details says the form has the name and email address.
	Details bool
	// PasswordRule says what a new password must be.
	PasswordRule string
	Error        string
}

func (h *handler) accountPage(w http.ResponseWriter, r *http.Request) error {
	acc, err := h.svc.Account(r.Context())
	if err != nil {
		return err
	}
	return h.renderAccount(w, r, http.StatusOK, acc, acc.User.Name, acc.User.Email, "")
}

func (h *handler) changeAccount(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	changed, err := h.svc.ChangeAccount(r.Context(), service.AccountChange{
		Name: f.Get("name"), Email: f.Get("email"),
		CurrentPassword: f.Get("current_password"),
		NewPassword:     f.Get("new_password"), RepeatPassword: f.Get("repeat_password"),
		PasswordOnly: !f.Has("name") && !f.Has("email"),
	})
	switch portico.ErrorCode(err) {
	case "":
	case portico.EINVALID, portico.ECONFLICT, portico.ETHROTTLED:
		// The user can put these right: the form again, as typed.
		acc, aerr := h.svc.Account(r.Context())
		if aerr != nil {
			return aerr
		}
		return h.renderAccount(w, r, web.Status(err), acc, f.Get("name"), f.Get("email"), portico.ErrorMessage(err))
	default:
		return err
	}
	if changed.Password {
		// The new password ended every session of the user, this one too:
		// sign it in again, under a new token and the new epoch.
		if err := h.sessions.SignIn(r.Context(), changed.User); err != nil {
			return err
		}
	}
	h.sessions.Flash(r.Context(), accountMessage(changed))
	http.Redirect(w, r, "/account", http.StatusSeeOther)
	return nil
}

func (h *handler) renderAccount(w http.ResponseWriter, r *http.Request, status int, acc *service.Account, name, email, msg string) error {
	title := "Change password"
	if acc.Details {
		title = portico.RoleChangeAccount.Label()
	}
	l, _, err := h.layout(r, title)
	if err != nil {
		return err
	}
	return h.ui.Render(w, status, "account", accountPage{
		Layout: l, Name: name, Email: email, Details: acc.Details, PasswordRule: acc.Policy.Rule(), Error: msg,
	})
}

// accountMessage confirms what a change saved.
func accountMessage(c *service.AccountChanged) string {
	if !c.Any() {
		return "Nothing to save: the form had no changes."
	}
	var saved []string
	if c.Name {
		saved = append(saved, "name")
	}
	if c.Email {
		saved = append(saved, "email address")
	}
	if c.Password {
		saved = append(saved, "password")
	}
	msg := "Saved your new " + joinAnd(saved) + "."
	if c.Password {
		msg += " You were signed out everywhere else."
	}
	return msg
}
