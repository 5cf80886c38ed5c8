package service

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/store"
)

// DeviceActions are what the portal offers on one device: the actions the
// user's roles allow (an admin may do all), and what the privacy policy
// lets the company see (SPEC ROLE, ACT-3, OWN-1).
type DeviceActions struct {
	Kinds           []portico.CommandKind
	ChangeOwnership bool
	// MayLocate says whether the device's location may be asked for and
	// shown, by its ownership.
	MayLocate bool
	// ResetSecureAppsPasscode says whether a one-time PIN for recovering
	// the secure apps passcode may be made from this device (SPEC SECPIN-1).
	ResetSecureAppsPasscode bool
	// LocateUnavailable, when set, says why the device cannot be located
	// although the privacy policy would allow it (an Apple device that is
	// not supervised).
	LocateUnavailable string
	// LostMode says that locating the device puts it in Lost Mode (an
	// iPhone or iPad managed through Apple MDM), which the portal warns
	// of before it asks.
	LostMode bool
}

// Allows reports whether the action is offered.
func (a DeviceActions) Allows(k portico.CommandKind) bool {
	for _, have := range a.Kinds {
		if have == k {
			return true
		}
	}
	return false
}

// Actions returns what the actor may do with the device.
func (s *Service) Actions(ctx context.Context, d *portico.Device) (DeviceActions, error) {
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return DeviceActions{}, err
	}
	e, err := s.appleEnrollment(ctx, d)
	if err != nil {
		return DeviceActions{}, err
	}
	return actionsFor(portico.ActorFromContext(ctx), d, v, e), nil
}

// actionsFor decides what the actor may do with d; e is d's Apple
// enrollment, nil when d is not managed through Apple MDM, whose commands
// decide what such a device can do.
func actionsFor(a portico.Actor, d *portico.Device, v portico.SettingValues, e *portico.AppleEnrollment) DeviceActions {
	out := DeviceActions{MayLocate: v.MayLocate(d.Ownership)}
	if e != nil && (!e.Supervised || d.Platform == portico.PlatformMacOS) {
		out.LocateUnavailable = portico.ErrorMessage(errNoAppleLocation)
	}
	out.LostMode = e != nil && out.LocateUnavailable == ""
	if d.Status != portico.StatusActive || (a.User == nil && !a.IsAdmin()) {
		return out
	}
	may := func(r portico.Role) bool { return a.IsAdmin() || a.User.HasRole(r) }
	for _, k := range portico.Kinds {
		switch {
		case !may(k.Role()):
		case k == portico.CommandLocate && (!out.MayLocate || out.LocateUnavailable != ""):
		case k == portico.CommandUnlock && e != nil && d.Platform == portico.PlatformMacOS:
			// ClearPasscode is for iPhones and iPads only.
		default:
			out.Kinds = append(out.Kinds, k)
		}
	}
	if e != nil && e.LostMode && may(portico.RoleLocate) {
		out.Kinds = append(out.Kinds, portico.CommandEndLostMode)
	}
	out.ChangeOwnership = a.IsAdmin() || (may(portico.RoleChangeOwnership) && v.Bool("registration.user_may_change_ownership"))
	out.ResetSecureAppsPasscode = mayResetSecureAppsPasscode(a, d, v) == nil
	return out
}

// Act asks a device to do something (SPEC ACT-1..ACT-6). The command and
// its audit entry are written together before the answer, so an action
// acknowledged to the user is never lost; a refusal leaves no command. A
// wipe needs the device's name typed as confirm and waits out the grace
// period, held, before it goes; a retirement needs confirm "retire".
func (s *Service) Act(ctx context.Context, deviceID int64, kind portico.CommandKind, confirm string) (*portico.Command, error) {
	action := portico.AuditEntry{Action: "device." + string(kind), DeviceID: deviceID}
	d, err := s.Device(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	if kind, err = portico.ParseCommandKind(string(kind)); err != nil {
		return nil, err
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.appleEnrollment(ctx, d)
	if err != nil {
		return nil, err
	}
	if err := s.mayAct(ctx, d, kind, confirm, v, e); err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	if open, err := s.store.OpenCommand(ctx, d.ID, kind); err == nil {
		return nil, portico.Errorf(portico.ECONFLICT, "A %s of this device is already under way (%s). Wait for it to finish, or cancel it.",
			strings.ToLower(kind.Label()), strings.ToLower(open.Status.Label()))
	} else if portico.ErrorCode(err) != portico.ENOTFOUND {
		return nil, err
	}
	now := s.clock.Now()
	cmd := &portico.Command{
		DeviceID: d.ID, Kind: kind, Status: portico.CommandQueued,
		CreatedBy: portico.ActorFromContext(ctx).Name(), CreatedAt: now,
	}
	if grace := v.Duration("actions.wipe_grace"); kind == portico.CommandWipe && grace > 0 {
		cmd.Status, cmd.ReleaseAt = portico.CommandHeld, now.Add(grace)
	}
	var pin string
	if e != nil && d.Platform == portico.PlatformMacOS && (kind == portico.CommandLock || kind == portico.CommandWipe) {
		// A Mac locks or erases only with a PIN, which its user types to
		// get in again; the action's answer shows it once, and the store
		// keeps it sealed for the MDM command.
		if s.sealer == nil {
			return nil, portico.Errorf(portico.EINTERNAL, "This server has no key to keep a Mac's PIN with.")
		}
		pin = secret.NewDigits(6)
	}
	err = s.store.InTx(ctx, func(st store.Store) error {
		queue := st.QueueCommand
		if e != nil {
			queue = func(ctx context.Context, cmd *portico.Command) error { return s.queueAppleCommand(ctx, st, d, cmd) }
		}
		if err := queue(ctx, cmd); err != nil {
			return err
		}
		if pin != "" {
			if err := s.sealApplePIN(ctx, st, cmd, pin); err != nil {
				return err
			}
		}
		if err := s.noticeOwner(ctx, st, d, cmd, v); err != nil {
			return err
		}
		action.Target, action.Detail = fmt.Sprint(cmd.ID), d.Title()
		return s.audit(ctx, st, action)
	})
	if err != nil {
		return nil, err
	}
	if cmd.Status == portico.CommandQueued && e == nil {
		// An Apple device's push was queued with the command.
		s.wakeDevice(ctx, d.ID)
	}
	cmd.PIN = pin
	return cmd, nil
}

// MayAct says why the actor may not ask d for the action, as Act would
// refuse it before any confirmation: nil when the action may be asked for.
// The confirmation pages give this reason rather than a bare refusal.
func (s *Service) MayAct(ctx context.Context, d *portico.Device, kind portico.CommandKind) error {
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return err
	}
	e, err := s.appleEnrollment(ctx, d)
	if err != nil {
		return err
	}
	return s.mayActUnconfirmed(ctx, d, kind, v, e)
}

// mayAct checks the rules of one action on one device.
func (s *Service) mayAct(ctx context.Context, d *portico.Device, kind portico.CommandKind, confirm string, v portico.SettingValues, e *portico.AppleEnrollment) error {
	if err := s.mayActUnconfirmed(ctx, d, kind, v, e); err != nil {
		return err
	}
	switch {
	case kind == portico.CommandWipe && strings.TrimSpace(confirm) != d.Title():
		return portico.Errorf(portico.EINVALID, "To wipe this device, type its name exactly: %s", d.Title())
	case kind == portico.CommandRetire && confirm != "retire":
		return portico.Errorf(portico.EINVALID, "Confirm the retirement of this device.")
	}
	return nil
}

// mayActUnconfirmed checks the rules of one action on one device but its
// confirmation.
func (s *Service) mayActUnconfirmed(ctx context.Context, d *portico.Device, kind portico.CommandKind, v portico.SettingValues, e *portico.AppleEnrollment) error {
	allowed := actionsFor(portico.ActorFromContext(ctx), d, v, e)
	switch {
	case d.Status != portico.StatusActive:
		return portico.Errorf(portico.ECONFLICT, "This device is %s: it takes no actions.", strings.ToLower(d.Status.Label()))
	case kind == portico.CommandLocate && !v.MayLocate(d.Ownership):
		return portico.Errorf(portico.EFORBIDDEN, "The privacy policy does not let the company locate %s-owned devices.", d.Ownership)
	case kind == portico.CommandLocate && e != nil && allowed.LocateUnavailable != "":
		return portico.Errorf(portico.EFORBIDDEN, "%s", allowed.LocateUnavailable)
	case !allowed.Allows(kind):
		return portico.Errorf(portico.EFORBIDDEN, "Your account may not %s devices. Ask the helpdesk if you need to.", strings.ToLower(kind.Label()))
	}
	return nil
}

// noticeOwner queues a mail to the device's owner about a lock, wipe or
// retirement, when the admin switched such notices on.
func (s *Service) noticeOwner(ctx context.Context, st store.Store, d *portico.Device, cmd *portico.Command, v portico.SettingValues) error {
	if !v.Bool("actions.notify_user") || (cmd.Kind != portico.CommandLock && cmd.Kind != portico.CommandWipe && cmd.Kind != portico.CommandRetire) {
		return nil
	}
	owner, err := st.UserByID(ctx, d.UserID)
	if err != nil {
		return err
	}
	when := cmd.CreatedAt.UTC().Format("2 January 2006 15:04 MST")
	text := fmt.Sprintf("Hello %s,\n\n%s asked for your %s (%s) to be %s on %s.\n", owner.DisplayName(), cmd.CreatedBy,
		d.Platform.DeviceNoun(), d.Title(), cmd.Kind.DoneLabel(), when)
	if cmd.Status == portico.CommandHeld {
		text += fmt.Sprintf("It goes to the device at %s unless it is cancelled in the portal first.\n", cmd.ReleaseAt.UTC().Format("15:04 MST"))
	}
	text += "\nIf you did not expect this, contact the helpdesk now: " + v.Helpdesk().Name + ".\n\n— " + v.PortalName() + "\n"
	return st.EnqueueMessage(ctx, &portico.Message{
		Channel: portico.ChannelMail, To: owner.Email, Subject: fmt.Sprintf("Your %s: %s", d.Platform.DeviceNoun(), strings.ToLower(cmd.Kind.Label())),
		Text: text, CreatedAt: cmd.CreatedAt,
	})
}

// wakeDevice tells a device that a command waits for it: an Apple device
// enrolled in MDM through a push, any other through the wake hub its
// agent waits on.
func (s *Service) wakeDevice(ctx context.Context, deviceID int64) {
	ctx = context.WithoutCancel(ctx)
	e, err := s.store.AppleEnrollment(ctx, deviceID)
	switch {
	case err == nil:
		err = s.pushApple(ctx, s.store, e)
	case portico.ErrorCode(err) != portico.ENOTFOUND:
	case s.wake == nil:
		return
	default:
		err = s.wake.Publish(ctx, deviceID)
	}
	if err != nil {
		// The device still finds the command at its next check-in.
		s.log.WarnContext(ctx, "waking a device", "device", deviceID, "err", err)
	}
}

// CancelAction cancels an action that has not reached the device yet: a
// wipe in its grace period, or any queued command.
func (s *Service) CancelAction(ctx context.Context, commandID int64) (*portico.Command, error) {
	cmd, err := s.store.CommandByID(ctx, commandID)
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		return nil, portico.Errorf(portico.ENOTFOUND, "There is no such action among your devices'.")
	} else if err != nil {
		return nil, err
	}
	if _, err := s.Device(ctx, cmd.DeviceID); err != nil {
		return nil, portico.Errorf(portico.ENOTFOUND, "There is no such action among your devices'.")
	}
	// Only who may ask for an action may call it off: a user without the
	// role must not stop an admin's wipe of their lost phone.
	if a := portico.ActorFromContext(ctx); !a.IsAdmin() && !a.User.HasRole(cmd.Kind.Role()) {
		err := portico.Errorf(portico.EFORBIDDEN, "Your account may not cancel a %s. Ask the helpdesk if it must stop.", strings.ToLower(cmd.Kind.Label()))
		s.auditRefusal(ctx, portico.AuditEntry{Action: "device." + string(cmd.Kind) + ".cancel", DeviceID: cmd.DeviceID, Target: fmt.Sprint(commandID)}, err)
		return nil, err
	}
	err = s.store.InTx(ctx, func(st store.Store) error {
		if cmd, err = st.CancelCommand(ctx, commandID, s.clock.Now()); err != nil {
			return err
		}
		return s.audit(ctx, st, portico.AuditEntry{Action: "device." + string(cmd.Kind) + ".cancel", DeviceID: cmd.DeviceID, Target: fmt.Sprint(commandID)})
	})
	return cmd, err
}

// ChangeOwnership sets who owns a device (SPEC OWN-1); what the privacy
// policy allows follows at once.
func (s *Service) ChangeOwnership(ctx context.Context, deviceID int64, o portico.Ownership) (*portico.Device, error) {
	d, err := s.Device(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	if o, err = portico.ParseOwnership(string(o)); err != nil {
		return nil, err
	}
	action := portico.AuditEntry{Action: "device.ownership", DeviceID: d.ID, Detail: fmt.Sprintf("%s → %s", d.Ownership, o)}
	allowed, err := s.Actions(ctx, d)
	if err != nil {
		return nil, err
	}
	if !allowed.ChangeOwnership {
		err := portico.Errorf(portico.EFORBIDDEN, "Your account may not change who owns this device. Ask the helpdesk if it is wrong.")
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	err = s.store.InTx(ctx, func(st store.Store) error {
		if err := st.SetOwnership(ctx, d.ID, o); err != nil {
			return err
		}
		return s.audit(ctx, st, action)
	})
	if err != nil {
		return nil, err
	}
	d.Ownership = o
	return d, nil
}

// HasQueuedCommands reports whether a command waits for the device in ctx.
func (s *Service) HasQueuedCommands(ctx context.Context) (bool, error) {
	d, err := signedInDevice(ctx)
	if err != nil {
		return false, err
	}
	return s.store.HasQueuedCommands(ctx, d.ID)
}

// AdvanceCommands moves commands on with time: held wipes whose grace
// period ended go to their device, and commands no device collected or
// answered in time expire. A retirement that expires retires the device
// all the same (SPEC ACT-5). Every instance may run it: each step is a
// conditional update that only one wins.
func (s *Service) AdvanceCommands(ctx context.Context) error {
	now := s.clock.Now()
	released, err := s.store.ReleaseCommands(ctx, now)
	if err != nil {
		return err
	}
	for _, c := range released {
		s.wakeDevice(ctx, c.DeviceID)
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return err
	}
	ctx = portico.NewContextWithActor(ctx, portico.Actor{System: true})
	// Expiring and what it means for the devices commit together, so that
	// an expired retirement never leaves its device active.
	return s.store.InTx(ctx, func(st store.Store) error {
		expired, err := st.ExpireCommands(ctx, now.Add(-v.Duration("actions.collect_timeout")), now.Add(-v.Duration("actions.answer_timeout")), now)
		if err != nil {
			return err
		}
		for _, c := range expired {
			if c.Kind == portico.CommandRetire {
				if err := st.EndDevice(ctx, c.DeviceID, portico.StatusRetired); err != nil && portico.ErrorCode(err) != portico.ECONFLICT {
					return err
				}
			}
			err := s.audit(ctx, st, portico.AuditEntry{Action: "device." + string(c.Kind), DeviceID: c.DeviceID,
				Target: fmt.Sprint(c.ID), Result: portico.ResultFailed, Detail: "expired"})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// finishEffects applies what a device's answer means for the device: once
// it confirms a wipe or a retirement, it is wiped or retired and its token
// stops working.
func finishEffects(ctx context.Context, st store.Store, c *portico.Command) error {
	if c.Status != portico.CommandDone {
		return nil
	}
	switch c.Kind {
	case portico.CommandWipe:
		return st.EndDevice(ctx, c.DeviceID, portico.StatusWiped)
	case portico.CommandRetire:
		return st.EndDevice(ctx, c.DeviceID, portico.StatusRetired)
	}
	return nil
}

// checkResultData refuses a done locate whose data is not a location.
func checkResultData(kind portico.CommandKind, r portico.CommandResult) error {
	if kind != portico.CommandLocate || r.Status != portico.CommandDone {
		return nil
	}
	var l portico.Location
	if err := json.Unmarshal(r.Data, &l); err != nil {
		return portico.Errorf(portico.EINVALID, "A located device sends its location as data: {\"latitude\", \"longitude\", \"accuracy_m\", \"at\"}.")
	}
	return l.Validate()
}
