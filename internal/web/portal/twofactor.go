package portal

import (
	"errors"
	"html/template"
	"net/http"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/qrcode"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/web"
	"github.com/portico-mdm/portico/internal/web/ui"
)

// registerTwoFactor adds the second step of signing in and the page where
// users set up, and switch off, their second factor (SPEC LOGIN-2). The
// page is every user's, whatever their roles: it protects the account.
func registerTwoFactor(mux *web.Mux, h *handler, r *ui.Renderer) {
	mux.Handle("GET /login/code", web.Visitor, r.HTML(h.codePage))
	mux.Handle("POST /login/code", web.Visitor, r.HTML(h.code))
	mux.Handle("GET "+web.TwoFactorPage, web.SignedIn, r.HTML(h.twoFactorPage))
	mux.Handle("POST "+web.TwoFactorPage+"/start", web.SignedIn, r.HTML(h.startTwoFactor))
	mux.Handle("POST "+web.TwoFactorPage+"/confirm", web.SignedIn, r.HTML(h.confirmTwoFactor))
	mux.Handle("POST "+web.TwoFactorPage+"/disable", web.SignedIn, r.HTML(h.disableTwoFactor))
}

type codePage struct {
	ui.Layout
	Error string
}

func (h *handler) codePage(w http.ResponseWriter, r *http.Request) error {
	if _, ok := h.sessions.Held(r.Context()); !ok {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil
	}
	return h.ui.Render(w, http.StatusOK, "login_code", codePage{Layout: h.ui.Layout(r, "Two-step sign-in", "portal")})
}

// code finishes a held sign-in. A sign-in that took too long, or whose
// user changed since, starts again from the password.
func (h *handler) code(w http.ResponseWriter, r *http.Request) error {
	held, ok := h.sessions.Held(r.Context())
	if !ok {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil
	}
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	u, err := h.svc.FinishSignIn(r.Context(), held.PendingSignIn, r.PostForm.Get("code"))
	switch {
	case err == nil:
	case errors.Is(err, service.ErrSignInAgain):
		h.sessions.DropHeld(r.Context())
		return h.ui.Render(w, web.Status(err), "login", loginPage{Layout: h.ui.Layout(r, "Sign in", "portal"), Next: held.Next, Error: portico.ErrorMessage(err)})
	case portico.ErrorCode(err) == portico.EINTERNAL:
		return err
	default:
		return h.ui.Render(w, web.Status(err), "login_code", codePage{Layout: h.ui.Layout(r, "Two-step sign-in", "portal"), Error: portico.ErrorMessage(err)})
	}
	if err := h.sessions.SignIn(r.Context(), u); err != nil {
		return err
	}
	http.Redirect(w, r, h.landing(r.Context(), u, web.LocalPath(held.Next)), http.StatusSeeOther)
	return nil
}

// twoFactorPage shows the second factor's state: off with a button to set
// it up, being set up with its QR code and secret, or on.
type twoFactorPage struct {
	ui.Layout
	*service.TwoFactor
	QR    template.HTML
	Error string
	// RecoveryCodes are shown once, on the page that switched it on.
	RecoveryCodes []string
}

func (h *handler) twoFactorPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderTwoFactor(w, r, http.StatusOK, "")
}

func (h *handler) renderTwoFactor(w http.ResponseWriter, r *http.Request, status int, msg string) error {
	tf, err := h.svc.TwoFactor(r.Context())
	if err != nil {
		return err
	}
	l, _, err := h.layout(r, "Two-step sign-in")
	if err != nil {
		return err
	}
	p := twoFactorPage{Layout: l, TwoFactor: tf, Error: msg}
	if tf.Pending != nil {
		svg, err := qrcode.SVG(tf.Pending.URL)
		if err != nil {
			return err
		}
		p.QR = template.HTML(svg)
	}
	return h.ui.Render(w, status, "two_factor", p)
}

func (h *handler) startTwoFactor(w http.ResponseWriter, r *http.Request) error {
	err := h.svc.StartTwoFactor(r.Context())
	if portico.ErrorCode(err) == portico.ECONFLICT {
		return h.renderTwoFactor(w, r, http.StatusConflict, portico.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	http.Redirect(w, r, web.TwoFactorPage, http.StatusSeeOther)
	return nil
}

// confirmTwoFactor answers with the recovery codes on the page itself,
// not after a redirect, so that they are never kept in a session.
func (h *handler) confirmTwoFactor(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	codes, err := h.svc.ConfirmTwoFactor(r.Context(), r.PostForm.Get("code"))
	if portico.ErrorCode(err) == portico.EINTERNAL {
		return err
	} else if err != nil {
		return h.renderTwoFactor(w, r, web.Status(err), portico.ErrorMessage(err))
	}
	l, _, err := h.layout(r, "Two-step sign-in")
	if err != nil {
		return err
	}
	return h.ui.Render(w, http.StatusOK, "two_factor", twoFactorPage{Layout: l, TwoFactor: &service.TwoFactor{Enabled: true, CodesLeft: len(codes)}, RecoveryCodes: codes})
}

func (h *handler) disableTwoFactor(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	err := h.svc.DisableTwoFactor(r.Context(), r.PostForm.Get("code"))
	if portico.ErrorCode(err) == portico.EINTERNAL {
		return err
	} else if err != nil {
		return h.renderTwoFactor(w, r, web.Status(err), portico.ErrorMessage(err))
	}
	h.sessions.Flash(r.Context(), "Two-step sign-in is off. Signing in takes your password only.")
	http.Redirect(w, r, web.TwoFactorPage, http.StatusSeeOther)
	return nil
}
