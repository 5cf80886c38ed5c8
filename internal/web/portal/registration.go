package portal

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/qrcode"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/web"
	"github.com/portico-mdm/portico/internal/web/ui"
)

// registrationKinds are the ways to register, in the order the welcome
// menu and the registration page offer them (SPEC MENU-1).
var registrationKinds = []struct {
	kind         portico.InvitationKind
	menu, button string
}{
	{portico.InviteByMessage, "Register a device", "Send me the registration link"},
	{portico.InviteWithPIN, "Request registration PIN", "Send the link and show a PIN"},
	{portico.InviteByQR, "Generate QR code", "Show a QR code to scan"},
}

type registerOption struct {
	Kind            portico.InvitationKind
	Button          string
	Chosen, Primary bool
}

type registerPage struct {
	ui.Layout
	Options   []registerOption
	Platforms []portico.Platform
	Platform  portico.Platform
	// Email and Phone are where an invitation goes.
	Email, Phone string
}

// registerPage offers the ways to register the user may use, with the one
// the menu entry named first.
func (h *handler) registerPage(w http.ResponseWriter, r *http.Request) error {
	l, caps, err := h.layout(r, "Register a device")
	if err != nil {
		return err
	}
	if !caps.Any() {
		return portico.Errorf(portico.EFORBIDDEN, "Your account may not register devices. Ask the helpdesk if you need to.")
	}
	chosen := portico.InvitationKind(r.URL.Query().Get("how"))
	if !caps.Allows(chosen) {
		chosen = ""
	}
	p := registerPage{Layout: l, Platforms: portico.Platforms, Platform: portico.PlatformIOS, Email: l.User.Email, Phone: l.User.Phone}
	if detected, ok := portico.PlatformFromUserAgent(r.UserAgent()); ok {
		p.Platform = detected
	}
	for _, k := range registrationKinds {
		if caps.Allows(k.kind) {
			p.Options = append(p.Options, registerOption{Kind: k.kind, Button: k.button, Chosen: k.kind == chosen})
		}
	}
	if chosen == "" {
		p.Options[0].Primary = true
	}
	for i := range p.Options {
		p.Options[i].Primary = p.Options[i].Primary || p.Options[i].Chosen
	}
	return h.ui.Render(w, http.StatusOK, "register", p)
}

func (h *handler) register(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	kind, err := portico.ParseInvitationKind(r.PostForm.Get("how"))
	if err != nil {
		return err
	}
	started, err := h.svc.StartRegistration(r.Context(), kind, portico.Platform(r.PostForm.Get("platform")))
	if err != nil {
		return err
	}
	return h.started(w, r, started)
}

func (h *handler) resend(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "registration")
	if err != nil {
		return err
	}
	started, err := h.svc.ResendRegistration(r.Context(), id)
	if err != nil {
		return err
	}
	return h.started(w, r, started)
}

func (h *handler) cancel(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "registration")
	if err != nil {
		return err
	}
	if err := h.svc.CancelRegistration(r.Context(), id); err != nil {
		return err
	}
	h.sessions.Flash(r.Context(), "Cancelled the registration. The device left your list.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

type startedPage struct {
	ui.Layout
	*service.Started
	Device string
	Steps  string
	// QR is the link as an inline SVG, made by internal/qrcode from the
	// link alone; PNG is the same as a data: URL to save.
	QR  template.HTML
	PNG template.URL
	// Derived is Request derived credential, for a PIN's registration.
	Derived derivedButton
}

// started shows what only this answer may show: the PIN, or the QR code.
// An invitation by mail and SMS shows nothing secret, so it goes back home
// with a message, and a reload does not send it again.
func (h *handler) started(w http.ResponseWriter, r *http.Request, s *service.Started) error {
	inv := s.Invitation
	if inv.Kind == portico.InviteByMessage {
		h.sessions.Flash(r.Context(), "The registration link is on its way to "+joinAnd(s.SentTo)+". Open it on your "+inv.Platform.DeviceNoun()+".")
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	l, _, err := h.layout(r, "Register your "+inv.Platform.DeviceNoun())
	if err != nil {
		return err
	}
	settings, err := h.svc.Settings(r.Context())
	if err != nil {
		return err
	}
	p := startedPage{Layout: l, Started: s, Device: inv.Platform.DeviceNoun(), Steps: settings.Instructions(inv.Platform)}
	if inv.Kind == portico.InviteWithPIN {
		if p.Derived, err = h.derivedButton(r, inv); err != nil {
			return err
		}
	}
	if inv.Kind == portico.InviteByQR {
		svg, err := qrcode.SVG(s.Link)
		if err != nil {
			return err
		}
		png, err := qrcode.PNG(s.Link, 600)
		if err != nil {
			return err
		}
		p.QR = template.HTML(svg)
		p.PNG = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	}
	return h.ui.Render(w, http.StatusOK, "started", p)
}

func joinAnd(items []string) string {
	switch len(items) {
	case 0:
		return "you"
	case 1:
		return items[0]
	}
	out := items[0]
	for _, it := range items[1 : len(items)-1] {
		out += ", " + it
	}
	return out + " and " + items[len(items)-1]
}

type goPage struct {
	ui.Layout
	Token, Username, Error string
	Platforms              []portico.Platform
	Platform               portico.Platform
	// NeedCode shows the field for the code of the user's second factor,
	// once the password turned out to need one.
	NeedCode bool
}

// goPage is where a device completes its registration (SPEC REG-4): the
// person signs in on the device with their password or PIN. The token of
// the link travels in a hidden field, never in a log: the access log keeps
// paths, not queries.
func (h *handler) goPage(w http.ResponseWriter, r *http.Request) error {
	p := goPage{Layout: h.ui.Layout(r, "Register this device", "portal"), Token: r.URL.Query().Get("t"), Platforms: portico.Platforms}
	p.Platform, _ = portico.PlatformFromUserAgent(r.UserAgent())
	return h.ui.Render(w, http.StatusOK, "go", p)
}

type stepsPage struct {
	ui.Layout
	*service.Steps
	Device string
}

func (h *handler) goSignIn(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	platform := portico.Platform(f.Get("platform"))
	steps, err := h.svc.OpenRegistration(r.Context(), f.Get("username"), f.Get("password"), f.Get("pin"), f.Get("code"), f.Get("t"), platform)
	if portico.ErrorCode(err) == portico.EINTERNAL {
		return err
	} else if err != nil {
		return h.ui.Render(w, web.Status(err), "go", goPage{
			Layout: h.ui.Layout(r, "Register this device", "portal"), Token: f.Get("t"), Username: f.Get("username"),
			Error: portico.ErrorMessage(err), Platforms: portico.Platforms, Platform: platform,
			NeedCode: errors.Is(err, service.ErrCodeNeeded) || f.Get("code") != "",
		})
	}
	if steps.Profile != nil {
		// The answer to the form is the profile itself: the device offers
		// to install it, and a client that posts the form gets it.
		return web.WriteAppleProfile(w, steps.Profile, "enroll.mobileconfig")
	}
	if steps.AgentURL != "" {
		// Not a redirect: browsers hold a form's redirect to the
		// Content-Security-Policy's form-action, which names only this site.
		w.Header().Set("Refresh", "3; url="+steps.AgentURL)
	}
	return h.ui.Render(w, http.StatusOK, "steps", stepsPage{
		Layout: h.ui.Layout(r, "Register your "+steps.Platform.DeviceNoun(), "portal"), Steps: steps, Device: steps.Platform.DeviceNoun(),
	})
}

// enrollmentProfile downloads the enrollment profile of the user's pending
// iPhone, iPad or Mac, to install on it.
func (h *handler) enrollmentProfile(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "device")
	if err != nil {
		return err
	}
	profile, err := h.svc.MyEnrollmentProfile(r.Context(), id)
	if err != nil {
		return err
	}
	return web.WriteAppleProfile(w, profile, "enroll.mobileconfig")
}
