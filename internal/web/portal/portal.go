// Package portal is the user portal's door: sign-in, the home page with the
// user's devices, and each device's page. Handlers decode the request, call
// one service method and render; every rule is in internal/service.
package portal

import (
	"context"
	"net/http"

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

// Register adds the user portal's routes to mux.
func Register(mux *web.Mux, svc *service.Service, sessions *web.Sessions, r *ui.Renderer) {
	h := &handler{svc: svc, sessions: sessions, ui: r}
	mux.Handle("GET /login", web.Visitor, r.HTML(h.loginPage))
	mux.Handle("POST /login", web.Visitor, r.HTML(h.login))
	mux.Handle("POST /logout", web.SignedIn, r.HTML(h.logout))
	registerTwoFactor(mux, h, r)
	mux.Handle("GET /{$}", web.SignedIn, r.HTML(h.home))
	mux.Handle("GET /devices/{id}", web.SignedIn, r.HTML(h.device))
	mux.Handle("GET /register", web.SignedIn, r.HTML(h.registerPage))
	mux.Handle("POST /register", web.SignedIn, r.HTML(h.register))
	mux.Handle("POST /registrations/{id}/resend", web.SignedIn, r.HTML(h.resend))
	mux.Handle("POST /registrations/{id}/cancel", web.SignedIn, r.HTML(h.cancel))
	mux.Handle("GET /account", web.SignedIn, r.HTML(h.accountPage))
	mux.Handle("POST /account", web.SignedIn, r.HTML(h.changeAccount))
	registerActions(mux, h, r)
	registerCertificates(mux, h, r)
	registerDerived(mux, h, r)
	registerSecureApps(mux, h, r)
	registerPassword(mux, h, r)
	mux.Handle("GET /go", web.Visitor, r.HTML(h.goPage))
	mux.Handle("POST /go", web.Visitor, r.HTML(h.goSignIn))
	mux.Handle("GET /devices/{id}/enrollment-profile", web.SignedIn, r.HTML(h.enrollmentProfile))
}

// layout is the frame of a signed-in user's page: the welcome menu with
// what the user may do, and the message the previous action left.
func (h *handler) layout(r *http.Request, title string) (ui.Layout, portico.Capabilities, error) {
	l := h.ui.Layout(r, title, "portal")
	l.Flash = h.sessions.PopFlash(r.Context())
	caps, err := h.svc.Capabilities(r.Context())
	if err != nil {
		return l, caps, err
	}
	for _, k := range registrationKinds {
		if caps.Allows(k.kind) {
			l.Menu = append(l.Menu, ui.MenuItem{Label: k.menu, Href: "/register?how=" + string(k.kind)})
		}
	}
	if caps.Certificates {
		l.Menu = append(l.Menu, ui.MenuItem{Label: "My certificates", Href: "/certificates"})
	}
	if l.User.HasRole(portico.RoleChangeAccount) {
		l.Menu = append(l.Menu, ui.MenuItem{Label: portico.RoleChangeAccount.Label(), Href: "/account"})
	}
	l.Menu = append(l.Menu, ui.MenuItem{Label: "Two-step sign-in", Href: web.TwoFactorPage})
	return l, caps, nil
}

type loginPage struct {
	ui.Layout
	Next, Username, Error, Notice string
}

func (h *handler) loginPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := loginPage{Layout: h.ui.Layout(r, "Sign in", "portal"), Next: web.LocalPath(q.Get("next"))}
	if q.Has("signed_out") {
		p.Notice = "You are signed out."
	}
	return h.ui.Render(w, http.StatusOK, "login", p)
}

// login answers a wrong user name and a wrong password with the same page
// and message (the service makes them the same), so the page never tells
// whether a user exists.
func (h *handler) login(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	username := r.PostForm.Get("username")
	next := web.LocalPath(r.PostForm.Get("next"))
	u, err := h.svc.Login(r.Context(), username, r.PostForm.Get("password"))
	if portico.ErrorCode(err) == portico.EINTERNAL {
		return err
	} else if err != nil {
		return h.ui.Render(w, web.Status(err), "login", loginPage{
			Layout: h.ui.Layout(r, "Sign in", "portal"),
			Next:   next, Username: username, Error: portico.ErrorMessage(err),
		})
	}
	held, err := h.svc.BeginSignIn(r.Context(), u)
	if err != nil {
		return err
	}
	if held != nil {
		if err := h.sessions.HoldSignIn(r.Context(), web.HeldSignIn{PendingSignIn: *held, Next: next}); err != nil {
			return err
		}
		http.Redirect(w, r, "/login/code", http.StatusSeeOther)
		return nil
	}
	if err := h.sessions.SignIn(r.Context(), u); err != nil {
		return err
	}
	http.Redirect(w, r, h.landing(r.Context(), u, next), http.StatusSeeOther)
	return nil
}

// landing is where a sign-in goes: where the user was going, else home.
// An admin going home whom the user portal's networks leave out goes to
// the admin portal instead of a refusal.
func (h *handler) landing(ctx context.Context, u *portico.User, next string) string {
	if next != "/" || !u.Admin {
		return next
	}
	err := h.svc.CheckNetwork(ctx, portico.DoorPortal, portico.ActorFromContext(ctx).Source)
	if portico.ErrorCode(err) == portico.EFORBIDDEN {
		return "/admin/"
	}
	return next
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.Logout(r.Context()); err != nil {
		return err
	}
	if err := h.sessions.SignOut(r.Context()); err != nil {
		return err
	}
	http.Redirect(w, r, "/login?signed_out=1", http.StatusSeeOther)
	return nil
}

type homePage struct {
	ui.Layout
	Devices      []*portico.Device
	Capabilities portico.Capabilities
	// Pending has the open registration of each pending device.
	Pending  map[int64]*portico.Invitation
	Settings portico.SettingValues
	Cards    map[int64]deviceCard
	// Derived has Request derived credential of each pending registration.
	Derived map[int64]derivedButton
}

// deviceCard is what a device's card offers.
type deviceCard struct {
	Device  *portico.Device
	Actions service.DeviceActions
}

func (h *handler) home(w http.ResponseWriter, r *http.Request) error {
	l, caps, err := h.layout(r, "Your devices")
	if err != nil {
		return err
	}
	devices, err := h.svc.MyDevices(r.Context())
	if err != nil {
		return err
	}
	invitations, err := h.svc.MyInvitations(r.Context())
	if err != nil {
		return err
	}
	settings, err := h.svc.Settings(r.Context())
	if err != nil {
		return err
	}
	p := homePage{Layout: l, Devices: devices, Capabilities: caps, Pending: map[int64]*portico.Invitation{}, Settings: settings,
		Cards: map[int64]deviceCard{}, Derived: map[int64]derivedButton{}}
	for _, inv := range invitations {
		p.Pending[inv.DeviceID] = inv
		if p.Derived[inv.ID], err = h.derivedButton(r, inv); err != nil {
			return err
		}
	}
	for _, d := range devices {
		actions, err := h.svc.Actions(r.Context(), d)
		if err != nil {
			return err
		}
		p.Cards[d.ID] = deviceCard{Device: d, Actions: actions}
	}
	return h.ui.Render(w, http.StatusOK, "home", p)
}
