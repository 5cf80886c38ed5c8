package service

import (
	"context"
	"fmt"
	"slices"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/store"
)

// MyDevices lists the signed-in user's devices but the retired ones. A
// pending device whose registration can no longer complete is left out,
// even before housekeeping removes it.
func (s *Service) MyDevices(ctx context.Context) ([]*portico.Device, error) {
	u, err := signedInUser(ctx)
	if err != nil {
		return nil, err
	}
	devices, err := s.store.ListDevices(ctx, store.DeviceFilter{UserID: u.ID})
	if err != nil {
		return nil, err
	}
	// A retired device has left the company's management (SPEC ACT-5).
	devices = slices.DeleteFunc(devices, func(d *portico.Device) bool { return d.Status == portico.StatusRetired })
	if !slices.ContainsFunc(devices, func(d *portico.Device) bool { return d.Status == portico.StatusPending }) {
		return devices, nil
	}
	open, err := s.MyInvitations(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(devices, func(d *portico.Device) bool {
		return d.Status == portico.StatusPending && !slices.ContainsFunc(open, func(i *portico.Invitation) bool { return i.DeviceID == d.ID })
	}), nil
}

// Device returns a device to its owner or to an admin. Anyone else is told
// it does not exist, so device numbers reveal nothing.
func (s *Service) Device(ctx context.Context, id int64) (*portico.Device, error) {
	a := portico.ActorFromContext(ctx)
	if a.User == nil && !a.IsAdmin() {
		return nil, portico.Errorf(portico.EUNAUTHENTICATED, "Please sign in.")
	}
	d, err := s.store.DeviceByID(ctx, id)
	if portico.ErrorCode(err) == portico.ENOTFOUND || (err == nil && !a.IsAdmin() && d.UserID != a.User.ID) {
		return nil, portico.Errorf(portico.ENOTFOUND, "There is no device with that number among your devices.")
	}
	return d, err
}

// AllDevices lists every device (admins only).
func (s *Service) AllDevices(ctx context.Context, f store.DeviceFilter) ([]*portico.Device, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	return s.store.ListDevices(ctx, f)
}

// Registration is what a device agent sends to register (SPEC AGENT-1):
// the user's password, with the code of their second factor when they have
// one, or the PIN of a registration, and optionally the token of the
// registration link it was opened with.
type Registration struct {
	Username string
	Password string
	Code     string
	PIN      string
	Token    string
	Platform portico.Platform
	Details  portico.DeviceDetails
}

// RegisterDevice checks the user's credentials, with the same throttling as
// the portal's sign-in, and makes the device active with its own token. A
// registration the user started in the portal is completed: its pending
// device becomes this one (SPEC REG-6). The token is returned once; only
// its hash is kept.
func (s *Service) RegisterDevice(ctx context.Context, r Registration) (*portico.Device, string, error) {
	action := portico.AuditEntry{Action: "device.register", Target: r.Username}
	platform, err := portico.ParsePlatform(string(r.Platform))
	if err != nil {
		return nil, "", err
	}
	if err := r.Details.Validate(); err != nil {
		return nil, "", err
	}
	u, inv, err := s.authenticateRegistration(ctx, r.Username, r.Password, r.PIN, r.Code, r.Token)
	if err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, "", err
	}
	ctx = portico.NewContextWithActor(ctx, portico.Actor{User: u, Source: portico.ActorFromContext(ctx).Source})
	if inv == nil && r.Password != "" {
		if inv, err = s.pendingFor(ctx, u, platform); err != nil {
			return nil, "", err
		}
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, "", err
	}
	now := s.clock.Now()
	d := &portico.Device{
		UserID:       u.ID,
		Platform:     platform,
		Status:       portico.StatusActive,
		Ownership:    portico.Ownership(v.Get("registration.default_ownership")),
		Details:      r.Details,
		CreatedAt:    now,
		RegisteredAt: now,
		LastCheckin:  now,
	}
	token, hash := secret.NewToken()
	err = s.store.InTx(ctx, func(st store.Store) error {
		if err := s.completeRegistration(ctx, st, inv, d, hash); err != nil {
			return err
		}
		if err := st.SetRegisteredWith(ctx, d.ID, registeredWith(inv)); err != nil {
			return err
		}
		action.DeviceID = d.ID
		action.Detail = fmt.Sprintf("%s %s", platform.OSName(), d.Details.Model)
		return s.audit(ctx, st, action)
	})
	if err != nil {
		return nil, "", err
	}
	return d, token, nil
}

// completeRegistration stores d as an active device: as the pending device
// of inv when there is one, which closes inv, else as a new device.
func (s *Service) completeRegistration(ctx context.Context, st store.Store, inv *portico.Invitation, d *portico.Device, hash []byte) error {
	if inv == nil {
		return st.CreateDevice(ctx, d, hash)
	}
	// The caller may have read inv well before (an Apple device's profile
	// is installed long after it was downloaded): its time must not be up.
	if !inv.Open(d.RegisteredAt) {
		return portico.Errorf(portico.ECONFLICT, "This registration has expired or is closed. Start a new one.")
	}
	// Closing first makes a second device racing for the same invitation
	// fail here, before it touches the pending device.
	if err := st.CloseInvitation(ctx, inv.ID, portico.InvitationUsed, d.RegisteredAt); err != nil {
		if portico.ErrorCode(err) == portico.ECONFLICT {
			return portico.Errorf(portico.ECONFLICT, "This registration was completed by another device a moment ago.")
		}
		return err
	}
	if inv.DeviceID == 0 {
		return st.CreateDevice(ctx, d, hash)
	}
	pending, err := st.DeviceByID(ctx, inv.DeviceID)
	if err != nil {
		return err
	}
	d.ID, d.CreatedAt, d.Ownership = pending.ID, pending.CreatedAt, pending.Ownership
	return st.ActivateDevice(ctx, d, hash)
}

// AuthenticateDevice returns the device whose token this is. A wiped or
// retired device's token no longer works.
func (s *Service) AuthenticateDevice(ctx context.Context, token string) (*portico.Device, error) {
	d, err := s.store.DeviceByTokenHash(ctx, secret.HashToken(token))
	if portico.ErrorCode(err) == portico.ENOTFOUND || (err == nil && d.Status != portico.StatusActive) {
		return nil, portico.Errorf(portico.EUNAUTHENTICATED, "This device token is not valid. Register the device again.")
	}
	return d, err
}

func signedInDevice(ctx context.Context) (*portico.Device, error) {
	d := portico.ActorFromContext(ctx).Device
	if d == nil {
		return nil, portico.Errorf(portico.EUNAUTHENTICATED, "A device token is required.")
	}
	return d, nil
}

// Checkin records that the device in ctx was seen, stores its details when
// they changed, and hands it the commands waiting for it.
func (s *Service) Checkin(ctx context.Context, details portico.DeviceDetails) ([]*portico.Command, error) {
	d, err := signedInDevice(ctx)
	if err != nil {
		return nil, err
	}
	if err := details.Validate(); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	if details != d.Details {
		if err := s.store.UpdateDeviceDetails(ctx, d.ID, details, now); err != nil {
			return nil, err
		}
	} else {
		s.seen.add(d.ID, now)
	}
	cmds, err := s.store.TakeCommands(ctx, d.ID, now)
	if err != nil {
		return nil, err
	}
	return cmds, s.expandConfigurations(ctx, d, cmds)
}

// ReportResult records the device's answer to a command it was sent, and
// what the answer means for the device (a confirmed wipe or retirement
// ends it).
func (s *Service) ReportResult(ctx context.Context, commandID int64, r portico.CommandResult) (*portico.Command, error) {
	d, err := signedInDevice(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	c, err := s.store.CommandByID(ctx, commandID)
	if portico.ErrorCode(err) == portico.ENOTFOUND || (err == nil && c.DeviceID != d.ID) {
		return nil, portico.Errorf(portico.ENOTFOUND, "This device has no command %d.", commandID)
	} else if err != nil {
		return nil, err
	}
	if err := checkResultData(c.Kind, r); err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(st store.Store) error {
		if c, err = st.FinishCommand(ctx, d.ID, commandID, r, s.clock.Now()); err != nil {
			return err
		}
		if err := finishEffects(ctx, st, c); err != nil {
			return err
		}
		result := portico.ResultOK
		if r.Status == portico.CommandFailed {
			result = portico.ResultFailed
		}
		return s.audit(ctx, st, portico.AuditEntry{
			Action: "command." + string(c.Kind), DeviceID: d.ID,
			Target: fmt.Sprint(commandID), Result: result, Detail: r.Message,
		})
	})
	return c, err
}

// Commands lists a device's commands, newest first, to its owner or an
// admin. Locations are left out where the privacy policy, for the device's
// ownership now, does not allow them.
func (s *Service) Commands(ctx context.Context, deviceID int64) ([]*portico.Command, error) {
	d, err := s.Device(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, err
	}
	cmds, err := s.store.ListCommands(ctx, deviceID)
	if err != nil || v.MayLocate(d.Ownership) {
		return cmds, err
	}
	for _, c := range cmds {
		if c.Kind == portico.CommandLocate {
			c.Data = nil
		}
	}
	return cmds, nil
}

// SeedDevices stores many devices straight away, with tokens the caller
// made (load tests). It is for the operator at the command line only.
func (s *Service) SeedDevices(ctx context.Context, devices []*portico.Device, tokenHashes [][]byte) error {
	if !portico.ActorFromContext(ctx).System {
		return portico.Errorf(portico.EFORBIDDEN, "Only the operator at the command line may seed devices.")
	}
	return s.store.SeedDevices(ctx, devices, tokenHashes)
}

// DeviceOwners returns the user names of the devices' owners, by user ID
// (admins only): only those of the devices on a page, however many users
// there are.
func (s *Service) DeviceOwners(ctx context.Context, devices []*portico.Device) (map[int64]string, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(devices))
	for _, d := range devices {
		ids = append(ids, d.UserID)
	}
	slices.Sort(ids)
	return s.store.Usernames(ctx, slices.Compact(ids))
}
