package deviceapi

import (
	"net/http"

	"github.com/portico-mdm/portico/internal/web"
)

// PasscodeRecoveryRequest is what the agent sends when its user forgot the
// secure apps passcode (SPEC SECPIN-3): the user name and the password, or
// the one-time PIN made in the portal.
type PasscodeRecoveryRequest struct {
	Username string `json:"username"`
	Password string `json:"password,omitempty"`
	PIN      string `json:"pin,omitempty"`
}

// PasscodeRecoveryResponse tells the agent it may let the user set a new
// secure apps passcode.
type PasscodeRecoveryResponse struct {
	Recovered bool `json:"recovered"`
}

func (a *API) recoverPasscode(w http.ResponseWriter, r *http.Request) error {
	var req PasscodeRecoveryRequest
	if err := web.DecodeJSON(w, r, maxBody, &req); err != nil {
		return err
	}
	if err := a.svc.RecoverSecureAppsPasscode(r.Context(), req.Username, req.Password, req.PIN); err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, PasscodeRecoveryResponse{Recovered: true})
}
