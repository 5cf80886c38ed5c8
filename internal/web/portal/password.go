package portal

import (
	"net/http"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/web"
	"github.com/portico-mdm/portico/internal/web/ui"
)

// registerPassword adds the pages where a user chooses a password: with a
// one-time link an admin sent, or in place of a temporary password.
func registerPassword(mux *web.Mux, h *handler, r *ui.Renderer) {
	mux.Handle("GET /reset-password", web.Visitor, r.HTML(h.resetPasswordPage))
	mux.Handle("POST /reset-password", web.Visitor, r.HTML(h.resetPassword))
	mux.Handle("GET "+web.ChangePasswordPath, web.SignedIn, r.HTML(h.changePasswordPage))
	mux.Handle("POST "+web.ChangePasswordPath, web.SignedIn, r.HTML(h.changePassword))
}

// passwordPage is the form to choose a password. Token is the one-time
// link's, empty when replacing a temporary password.
type passwordPage struct {
	ui.Layout
	Token, Username, PasswordRule, Error string
	// Broken says why a link does not work; the page then has no form.
	Broken string
	Done   bool
}

func (h *handler) resetPasswordPage(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("t")
	p := passwordPage{Layout: h.ui.Layout(r, "Choose your password", "portal"), Token: token}
	u, policy, err := h.svc.PasswordLinkUser(r.Context(), token)
	if portico.ErrorCode(err) == portico.EINTERNAL {
		return err
	} else if err != nil {
		p.Broken = portico.ErrorMessage(err)
		return h.ui.Render(w, web.Status(err), "password", p)
	}
	p.Username, p.PasswordRule = u.Username, policy.Rule()
	return h.ui.Render(w, http.StatusOK, "password", p)
}

func (h *handler) resetPassword(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	p := passwordPage{Layout: h.ui.Layout(r, "Choose your password", "portal"), Token: f.Get("t")}
	u, err := h.svc.SetPasswordWithLink(r.Context(), p.Token, service.NewPassword{Password: f.Get("password"), Repeat: f.Get("repeat")})
	switch portico.ErrorCode(err) {
	case "":
		p.Done, p.Username = true, u.Username
		return h.ui.Render(w, http.StatusOK, "password", p)
	case portico.EINVALID:
		lu, policy, lerr := h.svc.PasswordLinkUser(r.Context(), p.Token)
		if lerr != nil {
			return lerr
		}
		p.Username, p.PasswordRule, p.Error = lu.Username, policy.Rule(), portico.ErrorMessage(err)
		return h.ui.Render(w, http.StatusBadRequest, "password", p)
	case portico.EINTERNAL:
		return err
	}
	p.Broken = portico.ErrorMessage(err)
	return h.ui.Render(w, web.Status(err), "password", p)
}

func (h *handler) changePasswordPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderChangePassword(w, r, http.StatusOK, "")
}

func (h *handler) renderChangePassword(w http.ResponseWriter, r *http.Request, status int, msg string) error {
	policy, err := h.svc.PasswordPolicy(r.Context())
	if err != nil {
		return err
	}
	l := h.ui.Layout(r, "Choose your password", "portal")
	if !l.User.MustChangePassword {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return nil
	}
	return h.ui.Render(w, status, "password", passwordPage{Layout: l, Username: l.User.Username, PasswordRule: policy.Rule(), Error: msg})
}

func (h *handler) changePassword(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	u, err := h.svc.ReplaceTemporaryPassword(r.Context(), service.NewPassword{Password: r.PostForm.Get("password"), Repeat: r.PostForm.Get("repeat")})
	switch portico.ErrorCode(err) {
	case "":
	case portico.EINVALID:
		return h.renderChangePassword(w, r, http.StatusBadRequest, portico.ErrorMessage(err))
	default:
		return err
	}
	// The new password ended every session of the user, this one too: sign
	// it in again under the new epoch.
	if err := h.sessions.SignIn(r.Context(), u); err != nil {
		return err
	}
	h.sessions.Flash(r.Context(), "Your new password is saved.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}
