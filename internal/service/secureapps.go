package service

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/store"
)

// OneTimePIN is a one-time PIN for recovering a secure apps passcode, just
// made: the portal shows it once (SPEC SECPIN-2).
type OneTimePIN struct {
	PIN       string
	ExpiresAt time.Time
	// Owner is whose PIN it is: the device's user, whoever made it.
	Owner  *portico.User
	Device *portico.Device
}

// mayResetSecureAppsPasscode says why a one-time PIN may not be made from
// the device, or nil when it may: the three conditions of SPEC SECPIN-1,
// on an active iPhone or Android device. The device card offers the action
// exactly when this is nil.
func mayResetSecureAppsPasscode(a portico.Actor, d *portico.Device, v portico.SettingValues) error {
	switch {
	case d.Status != portico.StatusActive:
		return portico.Errorf(portico.ECONFLICT, "This device is %s: it takes no actions.", strings.ToLower(d.Status.Label()))
	case d.Platform != portico.PlatformIOS && d.Platform != portico.PlatformAndroid:
		return portico.Errorf(portico.EFORBIDDEN, "The secure apps run on iPhones and Android devices only, not on this %s.", d.Platform.DeviceNoun())
	case !a.IsAdmin() && (a.User == nil || !a.User.HasRole(portico.RoleResetSecureAppsPasscode)):
		return portico.Errorf(portico.EFORBIDDEN, "Your account may not reset secure apps passcodes. Ask the helpdesk if you need to.")
	case !v.SecureAppsLicensed():
		return portico.Errorf(portico.EFORBIDDEN, "Your company has no licence for secure apps, docs or web, so there is no secure apps passcode to reset.")
	case !v.SecureAppsPasscodeRecoverable(d.Platform):
		return portico.Errorf(portico.EFORBIDDEN, "Your company's secure apps policy for %s devices does not let users recover a forgotten passcode.", d.Platform.OSName())
	}
	return nil
}

// SecureAppsPasscodeDevice returns the device when a one-time PIN may be
// made from it, for the page that explains it, and otherwise says why not.
func (s *Service) SecureAppsPasscodeDevice(ctx context.Context, deviceID int64) (*portico.Device, error) {
	d, err := s.Device(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, err
	}
	return d, mayResetSecureAppsPasscode(portico.ActorFromContext(ctx), d, v)
}

// ResetSecureAppsPasscode makes a new one-time PIN for the user of the
// device, with which the secure apps on any of the user's devices that
// registered with a registration PIN recover a forgotten passcode (SPEC
// SECPIN-1, SECPIN-2). It replaces the user's PIN before, used or not;
// only its hash is kept.
func (s *Service) ResetSecureAppsPasscode(ctx context.Context, deviceID int64) (*OneTimePIN, error) {
	action := portico.AuditEntry{Action: "secure_apps.pin", DeviceID: deviceID}
	d, err := s.Device(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, err
	}
	if err := mayResetSecureAppsPasscode(portico.ActorFromContext(ctx), d, v); err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	owner, err := s.store.UserByID(ctx, d.UserID)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	otp := &OneTimePIN{PIN: secret.NewPIN(), ExpiresAt: now.Add(portico.SecureAppsPINLifetime), Owner: owner, Device: d}
	p := &portico.SecureAppsPIN{UserID: owner.ID, CreatedAt: now, ExpiresAt: otp.ExpiresAt}
	err = s.store.InTx(ctx, func(st store.Store) error {
		if err := st.PutSecureAppsPIN(ctx, p, s.passwords.HashPassword(otp.PIN)); err != nil {
			return err
		}
		action.Target, action.Detail = owner.Username, d.Title()
		return s.audit(ctx, st, action)
	})
	if err != nil {
		return nil, err
	}
	return otp, nil
}

// registeredWith is the secret a registration was completed with: the PIN
// of its invitation when it had one, else the user's password.
func registeredWith(inv *portico.Invitation) portico.RegisteredWith {
	if inv != nil && inv.HasPIN {
		return portico.RegisteredWithPIN
	}
	return portico.RegisteredWithPassword
}

var errWrongOneTimePIN = portico.Errorf(portico.EUNAUTHENTICATED,
	"The one-time PIN is wrong. Only the newest PIN made in the portal works; check it, or make a new one.")

// RecoverSecureAppsPasscode lets the secure apps on the device in ctx
// recover a forgotten passcode once its user proved who they are (SPEC
// SECPIN-3): with the password when the device registered with it, with
// the user's one-time PIN when it registered with a registration PIN. The
// device's user name is required too. A PIN that works is used up. Every
// attempt is audited, and wrong secrets are throttled like sign-ins.
func (s *Service) RecoverSecureAppsPasscode(ctx context.Context, username, password, pin string) error {
	d, err := signedInDevice(ctx)
	if err != nil {
		return err
	}
	action := portico.AuditEntry{Action: "secure_apps.recover", DeviceID: d.ID, Target: username}
	if err := s.recoverPasscode(ctx, d, action, username, password, pin); err != nil {
		s.auditRefusal(ctx, action, err)
		if portico.ErrorCode(err) == portico.EUNAUTHENTICATED {
			// The device is signed in; its user's secret is what was wrong.
			// An agent takes "unauthenticated" to mean its token stopped
			// working, which would make it register again.
			return portico.Errorf(portico.EFORBIDDEN, "%s", portico.ErrorMessage(err))
		}
		return err
	}
	return nil
}

func (s *Service) recoverPasscode(ctx context.Context, d *portico.Device, action portico.AuditEntry, username, password, pin string) error {
	pin = strings.Join(strings.Fields(pin), "")
	switch {
	case password == "" && pin == "":
		return portico.Errorf(portico.EINVALID, "Give your password or your one-time PIN.")
	case password != "" && pin != "":
		return portico.Errorf(portico.EINVALID, "Give your password or your one-time PIN, not both.")
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return err
	}
	// The portal role is for making PINs in the portal; what the device
	// may do is the company's licence and policy.
	if !v.SecureAppsPasscodeRecoverable(d.Platform) {
		return portico.Errorf(portico.EFORBIDDEN, "Your company's policy does not let you recover a forgotten secure apps passcode on this device. Contact the helpdesk.")
	}
	owner, err := s.store.UserByID(ctx, d.UserID)
	if err != nil {
		return err
	}
	if !strings.EqualFold(strings.TrimSpace(username), owner.Username) {
		return portico.Errorf(portico.EFORBIDDEN, "This device is registered to another user. Give the user name of its owner.")
	}
	with, err := s.store.RegisteredWith(ctx, d.ID)
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		with = portico.RegisteredWithPassword // registered before this was recorded
	} else if err != nil {
		return err
	}
	switch {
	case with == portico.RegisteredWithPIN && password != "":
		return portico.Errorf(portico.EINVALID, "This device was registered with a registration PIN: give a one-time PIN, made in the portal with Reset secure apps passcode, not your password.")
	case with == portico.RegisteredWithPassword && pin != "":
		return portico.Errorf(portico.EINVALID, "This device was registered with your password: give your password, not a PIN.")
	}
	action.Target = owner.Username
	if password != "" {
		u, err := s.checkPassword(ctx, owner.Username, password)
		if err != nil {
			return err
		}
		if err := ownPassword(u, "reset your secure apps passcode"); err != nil {
			return err
		}
		action.Detail = "password"
		return s.audit(ctx, s.store, action)
	}
	limit := v.Int("login.max_failures")
	a, err := s.beginAttempt(ctx, v.Duration("login.lockout"),
		attemptLimit{fmt.Sprintf("otp-user:%d", owner.ID), limit},
		attemptLimit{"otp-addr:" + portico.ActorFromContext(ctx).Source, limit * addressFailureFactor})
	if err != nil {
		return err
	}
	if err := s.useOneTimePIN(ctx, owner, pin, action); err != nil {
		return a.failed(ctx, err)
	}
	return a.succeeded(ctx)
}

// useOneTimePIN checks the user's one-time PIN and uses it up, with the
// audit entry of the recovery. The try is counted before the PIN is
// checked, and the PIN is used by a write conditional on it being unused,
// so that however many tries arrive at once, one at most succeeds.
func (s *Service) useOneTimePIN(ctx context.Context, u *portico.User, pin string, action portico.AuditEntry) error {
	p, hash, err := s.store.SecureAppsPIN(ctx, u.ID)
	if portico.ErrorCode(err) == portico.ENOTFOUND || (err == nil && u.Disabled) {
		secret.CheckPassword(s.dummyHash, pin) // as slow as a real check
		return errWrongOneTimePIN
	} else if err != nil {
		return err
	}
	if taken, err := s.store.TakeSecureAppsPINAttempt(ctx, u.ID, hash, portico.MaxPINAttempts); err != nil {
		return err
	} else if !taken {
		return portico.Errorf(portico.EUNAUTHENTICATED, "This one-time PIN stopped working after %d tries. Make a new one in the portal.", portico.MaxPINAttempts)
	}
	if ok, err := secret.CheckPassword(hash, pin); err != nil {
		return err
	} else if !ok {
		return errWrongOneTimePIN
	}
	errUsed := portico.Errorf(portico.EUNAUTHENTICATED, "This one-time PIN was already used. Make a new one in the portal.")
	now := s.clock.Now()
	switch {
	case !p.UsedAt.IsZero():
		return errUsed
	case !now.Before(p.ExpiresAt):
		return portico.Errorf(portico.EUNAUTHENTICATED, "This one-time PIN has expired: a PIN works for %.0f hours. Make a new one in the portal.", portico.SecureAppsPINLifetime.Hours())
	}
	return s.store.InTx(ctx, func(st store.Store) error {
		if err := st.UseSecureAppsPIN(ctx, u.ID, hash, now); portico.ErrorCode(err) == portico.ECONFLICT {
			return errUsed // another device used it a moment ago
		} else if err != nil {
			return err
		}
		action.Detail = "one-time PIN"
		return s.audit(ctx, st, action)
	})
}
