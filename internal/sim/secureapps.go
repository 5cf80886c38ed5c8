package sim

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/portico-mdm/portico/internal/deviceapi"
)

// RecoverPasscode asks the server, as the agent does when its user forgot
// the secure apps passcode (SPEC SECPIN-3), to accept the user's password,
// or the one-time PIN made in the portal, so that the user may set a new
// passcode.
func (d *Device) RecoverPasscode(ctx context.Context, password, pin string) error {
	if d.token == "" {
		return errors.New("recovering the secure apps passcode: the device has not registered")
	}
	var res deviceapi.PasscodeRecoveryResponse
	err := d.post(ctx, "/passcode-recovery", http.StatusOK, deviceapi.PasscodeRecoveryRequest{
		Username: d.cfg.Username, Password: password, PIN: pin,
	}, &res)
	if err != nil {
		return fmt.Errorf("recovering the secure apps passcode: %w", err)
	}
	if !res.Recovered {
		return errors.New("recovering the secure apps passcode: the server did not say it was recovered")
	}
	return nil
}
