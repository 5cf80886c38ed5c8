package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"strings"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/applemdm"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/store"
)

// AppleConfig is what Apple MDM stands on (SPEC APPLE-1).
type AppleConfig struct {
	// CA issues the devices' identities over SCEP.
	CA *applemdm.CA
	// Signer is the server's TLS identity, which signs enrollment
	// profiles; nil leaves them unsigned.
	Signer *tls.Certificate
	// TrustRoot is the server's self-signed TLS certificate, which the
	// enrollment profile asks the device to trust; nil when the server's
	// certificate is one devices trust already.
	TrustRoot *x509.Certificate
}

var errAppleUnknown = portico.Errorf(portico.EUNAUTHENTICATED, "This device is not enrolled: install a new enrollment profile from the portal.")

// AppleCACert is the SCEP CA's certificate (GetCACert).
func (s *Service) AppleCACert() ([]byte, error) {
	if s.apple == nil {
		return nil, errAppleOff
	}
	return s.apple.CA.Cert.Raw, nil
}

// errNoPushCertificate is what a user is told while no push certificate
// is uploaded; the admin's push page says what to do.
var errNoPushCertificate = portico.Errorf(portico.ECONFLICT, "Apple devices cannot be registered yet: the administrator has not uploaded the push certificate.")

var errAppleOff = portico.Errorf(portico.ENOTFOUND, "Apple device management is not set up on this server.")

// appleEnrollment returns the Apple enrollment of d, or nil for a device
// not managed through Apple MDM (any device of another platform, and an
// Apple device registered through the device API).
func (s *Service) appleEnrollment(ctx context.Context, d *portico.Device) (*portico.AppleEnrollment, error) {
	if !d.Platform.Apple() {
		return nil, nil
	}
	e, err := s.store.AppleEnrollment(ctx, d.ID)
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		return nil, nil
	}
	return e, err
}

// enrollmentProfile makes the challenge and the enrollment profile for a
// device: the pending device of a registration (one use, until the
// registration expires), or devices of a user (bulk: uses, until
// expires).
func (s *Service) enrollmentProfile(ctx context.Context, st store.Store, ch *portico.AppleChallenge, v portico.SettingValues) ([]byte, error) {
	if s.apple == nil {
		return nil, errAppleOff
	}
	topic, err := s.PushTopic(ctx)
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		return nil, errNoPushCertificate
	} else if err != nil {
		return nil, err
	}
	challenge, hash := secret.NewToken()
	ch.CreatedAt = s.clock.Now()
	if err := st.CreateAppleChallenge(ctx, ch, hash); err != nil {
		return nil, err
	}
	e := applemdm.Enrollment{
		Organization: v.Helpdesk().Name,
		ServerURL:    s.baseURL + "mdm/connect",
		CheckInURL:   s.baseURL + "mdm/checkin",
		SCEPURL:      s.baseURL + "scep",
		Challenge:    challenge,
		Subject:      profileSubject(ch),
		Topic:        topic,
		TrustRoot:    s.apple.TrustRoot,
	}
	if v.Bool("apple.web_clip") && ch.Platform != portico.PlatformMacOS {
		e.WebClip = &applemdm.WebClip{URL: s.baseURL, Label: v.Helpdesk().Name}
	}
	profile, err := e.Profile()
	if err != nil {
		return nil, err
	}
	if signer := s.apple.Signer; signer != nil && v.Bool("apple.sign_profile") {
		leaf, err := x509.ParseCertificate(signer.Certificate[0])
		if err != nil {
			return nil, err
		}
		var chain []*x509.Certificate
		for _, der := range signer.Certificate[1:] {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, err
			}
			chain = append(chain, c)
		}
		return applemdm.SignProfile(profile, leaf, signer.PrivateKey, chain)
	}
	return profile, nil
}

// profileSubject is the subject the profile asks SCEP for, unique per
// device: the device's number, or for a bulk profile, whose devices are
// not known yet, a random one. The CA decides the issued subject anyway.
func profileSubject(ch *portico.AppleChallenge) string {
	if ch.DeviceID == 0 {
		return "Portico device " + applemdm.NewUUID()
	}
	return fmt.Sprintf("Portico device %d", ch.DeviceID)
}

// registrationProfile is the enrollment profile that completes a
// registration: its challenge works once, for the registration's pending
// device, until the registration expires. A new profile replaces the
// challenge of the one before.
func (s *Service) registrationProfile(ctx context.Context, inv *portico.Invitation) ([]byte, error) {
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, err
	}
	var profile []byte
	err = s.store.InTx(ctx, func(st store.Store) error {
		ch := &portico.AppleChallenge{UserID: inv.UserID, DeviceID: inv.DeviceID, InvitationID: inv.ID, Platform: inv.Platform, UsesLeft: 1, ExpiresAt: inv.ExpiresAt}
		if profile, err = s.enrollmentProfile(ctx, st, ch, v); err != nil {
			return err
		}
		return s.audit(ctx, st, portico.AuditEntry{Action: "apple.profile", DeviceID: inv.DeviceID, Target: fmt.Sprint(inv.ID)})
	})
	return profile, err
}

// appleRenewalValidFor is how long a renewal's challenge works: the
// device runs the SCEP request as soon as it installs the profile.
const appleRenewalValidFor = 7 * 24 * time.Hour

// renewalProfile is the enrollment profile again, for an enrolled device:
// installed by InstallProfile with the same identifiers, it replaces the
// profile it has, and its SCEP payload, with a one-time challenge for
// this device, gets the device a new identity. The MDM payload's URLs,
// topic and rights stay as they were, which a profile update requires.
func (s *Service) renewalProfile(ctx context.Context, d *portico.Device) ([]byte, error) {
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, err
	}
	var profile []byte
	err = s.store.InTx(ctx, func(st store.Store) error {
		ch := &portico.AppleChallenge{UserID: d.UserID, DeviceID: d.ID, Platform: d.Platform, UsesLeft: 1,
			ExpiresAt: s.clock.Now().Add(appleRenewalValidFor)}
		profile, err = s.enrollmentProfile(ctx, st, ch, v)
		return err
	})
	return profile, err
}

// MyEnrollmentProfile is the enrollment profile for one of the signed-in
// user's pending iPhones, iPads or Macs, to download in the portal.
func (s *Service) MyEnrollmentProfile(ctx context.Context, deviceID int64) ([]byte, error) {
	d, err := s.Device(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	if d.Status != portico.StatusPending || !d.Platform.Apple() {
		return nil, portico.Errorf(portico.ECONFLICT, "Only a pending iPhone, iPad or Mac has an enrollment profile to install.")
	}
	open, err := s.MyInvitations(ctx)
	if err != nil {
		return nil, err
	}
	for _, inv := range open {
		if inv.DeviceID == d.ID {
			return s.registrationProfile(ctx, inv)
		}
	}
	return nil, portico.Errorf(portico.ECONFLICT, "The registration of this device has ended. Start a new one.")
}

// AppleSCEP answers a SCEP PKIOperation: a device with a valid challenge
// gets its identity, whose subject names its device; any other gets a
// refusal (CertRep FAILURE, badRequest) and nothing changes.
func (s *Service) AppleSCEP(ctx context.Context, body []byte) ([]byte, error) {
	if s.apple == nil {
		return nil, errAppleOff
	}
	ca := s.apple.CA
	req, err := ca.ParseSCEP(body)
	if err != nil {
		return nil, portico.Errorf(portico.EINVALID, "This is not a certificate request (SCEP PKCSReq) for this server.")
	}
	ctx = portico.NewContextWithActor(ctx, portico.Actor{System: true, Source: portico.ActorFromContext(ctx).Source})
	now := s.clock.Now()
	var cert *x509.Certificate
	err = s.store.InTx(ctx, func(st store.Store) error {
		ch, err := st.UseAppleChallenge(ctx, secret.HashToken(req.Challenge), now)
		if err != nil {
			return err
		}
		if ch.DeviceID == 0 {
			// Bulk: each device gets its own record, pending until it
			// authenticates.
			d := &portico.Device{UserID: ch.UserID, Platform: ch.Platform, Status: portico.StatusPending, CreatedAt: now}
			v, err := st.SettingValues(ctx)
			if err != nil {
				return err
			}
			d.Ownership = portico.Ownership(v.Get("registration.default_ownership"))
			if err := st.CreateDevice(ctx, d, nil); err != nil {
				return err
			}
			ch.DeviceID = d.ID
		}
		cert, err = ca.Issue(req.CSR, pkix.Name{CommonName: fmt.Sprintf("Portico device %d", ch.DeviceID), Organization: []string{"Portico"}}, now)
		if err != nil {
			return portico.Errorf(portico.EINVALID, "The certificate request is not signed by its own key.")
		}
		err = st.PutAppleCertificate(ctx, &portico.AppleCertificate{
			Fingerprint: applemdm.Fingerprint(cert), DeviceID: ch.DeviceID, InvitationID: ch.InvitationID,
			Serial: cert.SerialNumber.Text(16), IssuedAt: now, NotAfter: cert.NotAfter,
		})
		if err != nil {
			return err
		}
		return s.audit(ctx, st, portico.AuditEntry{Action: "apple.scep", DeviceID: ch.DeviceID, Target: cert.SerialNumber.Text(16)})
	})
	switch code := portico.ErrorCode(err); {
	case err == nil:
		return ca.Success(req, cert)
	case code == portico.ENOTFOUND || code == portico.EINVALID:
		s.auditRefusal(ctx, portico.AuditEntry{Action: "apple.scep"}, err)
		return ca.Failure(req)
	}
	return nil, err
}

// appleRenewalWindow is how long before a device identity ends the
// server gives the device a new one, at its first Idle in that time.
const appleRenewalWindow = 30 * 24 * time.Hour

// appleRenewalRetry is how long the server waits after a renewal before
// it tries again, when the device still shows its old identity.
const appleRenewalRetry = 24 * time.Hour

// CheckAppleIdentity is the cheap check of a request's identity, before
// its body is read: a certificate this server's CA issued, expired or
// not. Whose it is, and whether it is still accepted, appleDevice says.
func (s *Service) CheckAppleIdentity(cert *x509.Certificate) error {
	if s.apple == nil || cert == nil {
		return errAppleUnknown
	}
	if _, err := s.apple.CA.Issued(cert, s.clock.Now()); err != nil {
		return errAppleNotOurs
	}
	return nil
}

var errAppleNotOurs = portico.Errorf(portico.EUNAUTHENTICATED, "This device's certificate was not issued by this server.")

// appleDevice finds the device an identity was issued to, with its
// enrollment, and checks that the message's UDID is the device's. Before
// its first Authenticate a device has no enrollment; after it, only the
// identity bound to the enrollment is accepted, or one issued to the
// same device later (a renewal), which the enrollment is bound to from
// then on. An expired identity is still accepted while it is the bound
// one of an active device: a device away for its renewal window is
// renewed at its next Idle rather than told to unenroll.
func (s *Service) appleDevice(ctx context.Context, cert *x509.Certificate, udid string) (*portico.Device, *portico.AppleEnrollment, error) {
	if s.apple == nil || cert == nil {
		return nil, nil, errAppleUnknown
	}
	now := s.clock.Now()
	expired, err := s.apple.CA.Issued(cert, now)
	if err != nil {
		return nil, nil, errAppleNotOurs
	}
	fp := applemdm.Fingerprint(cert)
	ac, err := s.store.AppleCertificate(ctx, fp)
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		return nil, nil, errAppleUnknown
	} else if err != nil {
		return nil, nil, err
	}
	d, err := s.store.DeviceByID(ctx, ac.DeviceID)
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		return nil, nil, errAppleUnknown
	} else if err != nil {
		return nil, nil, err
	}
	if d.Status != portico.StatusActive && d.Status != portico.StatusPending {
		return nil, nil, portico.Errorf(portico.EUNAUTHENTICATED, "This device is %s: it is no longer managed.", d.Status)
	}
	e, err := s.store.AppleEnrollment(ctx, d.ID)
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		if expired {
			return nil, nil, errAppleExpired
		}
		return d, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	if e.UDID != udid {
		return nil, nil, portico.Errorf(portico.EUNAUTHENTICATED, "This message names another device than the one its certificate was issued to.")
	}
	if string(e.Fingerprint) != string(fp) {
		if expired {
			return nil, nil, errAppleExpired
		}
		if err := s.rebindAppleIdentity(ctx, d, e, ac); err != nil {
			return nil, nil, err
		}
	}
	if expired {
		if d.Status != portico.StatusActive {
			return nil, nil, errAppleExpired
		}
		s.log.WarnContext(ctx, "an Apple device shows its expired identity; it is answered until it is renewed",
			"device", d.ID, "not_after", cert.NotAfter)
	}
	return d, e, nil
}

var errAppleExpired = portico.Errorf(portico.EUNAUTHENTICATED, "This device's certificate has expired.")

// rebindAppleIdentity binds e to the identity ac, issued to the same
// device after the one bound: the device installed its renewal.
func (s *Service) rebindAppleIdentity(ctx context.Context, d *portico.Device, e *portico.AppleEnrollment, ac *portico.AppleCertificate) error {
	errOther := portico.Errorf(portico.EUNAUTHENTICATED, "This device enrolled with another certificate.")
	bound, err := s.store.AppleCertificate(ctx, e.Fingerprint)
	if err != nil && portico.ErrorCode(err) != portico.ENOTFOUND {
		return err
	}
	if err != nil || !ac.IssuedAt.After(bound.IssuedAt) {
		return errOther
	}
	ctx = portico.NewContextWithActor(ctx, portico.Actor{System: true, Source: portico.ActorFromContext(ctx).Source})
	err = s.store.InTx(ctx, func(st store.Store) error {
		if err := st.RebindAppleIdentity(ctx, d.ID, e.Fingerprint, ac.Fingerprint, s.clock.Now()); err != nil {
			return err
		}
		return s.audit(ctx, st, portico.AuditEntry{Action: "apple.renewed", DeviceID: d.ID, Target: ac.Serial,
			Detail: "until " + ac.NotAfter.UTC().Format("2006-01-02")})
	})
	if portico.ErrorCode(err) == portico.ECONFLICT {
		// Another request of the device rebound it a moment ago.
		now, err := s.store.AppleEnrollment(ctx, d.ID)
		if err != nil {
			return err
		}
		if string(now.Fingerprint) != string(ac.Fingerprint) {
			return errOther
		}
	} else if err != nil {
		return err
	}
	e.Fingerprint = ac.Fingerprint
	return nil
}

// enrolledDevice is appleDevice for every message but Authenticate and
// TokenUpdate: the device must be enrolled and active.
func (s *Service) enrolledDevice(ctx context.Context, cert *x509.Certificate, udid string) (*portico.Device, *portico.AppleEnrollment, error) {
	d, e, err := s.appleDevice(ctx, cert, udid)
	if err != nil {
		return nil, nil, err
	}
	if e == nil || d.Status != portico.StatusActive {
		return nil, nil, errAppleUnknown
	}
	return d, e, nil
}

// checkAppleTopic refuses a check-in for another push topic than the
// server's: the server could not wake the device with it.
func (s *Service) checkAppleTopic(ctx context.Context, topic string) error {
	want, err := s.PushTopic(ctx)
	if err != nil {
		return err
	}
	if topic != want {
		return portico.Errorf(portico.EINVALID, "The topic %q is not this server's push topic.", topic)
	}
	return nil
}

// AppleCheckin handles a check-in message from the device whose identity
// is cert (SPEC APPLE-1): Authenticate binds the device's UDID and
// identity, the first TokenUpdate completes the registration, later ones
// keep how to wake the device, CheckOut retires it.
func (s *Service) AppleCheckin(ctx context.Context, cert *x509.Certificate, m *applemdm.Checkin) error {
	ctx = portico.NewContextWithActor(ctx, portico.Actor{System: true, Source: portico.ActorFromContext(ctx).Source})
	switch m.MessageType {
	case applemdm.Authenticate:
		return s.appleAuthenticate(ctx, cert, m)
	case applemdm.TokenUpdate:
		return s.appleTokenUpdate(ctx, cert, m)
	}
	return s.appleCheckOut(ctx, cert, m)
}

// appleDetails are the DEV-1 details from what an Apple device reports,
// made fit to keep: a value no device should send (too long, control
// characters, a version that is not one) is cut or left out rather than
// refused, since a refusal would stop the device's enrollment or lose
// what else it reported.
func appleDetails(name, productName, modelName, osVersion, serial, imei, phone, carrier string) portico.DeviceDetails {
	model := cleanDetail(productName)
	if model == "" {
		model = cleanDetail(modelName)
	}
	d := portico.DeviceDetails{
		Name: cleanDetail(name), Model: model, Manufacturer: "Apple", OSVersion: cleanDetail(osVersion), Serial: cleanDetail(serial),
		IMEI: cleanDetail(strings.ReplaceAll(imei, " ", "")), PhoneNumber: cleanDetail(phone), Carrier: cleanDetail(carrier),
	}
	if (portico.DeviceDetails{OSVersion: d.OSVersion}).Validate() != nil {
		d.OSVersion = ""
	}
	if (portico.DeviceDetails{IMEI: d.IMEI}).Validate() != nil {
		d.IMEI = ""
	}
	return d
}

// maxDetail is the longest detail DeviceDetails.Validate takes.
const maxDetail = 128

// cleanDetail makes one reported value valid text: control characters
// become spaces, and it is cut at maxDetail characters.
func cleanDetail(v string) string {
	v = strings.ToValidUTF8(v, "")
	v = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, v)
	v = strings.TrimSpace(v)
	if r := []rune(v); len(r) > maxDetail {
		v = strings.TrimSpace(string(r[:maxDetail]))
	}
	return v
}

// applePlatform is the platform a product name says, or p when it says
// none of them.
func applePlatform(productName string, p portico.Platform) portico.Platform {
	switch {
	case strings.HasPrefix(productName, "iPhone"), strings.HasPrefix(productName, "iPod"):
		return portico.PlatformIOS
	case strings.HasPrefix(productName, "iPad"):
		return portico.PlatformIPadOS
	case strings.Contains(productName, "Mac"):
		return portico.PlatformMacOS
	}
	return p
}

// appleAuthenticate binds the device's UDID and identity to its record.
// A successful Authenticate does not mean the profile was installed: the
// registration completes at the first TokenUpdate. The details the
// device gives are kept on a pending record, for the portal and for the
// registration to complete with.
func (s *Service) appleAuthenticate(ctx context.Context, cert *x509.Certificate, m *applemdm.Checkin) error {
	action := portico.AuditEntry{Action: "apple.authenticate", Target: m.UDID}
	d, e, err := s.appleDevice(ctx, cert, m.UDID)
	if err != nil {
		s.auditRefusal(ctx, action, err)
		return err
	}
	if err := s.checkAppleTopic(ctx, m.Topic); err != nil {
		s.auditRefusal(ctx, action, err)
		return err
	}
	action.DeviceID = d.ID
	details := appleDetails(m.DeviceName, m.ProductName, m.ModelName, m.OSVersion, m.SerialNumber, m.IMEI, "", "")
	now := s.clock.Now()
	err = s.store.InTx(ctx, func(st store.Store) error {
		if d.Status == portico.StatusPending {
			if err := st.UpdateDeviceDetails(ctx, d.ID, details, now); err != nil {
				return err
			}
		}
		if e == nil {
			if err := s.releaseAppleUDID(ctx, st, d, m.UDID); err != nil {
				return err
			}
			e = &portico.AppleEnrollment{DeviceID: d.ID, UDID: m.UDID, Fingerprint: applemdm.Fingerprint(cert), EnrolledAt: now}
		}
		e.Topic, e.UpdatedAt = m.Topic, now
		if err := st.PutAppleEnrollment(ctx, e); err != nil {
			if portico.ErrorCode(err) == portico.ECONFLICT {
				return portico.Errorf(portico.EFORBIDDEN, "Another device enrolled with this UDID.")
			}
			return err
		}
		action.Detail = fmt.Sprintf("%s %s", applePlatform(details.Model, d.Platform).OSName(), details.Model)
		return s.audit(ctx, st, action)
	})
	if err != nil && portico.ErrorCode(err) != portico.EINTERNAL {
		s.auditRefusal(ctx, action, err)
	}
	return err
}

// releaseAppleUDID frees the UDID for d. A retired or wiped device's
// record lets it go. A record of the same user that holds it is the
// device registered again (reset, or a new registration before the old
// one was retired): that record is retired. Another user's device keeps
// it, and d is refused.
func (s *Service) releaseAppleUDID(ctx context.Context, st store.Store, d *portico.Device, udid string) error {
	if err := st.ReleaseAppleUDID(ctx, udid); err != nil {
		return err
	}
	holder, err := st.AppleEnrollmentByUDID(ctx, udid)
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	old, err := st.DeviceByID(ctx, holder.DeviceID)
	if err != nil {
		return err
	}
	if old.UserID != d.UserID {
		return portico.Errorf(portico.EFORBIDDEN, "This device (UDID %s) is enrolled to another user. Their device must be retired first.", udid)
	}
	if old.Status == portico.StatusActive {
		if err := st.EndDevice(ctx, old.ID, portico.StatusRetired); err != nil {
			return err
		}
	}
	if err := st.DeleteAppleEnrollment(ctx, old.ID); err != nil {
		return err
	}
	return s.audit(ctx, st, portico.AuditEntry{Action: "apple.replaced", DeviceID: old.ID, Target: udid,
		Detail: fmt.Sprintf("enrolled again as device %d", d.ID)})
}

// appleTokenUpdate keeps how to wake the device. The first one completes
// the registration of a pending device: the profile is installed.
func (s *Service) appleTokenUpdate(ctx context.Context, cert *x509.Certificate, m *applemdm.Checkin) error {
	d, e, err := s.appleDevice(ctx, cert, m.UDID)
	if err != nil {
		return err
	}
	if e == nil {
		return errAppleUnknown
	}
	if err := s.checkAppleTopic(ctx, m.Topic); err != nil {
		s.auditRefusal(ctx, portico.AuditEntry{Action: "apple.token", Target: m.UDID}, err)
		return err
	}
	token := store.AppleToken{PushToken: m.Token, PushMagic: m.PushMagic, Topic: m.Topic}
	if len(m.UnlockToken) > 0 && s.sealer != nil {
		token.UnlockToken = s.sealer.Seal(m.UnlockToken, unlockContext(d.ID))
	}
	now := s.clock.Now()
	return s.store.InTx(ctx, func(st store.Store) error {
		if d.Status == portico.StatusPending {
			if err := s.activateAppleDevice(ctx, st, d, cert, now); err != nil {
				return err
			}
		}
		first, err := st.UpdateAppleToken(ctx, d.ID, token, now)
		if err != nil || !first {
			return err
		}
		// The device can be woken now: ask it for its details, which the
		// portal shows (SPEC DEV-1).
		cmd := &portico.Command{DeviceID: d.ID, Kind: portico.CommandCheckin, Status: portico.CommandQueued, CreatedBy: "system", CreatedAt: now}
		if err := s.queueAppleCommand(ctx, st, d, cmd); err != nil {
			return err
		}
		return s.audit(ctx, st, portico.AuditEntry{Action: "apple.enrolled", DeviceID: d.ID, Target: m.UDID})
	})
}

// activateAppleDevice completes the registration of a pending device
// whose profile is now installed, with the details of its Authenticate.
func (s *Service) activateAppleDevice(ctx context.Context, st store.Store, d *portico.Device, cert *x509.Certificate, now time.Time) error {
	ac, err := st.AppleCertificate(ctx, applemdm.Fingerprint(cert))
	if err != nil {
		return err
	}
	d.Platform = applePlatform(d.Details.Model, d.Platform)
	d.RegisteredAt, d.LastCheckin = now, now
	var inv *portico.Invitation
	if ac.InvitationID != 0 {
		if inv, err = st.InvitationByID(ctx, ac.InvitationID); err != nil {
			return err
		}
		if err := s.completeRegistration(ctx, st, inv, d, nil); err != nil {
			return portico.Errorf(portico.EUNAUTHENTICATED, "This device's registration has ended: %s", portico.ErrorMessage(err))
		}
	} else if err := st.ActivateDevice(ctx, d, nil); err != nil {
		return err
	}
	if err := st.SetRegisteredWith(ctx, d.ID, registeredWith(inv)); err != nil {
		return err
	}
	d.Status = portico.StatusActive
	return s.audit(ctx, st, portico.AuditEntry{Action: "apple.registered", DeviceID: d.ID,
		Detail: fmt.Sprintf("%s %s", d.Platform.OSName(), d.Details.Model)})
}

func unlockContext(deviceID int64) []byte { return fmt.Appendf(nil, "apple-unlock-token:%d", deviceID) }

// appleCheckOut retires a device whose enrollment profile was removed,
// and completes the retirement that asked for it, if one did.
func (s *Service) appleCheckOut(ctx context.Context, cert *x509.Certificate, m *applemdm.Checkin) error {
	d, _, err := s.enrolledDevice(ctx, cert, m.UDID)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	return s.store.InTx(ctx, func(st store.Store) error {
		if open, err := st.OpenCommand(ctx, d.ID, portico.CommandRetire); err == nil && open.Status == portico.CommandSent {
			if _, err := st.FinishCommand(ctx, d.ID, open.ID, portico.CommandResult{Status: portico.CommandDone, Message: "The enrollment profile was removed."}, now); err != nil {
				return err
			}
		}
		if err := st.EndDevice(ctx, d.ID, portico.StatusRetired); err != nil {
			return err
		}
		return s.audit(ctx, st, portico.AuditEntry{Action: "apple.checkout", DeviceID: d.ID, Target: m.UDID})
	})
}

// BulkEnrollment is what an admin asks for in a bulk enrollment profile.
type BulkEnrollment struct {
	Username string
	Platform portico.Platform
	// Uses is how many devices may enroll with the profile.
	Uses int
	// ValidFor is how long the profile works.
	ValidFor time.Duration
}

// Limits of a bulk enrollment profile: enough for a delivery of devices,
// and short-lived, since anyone holding the file can enroll a device to
// the user.
const (
	maxBulkUses     = 500
	maxBulkValidFor = 30 * 24 * time.Hour
)

// BulkEnrollmentProfile makes an enrollment profile that enrolls up to
// b.Uses iPhones, iPads or Macs to a user until it expires (admins only,
// audited). Each device that uses it gets its own record and identity.
func (s *Service) BulkEnrollmentProfile(ctx context.Context, b BulkEnrollment) ([]byte, error) {
	action := portico.AuditEntry{Action: "apple.bulk_profile", Target: b.Username}
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	platform, err := portico.ParsePlatform(string(b.Platform))
	if err != nil {
		return nil, err
	}
	switch {
	case !platform.Apple():
		return nil, portico.Errorf(portico.EINVALID, "An enrollment profile is for iPhones, iPads and Macs, not %s.", platform.OSName())
	case b.Uses < 1 || b.Uses > maxBulkUses:
		return nil, portico.Errorf(portico.EINVALID, "A bulk enrollment profile enrolls from 1 to %d devices.", maxBulkUses)
	case b.ValidFor < time.Hour || b.ValidFor > maxBulkValidFor:
		return nil, portico.Errorf(portico.EINVALID, "A bulk enrollment profile works from 1 hour to 30 days.")
	}
	u, err := s.store.UserByUsername(ctx, strings.TrimSpace(b.Username))
	if portico.ErrorCode(err) == portico.ENOTFOUND || (err == nil && u.Disabled) {
		return nil, portico.Errorf(portico.ENOTFOUND, "There is no active user %q.", b.Username)
	} else if err != nil {
		return nil, err
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, err
	}
	var profile []byte
	err = s.store.InTx(ctx, func(st store.Store) error {
		ch := &portico.AppleChallenge{UserID: u.ID, Platform: platform, UsesLeft: b.Uses, ExpiresAt: s.clock.Now().Add(b.ValidFor)}
		if profile, err = s.enrollmentProfile(ctx, st, ch, v); err != nil {
			return err
		}
		action.Target = u.Username
		action.Detail = fmt.Sprintf("%d × %s until %s", b.Uses, platform.OSName(), ch.ExpiresAt.UTC().Format("2006-01-02 15:04 MST"))
		return s.audit(ctx, st, action)
	})
	return profile, err
}
