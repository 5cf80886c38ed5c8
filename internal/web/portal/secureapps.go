package portal

import (
	"net/http"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/web"
	"github.com/portico-mdm/portico/internal/web/ui"
)

// registerSecureApps adds the two steps of resetting a secure apps
// passcode (SPEC SECPIN-1, SECPIN-2): a page that explains it, and the
// answer to its button, which shows the one-time PIN once.
func registerSecureApps(mux *web.Mux, h *handler, r *ui.Renderer) {
	mux.Handle("GET /devices/{id}/secure-apps-passcode", web.SignedIn, r.HTML(h.secureAppsPasscodePage))
	mux.Handle("POST /devices/{id}/secure-apps-passcode", web.SignedIn, r.HTML(h.resetSecureAppsPasscode))
}

type secureAppsPage struct {
	ui.Layout
	Device *portico.Device
	// PIN is set on the answer to the button only.
	PIN *service.OneTimePIN
}

func (h *handler) secureAppsPasscodePage(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "device")
	if err != nil {
		return err
	}
	d, err := h.svc.SecureAppsPasscodeDevice(r.Context(), id)
	if err != nil {
		return err
	}
	l, _, err := h.layout(r, "Reset the secure apps passcode")
	if err != nil {
		return err
	}
	return h.ui.Render(w, http.StatusOK, "passcode", secureAppsPage{Layout: l, Device: d})
}

// resetSecureAppsPasscode answers with the PIN itself rather than a
// redirect: only its hash is kept, so this answer is the one time it can be
// shown, and a reload asks before making another.
func (h *handler) resetSecureAppsPasscode(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "device")
	if err != nil {
		return err
	}
	otp, err := h.svc.ResetSecureAppsPasscode(r.Context(), id)
	if err != nil {
		return err
	}
	l, _, err := h.layout(r, "Your one-time PIN")
	if err != nil {
		return err
	}
	return h.ui.Render(w, http.StatusOK, "passcode_pin", secureAppsPage{Layout: l, Device: otp.Device, PIN: otp})
}
