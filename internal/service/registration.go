package service

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/store"
)

// Capabilities are the registration actions the signed-in user may start.
func (s *Service) Capabilities(ctx context.Context) (portico.Capabilities, error) {
	u, err := signedInUser(ctx)
	if err != nil {
		return portico.Capabilities{}, err
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return portico.Capabilities{}, err
	}
	return capabilities(u, v), nil
}

// capabilities is the one rule for what a user may start. A disabled user
// may start nothing, nor may one who must still replace a temporary
// password an admin gave.
func capabilities(u *portico.User, v portico.SettingValues) portico.Capabilities {
	if u.Disabled || u.MustChangePassword {
		return portico.Capabilities{}
	}
	return portico.Capabilities{
		Invite:       u.HasRole(portico.RoleRegisterDevice),
		RequestPIN:   u.HasRole(portico.RoleRequestPIN) && v.Bool("registration.pin_enabled"),
		GenerateQR:   u.HasRole(portico.RoleGenerateQR) && v.Bool("registration.qr_enabled"),
		Certificates: u.HasRole(portico.RoleManageCertificates) && len(v.CertificateTypesOffered()) > 0,
	}
}

// maxOpenRegistrations bounds the mail and SMS one user can have sent:
// each registration sends its invitation once, and again on each resend.
const maxOpenRegistrations = 5

// Started is a registration the user started (or restarted): what the
// portal shows once, and where the invitation went.
type Started struct {
	Invitation *portico.Invitation
	// Link is the registration link; it is shown (as a QR code) only for
	// InviteByQR and otherwise only sent.
	Link string
	// PIN is shown once, for InviteWithPIN.
	PIN    string
	SentTo []string
}

// StartRegistration creates a pending device for the signed-in user and
// the invitation that completes it (SPEC REG-1, REG-2, REG-3): sent by mail
// and SMS, with a PIN, or shown as a QR code, as kind says.
func (s *Service) StartRegistration(ctx context.Context, kind portico.InvitationKind, platform portico.Platform) (*Started, error) {
	action := portico.AuditEntry{Action: "registration.start", Detail: fmt.Sprintf("%s %s", kind, platform)}
	u, v, err := s.mayRegister(ctx, kind)
	if err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	return s.startRegistration(ctx, u, v, kind, platform, action)
}

// InviteUser starts a registration for a user on an admin's behalf (the
// admin API): the same invitation, PIN or QR link the user could start in
// the portal. The admin needs none of the user's roles, but the switch
// behind a PIN or a QR code must be on (SPEC SWITCH).
func (s *Service) InviteUser(ctx context.Context, userID int64, kind portico.InvitationKind, platform portico.Platform) (*Started, error) {
	action := portico.AuditEntry{Action: "registration.invite", Detail: fmt.Sprintf("user %d: %s %s", userID, kind, platform)}
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	kind, err := portico.ParseInvitationKind(string(kind))
	if err != nil {
		return nil, err
	}
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, portico.Errorf(portico.ECONFLICT, "%s is disabled and cannot register a device.", u.Username)
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case kind == portico.InviteWithPIN && !v.Bool("registration.pin_enabled"):
		return nil, portico.Errorf(portico.EFORBIDDEN, "Registration with a PIN is switched off (setting registration.pin_enabled).")
	case kind == portico.InviteByQR && !v.Bool("registration.qr_enabled"):
		return nil, portico.Errorf(portico.EFORBIDDEN, "Registration with a QR code is switched off (setting registration.qr_enabled).")
	}
	action.Detail = fmt.Sprintf("%s: %s %s", u.Username, kind, platform)
	return s.startRegistration(ctx, u, v, kind, platform, action)
}

// startRegistration creates the pending device and the invitation for u,
// and sends it; action is audited with them.
func (s *Service) startRegistration(ctx context.Context, u *portico.User, v portico.SettingValues, kind portico.InvitationKind, platform portico.Platform, action portico.AuditEntry) (*Started, error) {
	platform, err := portico.ParsePlatform(string(platform))
	if err != nil {
		return nil, err
	}
	if open, err := s.openInvitations(ctx, u); err != nil {
		return nil, err
	} else if len(open) >= maxOpenRegistrations {
		who := u.Username + " has"
		if a := portico.ActorFromContext(ctx); a.User != nil && a.User.ID == u.ID {
			who = "You have"
		}
		return nil, portico.Errorf(portico.ECONFLICT, "%s %d registrations waiting. Finish or cancel one before starting another.", who, len(open))
	}
	now := s.clock.Now()
	d := &portico.Device{
		UserID: u.ID, Platform: platform, Status: portico.StatusPending,
		Ownership: portico.Ownership(v.Get("registration.default_ownership")), CreatedAt: now,
	}
	inv := &portico.Invitation{
		UserID: u.ID, Platform: platform, Kind: kind, Status: portico.InvitationPending,
		HasPIN: kind == portico.InviteWithPIN, CreatedAt: now,
	}
	started, tokenHash, pinHash := s.newSecrets(inv, v)
	err = s.store.InTx(ctx, func(st store.Store) error {
		if err := st.CreateDevice(ctx, d, nil); err != nil {
			return err
		}
		inv.DeviceID = d.ID
		if err := st.CreateInvitation(ctx, inv, tokenHash, pinHash); err != nil {
			return err
		}
		if err := s.sendInvitation(ctx, st, u, started, v); err != nil {
			return err
		}
		action.DeviceID, action.Target = d.ID, fmt.Sprint(inv.ID)
		return s.audit(ctx, st, action)
	})
	if err != nil {
		return nil, err
	}
	return started, nil
}

// mayRegister returns the signed-in user and the settings when the user's
// role and the switch behind it allow this kind of registration.
func (s *Service) mayRegister(ctx context.Context, kind portico.InvitationKind) (*portico.User, portico.SettingValues, error) {
	return s.userWhoMay(ctx, func(c portico.Capabilities) bool { return c.Allows(kind) }, "register devices this way")
}

// userWhoMay returns the signed-in user and the settings when the user's
// capabilities (roles and the switches behind them) allow what may asks;
// refusal says what was refused ("register devices this way").
func (s *Service) userWhoMay(ctx context.Context, may func(portico.Capabilities) bool, refusal string) (*portico.User, portico.SettingValues, error) {
	u, err := signedInUser(ctx)
	if err != nil {
		return nil, nil, err
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, nil, err
	}
	if !may(capabilities(u, v)) {
		return nil, nil, portico.Errorf(portico.EFORBIDDEN, "Your account may not %s. Ask the helpdesk if you need to.", refusal)
	}
	return u, v, nil
}

// newSecrets gives inv a new link (and PIN) with fresh lifetimes, and
// returns them with the hashes that are all the store keeps.
func (s *Service) newSecrets(inv *portico.Invitation, v portico.SettingValues) (*Started, []byte, string) {
	now := s.clock.Now()
	token, tokenHash := secret.NewToken()
	started := &Started{Invitation: inv, Link: s.baseURL + "go?t=" + url.QueryEscape(token)}
	inv.ExpiresAt = now.Add(v.Duration("registration.invitation_lifetime"))
	pinHash := ""
	if inv.HasPIN {
		started.PIN = secret.NewPIN()
		pinHash = s.passwords.HashPassword(started.PIN)
		inv.PINExpiresAt = now.Add(v.Duration("registration.pin_lifetime"))
	}
	return started, tokenHash, pinHash
}

// sendInvitation queues the invitation's mail, and its SMS when the user
// has a phone number, in the transaction st of the action that sends it. A
// QR code is shown, not sent.
func (s *Service) sendInvitation(ctx context.Context, st store.Store, u *portico.User, started *Started, v portico.SettingValues) error {
	inv := started.Invitation
	if inv.Kind == portico.InviteByQR {
		return nil
	}
	now := s.clock.Now()
	device := inv.Platform.DeviceNoun()
	var mail strings.Builder
	portal := v.PortalName()
	fmt.Fprintf(&mail, "Hello %s,\n\nto register your %s with %s, open this link on it:\n\n%s\n\n", u.DisplayName(), device, portal, started.Link)
	if started.PIN != "" {
		fmt.Fprintf(&mail, "When it asks, give this registration PIN: %s\nThe PIN works once, until %s.\n\n", started.PIN, inv.PINExpiresAt.UTC().Format("2 January 2006 15:04 MST"))
	}
	fmt.Fprintf(&mail, "The link works until %s.\n\n%s\n\n", inv.ExpiresAt.UTC().Format("2 January 2006 15:04 MST"), v.Instructions(inv.Platform))
	h := v.Helpdesk()
	fmt.Fprintf(&mail, "Questions? %s", h.Name)
	for _, c := range []string{h.Phone, h.Email, h.Hours} {
		if c != "" {
			fmt.Fprintf(&mail, " · %s", c)
		}
	}
	mail.WriteString("\n\nIf you did not ask for this, tell the helpdesk; nothing happens until someone signs in with your credentials.\n\n— " + portal + "\n")
	msgs := []*portico.Message{{
		Channel: portico.ChannelMail, To: u.Email, Subject: "Register your " + device + " with " + portal,
		Text: mail.String(), CreatedAt: now,
	}}
	if u.Phone != "" {
		sms := fmt.Sprintf("%s: register your %s: %s", portal, device, started.Link)
		if started.PIN != "" {
			sms += " PIN: " + started.PIN
		}
		msgs = append(msgs, &portico.Message{Channel: portico.ChannelSMS, To: u.Phone, Text: sms, CreatedAt: now})
	}
	for _, m := range msgs {
		if err := st.EnqueueMessage(ctx, m); err != nil {
			return err
		}
		started.SentTo = append(started.SentTo, m.To)
	}
	return nil
}

// ResendRegistration gives one of the user's pending registrations a new
// link (and PIN) and sends it again; the old ones stop working, since only
// their hashes were kept.
func (s *Service) ResendRegistration(ctx context.Context, id int64) (*Started, error) {
	action := portico.AuditEntry{Action: "registration.resend", Target: fmt.Sprint(id)}
	inv, err := s.myInvitation(ctx, id)
	if err != nil {
		return nil, err
	}
	u, v, err := s.mayRegister(ctx, inv.Kind)
	if err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	started, tokenHash, pinHash := s.newSecrets(inv, v)
	err = s.store.InTx(ctx, func(st store.Store) error {
		if err := st.RenewInvitation(ctx, inv, tokenHash, pinHash); err != nil {
			return err
		}
		if err := s.sendInvitation(ctx, st, u, started, v); err != nil {
			return err
		}
		action.DeviceID = inv.DeviceID
		return s.audit(ctx, st, action)
	})
	if err != nil {
		return nil, err
	}
	return started, nil
}

// CancelRegistration ends one of the user's pending registrations; its
// pending device leaves the list.
func (s *Service) CancelRegistration(ctx context.Context, id int64) error {
	inv, err := s.myInvitation(ctx, id)
	if err != nil {
		return err
	}
	return s.closeRegistration(ctx, inv, portico.InvitationCancelled)
}

func (s *Service) closeRegistration(ctx context.Context, inv *portico.Invitation, status portico.InvitationStatus) error {
	return s.store.InTx(ctx, func(st store.Store) error {
		if err := st.CloseInvitation(ctx, inv.ID, status, s.clock.Now()); err != nil {
			return err
		}
		if inv.DeviceID != 0 {
			if err := st.DeletePendingDevice(ctx, inv.DeviceID); err != nil && portico.ErrorCode(err) != portico.ENOTFOUND {
				return err
			}
		}
		action := "registration.cancel"
		if status == portico.InvitationExpired {
			action = "registration.expire"
		}
		return s.audit(ctx, st, portico.AuditEntry{Action: action, Target: fmt.Sprint(inv.ID), DeviceID: inv.DeviceID})
	})
}

// myInvitation returns a pending invitation of the signed-in user; anyone
// else's is reported missing, like one that does not exist.
func (s *Service) myInvitation(ctx context.Context, id int64) (*portico.Invitation, error) {
	u, err := signedInUser(ctx)
	if err != nil {
		return nil, err
	}
	inv, err := s.store.InvitationByID(ctx, id)
	if portico.ErrorCode(err) == portico.ENOTFOUND || (err == nil && (inv.UserID != u.ID || inv.Status != portico.InvitationPending)) {
		return nil, portico.Errorf(portico.ENOTFOUND, "There is no such registration waiting among yours.")
	}
	return inv, err
}

// MyInvitations lists the signed-in user's registrations that can still
// complete.
func (s *Service) MyInvitations(ctx context.Context) ([]*portico.Invitation, error) {
	u, err := signedInUser(ctx)
	if err != nil {
		return nil, err
	}
	return s.openInvitations(ctx, u)
}

// openInvitations lists u's registrations that can still complete.
func (s *Service) openInvitations(ctx context.Context, u *portico.User) ([]*portico.Invitation, error) {
	pending, err := s.store.PendingInvitations(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	open := pending[:0]
	for _, inv := range pending {
		if inv.Open(now) {
			open = append(open, inv)
		}
	}
	return open, nil
}

// expireRegistrations closes the registrations whose time ran out.
func (s *Service) expireRegistrations(ctx context.Context) error {
	expired, err := s.store.ExpiredInvitations(ctx, s.clock.Now())
	if err != nil {
		return err
	}
	ctx = portico.NewContextWithActor(ctx, portico.Actor{System: true})
	for _, inv := range expired {
		if err := s.closeRegistration(ctx, inv, portico.InvitationExpired); err != nil && portico.ErrorCode(err) != portico.ECONFLICT {
			return err
		}
	}
	return nil
}

var errWrongPIN = portico.Errorf(portico.EUNAUTHENTICATED, "The user name or PIN is wrong.")

// ErrCodeNeeded asks a user with two-step sign-in who registers a device
// with their password for the code of their second factor too.
var ErrCodeNeeded = portico.Errorf(portico.EUNAUTHENTICATED, "Your account uses two-step sign-in: give the code your authenticator app shows now (or a recovery code) with your password.")

// authenticateRegistration checks who completes a registration, on the
// device or at /go (SPEC REG-4). With the token of a registration link the
// registration is the link's, and its secret is still required: the PIN
// when one was issued, else the user's password. Without a token, a PIN is
// tried against the user's own registrations that have one. A user with
// two-step sign-in gives its code with the password, as when signing in:
// the password alone must not register a device that then receives what
// the user's devices get. A PIN needs no code: the user made it in the
// portal, signed in with both. It returns the registration to complete,
// or nil for a password without a token.
func (s *Service) authenticateRegistration(ctx context.Context, username, password, pin, code, token string) (*portico.User, *portico.Invitation, error) {
	u, inv, err := s.registrationCredentials(ctx, username, password, pin, token)
	if err != nil {
		return nil, nil, err
	}
	// The same rule as for what a user may start in the portal: a PIN
	// handed out before the user was disabled registers nothing.
	if u.Disabled {
		return nil, nil, errDisabled
	}
	if err := ownPassword(u, "register a device"); err != nil {
		return nil, nil, err
	}
	if password != "" {
		if err := s.registrationCode(ctx, u, code); err != nil {
			return nil, nil, err
		}
	}
	return u, inv, nil
}

// registrationCode checks, when the user has a second factor, the code
// given with their password.
func (s *Service) registrationCode(ctx context.Context, u *portico.User, code string) error {
	on, err := s.twoFactorEnabled(ctx, u.ID)
	if err != nil || !on {
		return err
	}
	if strings.TrimSpace(code) == "" {
		return ErrCodeNeeded
	}
	return s.checkCode(ctx, u, code)
}

func (s *Service) registrationCredentials(ctx context.Context, username, password, pin, token string) (*portico.User, *portico.Invitation, error) {
	pin = strings.Join(strings.Fields(pin), "")
	switch {
	case password == "" && pin == "":
		return nil, nil, portico.Errorf(portico.EINVALID, "Give your password or your registration PIN.")
	case password != "" && pin != "":
		return nil, nil, portico.Errorf(portico.EINVALID, "Give your password or your registration PIN, not both.")
	}
	var inv *portico.Invitation
	if token != "" {
		var err error
		if inv, err = s.linkInvitation(ctx, token); err != nil {
			return nil, nil, err
		}
		if inv.HasPIN && pin == "" {
			return nil, nil, portico.Errorf(portico.EUNAUTHENTICATED, "This registration needs the PIN that came with it, not your password.")
		}
	}
	if pin != "" {
		return s.checkPIN(ctx, username, pin, inv)
	}
	u, err := s.checkPassword(ctx, username, password)
	if err != nil {
		return nil, nil, err
	}
	if inv != nil && inv.UserID != u.ID {
		return nil, nil, portico.Errorf(portico.EFORBIDDEN, "This registration link was made for another user. Sign in with your own, or request a link in the portal.")
	}
	return u, inv, nil
}

// linkInvitation returns the registration of a link's token, with one clear
// message for each way a link stops working.
func (s *Service) linkInvitation(ctx context.Context, token string) (*portico.Invitation, error) {
	inv, err := s.store.InvitationByTokenHash(ctx, secret.HashToken(token))
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		return nil, portico.Errorf(portico.EUNAUTHENTICATED, "This registration link is not valid. Check that you opened the whole link, or request a new one in the portal.")
	} else if err != nil {
		return nil, err
	}
	switch {
	case inv.Status == portico.InvitationUsed:
		return nil, portico.Errorf(portico.ECONFLICT, "This registration link was already used to register a device. Request a new one in the portal.")
	case inv.Status == portico.InvitationCancelled:
		return nil, portico.Errorf(portico.ECONFLICT, "This registration was cancelled. Request a new one in the portal.")
	case !inv.Open(s.clock.Now()):
		return nil, portico.Errorf(portico.ECONFLICT, "This registration link has expired. Request a new one in the portal.")
	}
	return inv, nil
}

// checkPIN checks a registration PIN of the user: against only, when the
// device came with a link, else against each of the user's registrations
// that has a PIN. A wrong PIN counts against every registration it was
// tried on, which stops taking PINs after MaxPINAttempts, and against the
// source address, which is throttled like sign-ins.
func (s *Service) checkPIN(ctx context.Context, username, pin string, only *portico.Invitation) (*portico.User, *portico.Invitation, error) {
	settings, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, nil, err
	}
	a, err := s.beginAttempt(ctx, settings.Duration("login.lockout"), attemptLimit{
		"pin-addr:" + portico.ActorFromContext(ctx).Source, settings.Int("login.max_failures") * addressFailureFactor,
	})
	if err != nil {
		return nil, nil, err
	}
	u, inv, err := s.matchPIN(ctx, username, pin, only)
	if err != nil {
		return nil, nil, a.failed(ctx, err)
	}
	return u, inv, a.succeeded(ctx)
}

// matchPIN finds the registration the PIN is for, counting the try against
// every registration it is tried on.
func (s *Service) matchPIN(ctx context.Context, username, pin string, only *portico.Invitation) (*portico.User, *portico.Invitation, error) {
	now := s.clock.Now()
	u, candidates, err := s.pinCandidates(ctx, username, only)
	if err != nil {
		return nil, nil, err
	}
	for _, inv := range candidates {
		if !now.Before(inv.PINExpiresAt) {
			if only != nil {
				return nil, nil, portico.Errorf(portico.EUNAUTHENTICATED, "This PIN has expired. Request a new one in the portal.")
			}
			continue
		}
		// The try is counted before the PIN is checked, so that guesses
		// sent at the same moment cannot all slip under the limit.
		taken, err := s.store.TakePINAttempt(ctx, inv.ID, portico.MaxPINAttempts)
		if err != nil {
			return nil, nil, err
		}
		if !taken {
			if only != nil {
				return nil, nil, portico.Errorf(portico.EUNAUTHENTICATED, "This PIN stopped working after %d wrong tries. Request a new one in the portal.", portico.MaxPINAttempts)
			}
			continue
		}
		hash, err := s.store.InvitationPINHash(ctx, inv.ID)
		if err != nil {
			return nil, nil, err
		}
		ok, err := secret.CheckPassword(hash, pin)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			return u, inv, nil
		}
	}
	if len(candidates) == 0 {
		secret.CheckPassword(s.dummyHash, pin) // as slow as a real check
	}
	return nil, nil, errWrongPIN
}

// pinCandidates returns the user and the registrations a PIN may be for.
// An unknown or disabled user, or a link of another user, has none, which
// answers like a wrong PIN.
func (s *Service) pinCandidates(ctx context.Context, username string, only *portico.Invitation) (*portico.User, []*portico.Invitation, error) {
	u, err := s.store.UserByUsername(ctx, strings.TrimSpace(username))
	if portico.ErrorCode(err) == portico.ENOTFOUND || (err == nil && u.Disabled) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	if only != nil {
		if only.UserID != u.ID {
			return u, nil, nil
		}
		if !only.HasPIN {
			return nil, nil, portico.Errorf(portico.EUNAUTHENTICATED, "This registration link takes your password, not a PIN.")
		}
		return u, []*portico.Invitation{only}, nil
	}
	pending, err := s.store.PendingInvitations(ctx, u.ID)
	if err != nil {
		return nil, nil, err
	}
	var withPIN []*portico.Invitation
	for _, inv := range pending {
		if inv.HasPIN && inv.Open(s.clock.Now()) {
			withPIN = append(withPIN, inv)
		}
	}
	return u, withPIN, nil
}

// pendingFor returns the user's oldest open registration for the platform
// that a password may complete (one without a PIN), or nil.
func (s *Service) pendingFor(ctx context.Context, u *portico.User, p portico.Platform) (*portico.Invitation, error) {
	pending, err := s.store.PendingInvitations(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, inv := range pending {
		if inv.Platform == p && !inv.HasPIN && inv.Open(s.clock.Now()) {
			return inv, nil
		}
	}
	return nil, nil
}

// Steps are what the registration page shows a person who signed in on
// the device: that platform's steps, and where Android gets the agent.
type Steps struct {
	Platform     portico.Platform
	Instructions string
	// AgentURL is where the device gets its agent: the Android agent's
	// store page, carrying the link's token so that the agent's first
	// launch completes the registration, or the Windows agent's download.
	AgentURL string
	// Profile is the enrollment profile of an iPhone, iPad or Mac, whose
	// installation completes the registration (SPEC APPLE-1); when there
	// is none, ProfileNote says why.
	Profile     []byte
	ProfileNote string
}

// OpenRegistration is the registration page's sign-in (SPEC REG-4): the
// same checks as a device's registration, which it does not complete; the
// device (its agent, or later its enrollment profile) does.
func (s *Service) OpenRegistration(ctx context.Context, username, password, pin, code, token string, platform portico.Platform) (*Steps, error) {
	action := portico.AuditEntry{Action: "registration.open", Target: username}
	u, inv, err := s.authenticateRegistration(ctx, username, password, pin, code, token)
	if err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	ctx = portico.NewContextWithActor(ctx, portico.Actor{User: u, Source: portico.ActorFromContext(ctx).Source})
	if platform == "" && inv != nil {
		platform = inv.Platform
	}
	if platform, err = portico.ParsePlatform(string(platform)); err != nil {
		return nil, err
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, err
	}
	steps := &Steps{Platform: platform, Instructions: v.Instructions(platform)}
	switch {
	case platform == portico.PlatformAndroid && v.Get("registration.android_agent_url") != "":
		steps.AgentURL = withReferrer(v.Get("registration.android_agent_url"), token)
	case platform == portico.PlatformWindows:
		// An installer has no install referrer to carry the token: the
		// agent has the user sign in instead.
		steps.AgentURL = v.Get("registration.windows_agent_url")
	}
	if platform.Apple() {
		if inv == nil {
			if inv, err = s.pendingFor(ctx, u, platform); err != nil {
				return nil, err
			}
		}
		if steps.Profile, steps.ProfileNote, err = s.appleStepsProfile(ctx, inv); err != nil {
			return nil, err
		}
	}
	if inv != nil {
		action.DeviceID = inv.DeviceID
	}
	action.Detail = string(platform)
	return steps, s.audit(ctx, s.store, action)
}

// appleStepsProfile is the enrollment profile that completes inv, or why
// there is none.
func (s *Service) appleStepsProfile(ctx context.Context, inv *portico.Invitation) ([]byte, string, error) {
	if inv == nil || !inv.Platform.Apple() {
		return nil, "To enroll this device, start its registration in the portal, then open the link it sends on the device.", nil
	}
	profile, err := s.registrationProfile(ctx, inv)
	switch portico.ErrorCode(err) {
	case "":
		return profile, "", nil
	case portico.ECONFLICT, portico.ENOTFOUND:
		return nil, portico.ErrorMessage(err), nil
	}
	return nil, "", err
}

// withReferrer adds the registration token to a store page as its install
// referrer, which the store hands to the app on its first launch.
func withReferrer(page, token string) string {
	if token == "" {
		return page
	}
	u, err := url.Parse(page)
	if err != nil {
		return page // checked when the setting was stored
	}
	q := u.Query()
	q.Set("referrer", "portico_token="+token)
	u.RawQuery = q.Encode()
	return u.String()
}
