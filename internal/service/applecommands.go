package service

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/applemdm"
	"github.com/portico-mdm/portico/internal/store"
)

// queueAppleCommand is where every command for an Apple device is queued:
// the device then needs a push to poll for it, queued in the same
// transaction. A held command (a wipe in its grace period) is pushed when
// it is released.
func (s *Service) queueAppleCommand(ctx context.Context, st store.Store, d *portico.Device, cmd *portico.Command) error {
	if err := st.QueueCommand(ctx, cmd); err != nil {
		return err
	}
	if cmd.Status != portico.CommandQueued {
		return nil
	}
	e, err := st.AppleEnrollment(ctx, d.ID)
	if err != nil {
		return err
	}
	return s.pushApple(ctx, st, e)
}

// pushApple queues the push that wakes an enrolled Apple device. A device
// without a push token (none sent yet, or Apple refused it) is not pushed:
// it polls after its next TokenUpdate.
func (s *Service) pushApple(ctx context.Context, st store.Store, e *portico.AppleEnrollment) error {
	if len(e.PushToken) == 0 {
		return nil
	}
	return s.queuePush(ctx, st, portico.Push{DeviceID: e.DeviceID, Token: e.PushToken, PushMagic: e.PushMagic, Topic: e.Topic})
}

// AppleConnect handles a request on the command channel from the device
// whose identity is cert: it records the result of the command the
// device answers, if any, and returns the next command for it, or nil
// when there is none (the device gets an empty body).
func (s *Service) AppleConnect(ctx context.Context, cert *x509.Certificate, r *applemdm.Result) ([]byte, error) {
	d, e, err := s.enrolledDevice(ctx, cert, r.UDID)
	if err != nil {
		return nil, err
	}
	ctx = portico.NewContextWithActor(ctx, portico.Actor{Device: d, Source: portico.ActorFromContext(ctx).Source})
	s.seen.add(d.ID, s.clock.Now())
	if r.Status == applemdm.Idle {
		// Idle says the device has no result to give: a command sent and
		// not answered was lost on the way, or answered NotNow, and goes
		// again, first.
		if _, err := s.store.RequeueSentAppleCommands(ctx, d.ID); err != nil {
			return nil, err
		}
		if err := s.renewAppleIdentity(ctx, d, e); err != nil {
			return nil, err
		}
	} else {
		if err := s.appleResult(ctx, d, e, r); err != nil {
			return nil, err
		}
		if e, err = s.store.AppleEnrollment(ctx, d.ID); err != nil {
			return nil, err
		}
		if d, err = s.store.DeviceByID(ctx, d.ID); err != nil || d.Status != portico.StatusActive {
			return nil, err
		}
	}
	return s.nextAppleCommand(ctx, d, e)
}

// renewAppleIdentity queues, once, the renewal of a device identity that
// ends within appleRenewalWindow (or has ended): the enrollment profile
// again, whose SCEP payload gets the device a new identity.
func (s *Service) renewAppleIdentity(ctx context.Context, d *portico.Device, e *portico.AppleEnrollment) error {
	bound, err := s.store.AppleCertificate(ctx, e.Fingerprint)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	if bound.NotAfter.Sub(now) > appleRenewalWindow {
		return nil
	}
	cmds, err := s.store.ListCommands(ctx, d.ID)
	if err != nil {
		return err
	}
	for _, c := range cmds {
		if c.Kind == portico.CommandRenewIdentity && (!c.Status.Final() || now.Sub(c.CreatedAt) < appleRenewalRetry) {
			return nil
		}
	}
	detail := "ends " + bound.NotAfter.UTC().Format("2006-01-02")
	if !now.Before(bound.NotAfter) {
		detail = "ended " + bound.NotAfter.UTC().Format("2006-01-02")
	}
	ctx = portico.NewContextWithActor(ctx, portico.Actor{System: true, Source: portico.ActorFromContext(ctx).Source})
	return s.store.InTx(ctx, func(st store.Store) error {
		// Queued, not pushed: the device is asking for work right now.
		cmd := &portico.Command{DeviceID: d.ID, Kind: portico.CommandRenewIdentity, Status: portico.CommandQueued, CreatedBy: "system", CreatedAt: now}
		if err := st.QueueCommand(ctx, cmd); err != nil {
			return err
		}
		return s.audit(ctx, st, portico.AuditEntry{Action: "apple.renew", DeviceID: d.ID, Target: fmt.Sprint(cmd.ID),
			Detail: "identity " + bound.Serial + " " + detail})
	})
}

// appleResult records a command's result. After NotNow the command stays
// sent, so that the device gets the commands behind it now and this one
// again at its next Idle.
func (s *Service) appleResult(ctx context.Context, d *portico.Device, e *portico.AppleEnrollment, r *applemdm.Result) error {
	c, err := s.store.AppleCommand(ctx, d.ID, r.CommandUUID)
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		// A repeated status of a command already recorded, or of one this
		// server did not send: nothing to record.
		return nil
	} else if err != nil {
		return err
	}
	if c.Status != portico.CommandSent {
		return nil
	}
	switch r.Status {
	case applemdm.NotNow:
		return nil
	case applemdm.Error, applemdm.CommandFormatError:
		return s.finishAppleCommand(ctx, d, c, portico.CommandResult{Status: portico.CommandFailed, Message: truncate(r.ErrorMessage(), 1000)})
	}
	return s.appleAcknowledged(ctx, d, e, c, r)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// appleAcknowledged moves a command on after the device did its current
// step: to its next step, or to done with what the device answered.
func (s *Service) appleAcknowledged(ctx context.Context, d *portico.Device, e *portico.AppleEnrollment, c *portico.Command, r *applemdm.Result) error {
	now := s.clock.Now()
	done := portico.CommandResult{Status: portico.CommandDone}
	switch {
	case c.Kind == portico.CommandCheckin && c.AppleStep == 0:
		q := r.QueryResponses
		if q == nil {
			return s.finishAppleCommand(ctx, d, c, portico.CommandResult{Status: portico.CommandFailed, Message: "The device sent no device information."})
		}
		if q.UDID != "" && q.UDID != e.UDID {
			return s.finishAppleCommand(ctx, d, c, portico.CommandResult{Status: portico.CommandFailed,
				Message: "The device reported another UDID than the one it enrolled with: its details were not kept."})
		}
		imei, phone, carrier := q.Cellular()
		details := appleDetails(q.DeviceName, q.ProductName, q.ModelName, q.OSVersion, q.SerialNumber, imei, phone, carrier)
		return s.store.InTx(ctx, func(st store.Store) error {
			if err := st.UpdateDeviceDetails(ctx, d.ID, details, now); err != nil {
				return err
			}
			if err := st.SetAppleState(ctx, d.ID, q.IsSupervised, q.IsMDMLostModeEnabled, now); err != nil {
				return err
			}
			return st.RequeueAppleCommand(ctx, c.ID, 1)
		})
	case c.Kind == portico.CommandCheckin:
		if r.SecurityInfo != nil {
			done.Data, _ = json.Marshal(securitySummary(r.SecurityInfo))
		}
	case c.Kind == portico.CommandLocate && c.AppleStep == 0:
		return s.store.InTx(ctx, func(st store.Store) error {
			if err := st.SetAppleState(ctx, d.ID, e.Supervised, true, now); err != nil {
				return err
			}
			return st.RequeueAppleCommand(ctx, c.ID, 1)
		})
	case c.Kind == portico.CommandLocate:
		lat, lon, acc, at, ok := r.Location()
		l := portico.Location{Latitude: lat, Longitude: lon, Accuracy: acc, At: at}
		if !ok || l.Validate() != nil {
			done = portico.CommandResult{Status: portico.CommandFailed, Message: "The device sent no location it could be at."}
			break
		}
		done.Data, _ = json.Marshal(l)
	case c.Kind == portico.CommandEndLostMode:
		if err := s.store.SetAppleState(ctx, d.ID, e.Supervised, false, now); err != nil {
			return err
		}
	case c.Kind == portico.CommandLock:
		done.Message = lockResult(r.MessageResult)
	}
	return s.finishAppleCommand(ctx, d, c, done)
}

// securitySummary is what the portal keeps of a SecurityInfo answer.
func securitySummary(si *applemdm.SecurityInfo) map[string]bool {
	return map[string]bool{
		"passcode_present":   si.PasscodePresent,
		"passcode_compliant": si.PasscodeCompliant,
		"disk_encrypted":     si.FDEEnabled || si.HardwareEncryptionCaps&1 != 0,
		"firewall":           si.FirewallSettings.FirewallEnabled,
		"system_integrity":   si.SystemIntegrityProtectionEnabled,
	}
}

func lockResult(r string) string {
	switch r {
	case "", "Success":
		return ""
	case "NoPasscodeSet":
		return "The screen is locked, but the device has no passcode: anyone can unlock it."
	case "DeviceInLostMode":
		return "The device is in Lost Mode, which keeps it locked."
	}
	return "The device answered: " + truncate(r, 100)
}

// finishAppleCommand records the end of a command, what it means for the
// device (a wipe or retirement ends it), and its audit entry.
func (s *Service) finishAppleCommand(ctx context.Context, d *portico.Device, c *portico.Command, r portico.CommandResult) error {
	return s.store.InTx(ctx, func(st store.Store) error {
		c, err := st.FinishCommand(ctx, d.ID, c.ID, r, s.clock.Now())
		if err != nil {
			return err
		}
		if err := finishEffects(ctx, st, c); err != nil && portico.ErrorCode(err) != portico.ECONFLICT {
			return err
		}
		result := portico.ResultOK
		if r.Status == portico.CommandFailed {
			result = portico.ResultFailed
		}
		return s.audit(ctx, st, portico.AuditEntry{Action: "command." + string(c.Kind), DeviceID: d.ID,
			Target: fmt.Sprint(c.ID), Result: result, Detail: r.Message})
	})
}

// nextAppleCommand sends the device its oldest queued command. One that
// cannot go to this device fails with the reason, and the next is tried.
func (s *Service) nextAppleCommand(ctx context.Context, d *portico.Device, e *portico.AppleEnrollment) ([]byte, error) {
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, err
	}
	for {
		uuid := applemdm.NewUUID()
		c, err := s.store.SendAppleCommand(ctx, d.ID, uuid, s.clock.Now())
		if portico.ErrorCode(err) == portico.ENOTFOUND {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		cmd, err := s.appleCommand(ctx, d, e, c, v)
		if err != nil {
			if err := s.finishAppleCommand(ctx, d, c, portico.CommandResult{Status: portico.CommandFailed, Message: portico.ErrorMessage(err)}); err != nil {
				return nil, err
			}
			continue
		}
		return cmd.Encode(uuid)
	}
}

// applePIN is the payload of a Mac's lock or wipe: the six-digit PIN it
// locks or erases with, sealed to the command, so that neither the store
// nor a list of commands shows it.
type applePIN struct {
	Sealed []byte `json:"sealed_pin"`
}

func pinContext(commandID int64) []byte { return fmt.Appendf(nil, "apple-pin:%d", commandID) }

// sealApplePIN keeps the PIN of a queued command, sealed with its ID.
func (s *Service) sealApplePIN(ctx context.Context, st store.Store, cmd *portico.Command, pin string) error {
	cmd.Payload, _ = json.Marshal(applePIN{Sealed: s.sealer.Seal([]byte(pin), pinContext(cmd.ID))})
	return st.SetCommandPayload(ctx, cmd.ID, cmd.Payload)
}

// openApplePIN returns the PIN sealApplePIN kept, or "" when there is none
// that opens.
func (s *Service) openApplePIN(c *portico.Command) string {
	var p applePIN
	if s.sealer == nil || json.Unmarshal(c.Payload, &p) != nil || len(p.Sealed) == 0 {
		return ""
	}
	pin, err := s.sealer.Open(p.Sealed, pinContext(c.ID))
	if err != nil {
		return ""
	}
	return string(pin)
}

// appleCommand is the MDM command for the current step of a portal
// command (SPEC ACT-1..ACT-6).
func (s *Service) appleCommand(ctx context.Context, d *portico.Device, e *portico.AppleEnrollment, c *portico.Command, v portico.SettingValues) (applemdm.Command, error) {
	mac := d.Platform == portico.PlatformMacOS
	withPIN := func(requestType string) (applemdm.Command, error) {
		cmd := applemdm.Command{RequestType: requestType, Keys: map[string]any{}}
		if mac {
			pin := s.openApplePIN(c)
			if len(pin) != 6 {
				return cmd, portico.Errorf(portico.EINVALID, "A Mac needs a six-digit PIN for this, and the action has none.")
			}
			cmd.Keys["PIN"] = pin
		}
		return cmd, nil
	}
	switch c.Kind {
	case portico.CommandLock:
		return withPIN(applemdm.RequestDeviceLock)
	case portico.CommandWipe:
		return withPIN(applemdm.RequestEraseDevice)
	case portico.CommandUnlock:
		if mac {
			return applemdm.Command{}, portico.Errorf(portico.EINVALID, "A Mac's passcode cannot be cleared remotely.")
		}
		if len(e.UnlockToken) == 0 || s.sealer == nil {
			return applemdm.Command{}, portico.Errorf(portico.EINVALID, "This device gave no unlock token (it is not supervised, or is a shared iPad), so its passcode cannot be cleared.")
		}
		token, err := s.sealer.Open(e.UnlockToken, unlockContext(d.ID))
		if err != nil {
			return applemdm.Command{}, portico.Errorf(portico.EINVALID, "This device's unlock token cannot be read with the server's key.")
		}
		return applemdm.Command{RequestType: applemdm.RequestClearPasscode, Keys: map[string]any{"UnlockToken": token}}, nil
	case portico.CommandRetire:
		return applemdm.Command{RequestType: applemdm.RequestRemoveProfile, Keys: map[string]any{"Identifier": applemdm.EnrollmentIdentifier}}, nil
	case portico.CommandCheckin:
		if c.AppleStep == 0 {
			return applemdm.Command{RequestType: applemdm.RequestDeviceInformation, Keys: map[string]any{"Queries": applemdm.DeviceQueries}}, nil
		}
		return applemdm.Command{RequestType: applemdm.RequestSecurityInfo}, nil
	case portico.CommandLocate:
		if !e.Supervised || mac {
			return applemdm.Command{}, errNoAppleLocation
		}
		if c.AppleStep == 0 {
			h := v.Helpdesk()
			keys := map[string]any{"Message": "This device was reported lost. Please contact " + h.Name + "."}
			if h.Phone != "" {
				keys["PhoneNumber"] = h.Phone
			}
			return applemdm.Command{RequestType: applemdm.RequestEnableLostMode, Keys: keys}, nil
		}
		return applemdm.Command{RequestType: applemdm.RequestDeviceLocation}, nil
	case portico.CommandEndLostMode:
		return applemdm.Command{RequestType: applemdm.RequestDisableLostMode}, nil
	case portico.CommandRenewIdentity:
		profile, err := s.renewalProfile(ctx, d)
		if err != nil {
			return applemdm.Command{}, err
		}
		return applemdm.Command{RequestType: applemdm.RequestInstallProfile, Keys: map[string]any{"Payload": profile}}, nil
	case portico.CommandConfigure:
		profile, err := s.mailProfile(ctx, d.UserID)
		if err != nil {
			return applemdm.Command{}, err
		}
		return applemdm.Command{RequestType: applemdm.RequestInstallProfile, Keys: map[string]any{"Payload": profile}}, nil
	}
	return applemdm.Command{}, portico.Errorf(portico.EINVALID, "%s is not available on Apple devices yet.", c.Kind.Label())
}

var errNoAppleLocation = portico.Errorf(portico.EFORBIDDEN, "Location is not available for this device: only supervised iPhones and iPads can be located.")

// mailProfile is the user's email account configuration as the profile
// InstallProfile carries, with the identities as they are now.
func (s *Service) mailProfile(ctx context.Context, userID int64) ([]byte, error) {
	conf, err := s.emailConfiguration(ctx, userID)
	if err != nil {
		return nil, err
	}
	if conf.Server == "" {
		return nil, portico.Errorf(portico.EINVALID, "The email account configuration has no mail server.")
	}
	m := applemdm.MailAccount{Server: conf.Server, Username: conf.Username, Email: conf.Email,
		SMIMESigning: conf.SMIMESigning, SMIMEEncryption: conf.SMIMEEncryption}
	for _, id := range conf.Identities {
		file, err := base64.StdEncoding.DecodeString(id.PKCS12)
		if err != nil {
			return nil, err
		}
		p := &applemdm.PKCS12{File: file, Password: id.Password}
		switch id.Purpose {
		case portico.CertificateSigning:
			m.Signing = p
		case portico.CertificateEncryption:
			m.Encryption = p
		}
	}
	return m.Profile()
}
