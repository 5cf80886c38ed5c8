package portal

import (
	"net/http"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/web"
	"github.com/portico-mdm/portico/internal/web/ui"
)

func registerDerived(mux *web.Mux, h *handler, r *ui.Renderer) {
	mux.Handle("POST /registrations/{id}/derived-credential", web.SignedIn, r.HTML(h.requestDerived))
	mux.Handle("GET /"+service.DerivedReturnPath, web.SignedIn, r.HTML(h.returnDerived))
}

// derivedButton is Request derived credential for one registration, as
// the service offers it (SPEC DERIV-1).
type derivedButton struct {
	RegistrationID int64
	service.DerivedOffer
}

// derivedButton asks the service whether the registration offers a
// derived credential.
func (h *handler) derivedButton(r *http.Request, inv *portico.Invitation) (derivedButton, error) {
	offer, err := h.svc.DerivedCredentialOffer(r.Context(), inv)
	return derivedButton{RegistrationID: inv.ID, DerivedOffer: offer}, err
}

type derivedPage struct {
	ui.Layout
	*service.DerivedTrip
	Minutes int
}

// requestDerived sends the browser to the provider. Not with a redirect:
// browsers hold a form's redirect to the Content-Security-Policy's
// form-action, which names only this site; a Refresh and a link are
// navigations of their own.
func (h *handler) requestDerived(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "registration")
	if err != nil {
		return err
	}
	trip, err := h.svc.RequestDerivedCredential(r.Context(), id)
	if err != nil {
		return err
	}
	l, _, err := h.layout(r, "Request derived credential")
	if err != nil {
		return err
	}
	w.Header().Set("Refresh", "0; url="+trip.URL)
	return h.ui.Render(w, http.StatusOK, "derived", derivedPage{Layout: l, DerivedTrip: trip, Minutes: int(service.DerivedStateLifetime.Minutes())})
}

// returnDerived is where the provider sends the browser back. The answer
// is recorded once, then the browser goes home, where the message says
// whether it worked and the button shows the outcome; reloading home does
// not replay the answer.
func (h *handler) returnDerived(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	res, err := h.svc.ReturnDerivedCredential(r.Context(), service.DerivedAnswer{
		State: q.Get("state"), Result: q.Get("result"), Signature: q.Get("signature"),
	})
	if err != nil {
		return err
	}
	msg := res.Provider + " did not issue a derived credential for your " + res.Device + ". You can request one again."
	if res.Succeeded {
		msg = res.Provider + " issued your derived credential for your " + res.Device + ". Register the " + res.Device + " now, then activate the credential on it."
	}
	h.sessions.Flash(r.Context(), msg)
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}
