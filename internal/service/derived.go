package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/store"
)

// DerivedStateLifetime is how long a trip to the derived-credential
// provider may take: the state it carries stops working after it.
const DerivedStateLifetime = 15 * time.Minute

// DerivedReturnPath is where the provider sends the browser back, under
// the base URL.
const DerivedReturnPath = "derived-credential/return"

// The provider's two answers (the result parameter of the return link).
const (
	DerivedResultSuccess = "success"
	DerivedResultFailure = "failure"
)

// DerivedOffer is what the portal shows of derived credentials for one of
// the user's pending registrations (SPEC DERIV-1).
type DerivedOffer struct {
	// Offered shows Request derived credential.
	Offered  bool
	Provider string
	// Issued means the provider issued one for this registration: the
	// button shows as done, and is disabled.
	Issued bool
}

// DerivedCredentialOffer says whether the signed-in user is offered a
// derived credential for the registration: a provider is configured, the
// user may request a registration PIN, the registration is the user's and
// still open, and the device is an iPhone, iPad or Android device.
func (s *Service) DerivedCredentialOffer(ctx context.Context, inv *portico.Invitation) (DerivedOffer, error) {
	u, err := signedInUser(ctx)
	if err != nil {
		return DerivedOffer{}, err
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return DerivedOffer{}, err
	}
	p, err := s.mayRequestDerived(u, v, inv)
	if err != nil {
		return DerivedOffer{}, nil // why not is for RequestDerivedCredential to say
	}
	issued, err := s.store.DerivedCredentialIssued(ctx, inv.ID)
	return DerivedOffer{Offered: true, Provider: p.Name, Issued: issued}, err
}

// mayRequestDerived returns the provider when the user may get a derived
// credential for the registration, else why not.
func (s *Service) mayRequestDerived(u *portico.User, v portico.SettingValues, inv *portico.Invitation) (portico.DerivedProvider, error) {
	p, configured := v.DerivedProvider()
	switch {
	case !configured || !capabilities(u, v).RequestPIN:
		return p, portico.Errorf(portico.EFORBIDDEN, "Your account may not request derived credentials. Ask the helpdesk if you need one.")
	case inv.UserID != u.ID:
		return p, portico.Errorf(portico.ENOTFOUND, "There is no such registration waiting among yours.")
	case inv.Kind != portico.InviteWithPIN:
		// The credential goes with a registration PIN (SPEC DERIV-1).
		return p, portico.Errorf(portico.EINVALID, "A derived credential goes with a registration PIN: request a PIN for the device first.")
	case !inv.Platform.OffersDerivedCredential():
		return p, portico.Errorf(portico.EINVALID, "Derived credentials are for iPhones, iPads and Android devices, not for a %s.", inv.Platform.DeviceNoun())
	case !inv.Open(s.clock.Now()):
		return p, portico.Errorf(portico.ECONFLICT, "This registration has ended. Request a new one in the portal.")
	}
	return p, nil
}

// DerivedTrip is where the browser goes to get a derived credential.
type DerivedTrip struct {
	Provider string
	// URL is the provider's self-service address with return_url and state.
	URL string
}

// RequestDerivedCredential starts a trip to the provider for one of the
// user's pending registrations (SPEC DERIV-2): a random state, stored
// hashed, tied to the user and the registration, that works once within
// DerivedStateLifetime.
func (s *Service) RequestDerivedCredential(ctx context.Context, invitationID int64) (*DerivedTrip, error) {
	action := portico.AuditEntry{Action: "derived.request", Target: fmt.Sprint(invitationID)}
	trip, err := s.requestDerived(ctx, invitationID, &action)
	if err != nil {
		s.auditRefusal(ctx, action, err)
	}
	return trip, err
}

func (s *Service) requestDerived(ctx context.Context, invitationID int64, action *portico.AuditEntry) (*DerivedTrip, error) {
	inv, err := s.myInvitation(ctx, invitationID)
	if err != nil {
		return nil, err
	}
	action.DeviceID = inv.DeviceID
	u := portico.ActorFromContext(ctx).User
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.mayRequestDerived(u, v, inv)
	if err != nil {
		return nil, err
	}
	if issued, err := s.store.DerivedCredentialIssued(ctx, inv.ID); err != nil {
		return nil, err
	} else if issued {
		return nil, portico.Errorf(portico.ECONFLICT, "A derived credential was already issued for this %s.", inv.Platform.DeviceNoun())
	}
	target, err := url.Parse(p.URL)
	if err != nil {
		return nil, err // checked when the setting was stored
	}
	state, stateHash := secret.NewToken()
	q := target.Query()
	q.Set("return_url", s.baseURL+DerivedReturnPath)
	q.Set("state", state)
	target.RawQuery = q.Encode()

	now := s.clock.Now()
	r := &portico.DerivedRequest{InvitationID: inv.ID, UserID: u.ID, Status: portico.DerivedPending,
		CreatedAt: now, ExpiresAt: now.Add(DerivedStateLifetime)}
	err = s.store.InTx(ctx, func(st store.Store) error {
		if err := st.CreateDerivedRequest(ctx, r, stateHash); err != nil {
			return err
		}
		action.Detail = "to " + p.Name
		return s.audit(ctx, st, *action)
	})
	if err != nil {
		return nil, err
	}
	return &DerivedTrip{Provider: p.Name, URL: target.String()}, nil
}

// DerivedAnswer is the provider's answer as the browser brings it back:
// the return link's parameters.
type DerivedAnswer struct {
	State, Result, Signature string
}

// DerivedResult is what the portal tells the user on return.
type DerivedResult struct {
	Provider  string
	Succeeded bool
	// Device is what the user calls the device, for the message.
	Device string
}

// DerivedSignature is the provider's signature of an answer: the HMAC-
// SHA256, keyed with the shared secret, of the state, a line feed and the
// result, in hexadecimal (docs/derived-credentials.md).
func DerivedSignature(secret, state, result string) string {
	return hex.EncodeToString(derivedMAC(secret, state, result))
}

func derivedMAC(secret, state, result string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(state + "\n" + result))
	return m.Sum(nil)
}

// ReturnDerivedCredential records the provider's answer to one of the
// signed-in user's requests (SPEC DERIV-2). A forged signature, a state
// that is unknown, used, expired or another user's, is refused and
// audited, and changes nothing.
func (s *Service) ReturnDerivedCredential(ctx context.Context, a DerivedAnswer) (*DerivedResult, error) {
	action := portico.AuditEntry{Action: "derived.return"}
	res, err := s.returnDerived(ctx, a, &action)
	if err != nil {
		s.auditRefusal(ctx, action, err)
	}
	return res, err
}

func (s *Service) returnDerived(ctx context.Context, a DerivedAnswer, action *portico.AuditEntry) (*DerivedResult, error) {
	u, err := signedInUser(ctx)
	if err != nil {
		return nil, err
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, err
	}
	p, configured := v.DerivedProvider()
	if !configured {
		return nil, portico.Errorf(portico.EFORBIDDEN, "No derived-credential provider is configured, so this answer cannot be checked. Ask the helpdesk.")
	}
	if a.State == "" || (a.Result != DerivedResultSuccess && a.Result != DerivedResultFailure) || a.Signature == "" {
		return nil, portico.Errorf(portico.EINVALID, "This return link is incomplete: it needs state, result (success or failure) and signature. Request the credential again from the portal.")
	}
	// The signature is checked first, so that a forger learns nothing
	// about which states exist.
	got, err := hex.DecodeString(a.Signature)
	if err != nil || !hmac.Equal(got, derivedMAC(p.Secret, a.State, a.Result)) {
		return nil, portico.Errorf(portico.EFORBIDDEN, "The signature of this return link is wrong, so it did not come from %s. Nothing was recorded; request the credential again from the portal.", p.Name)
	}
	r, err := s.store.DerivedRequestByStateHash(ctx, secret.HashToken(a.State))
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		return nil, portico.Errorf(portico.ENOTFOUND, "This return link names no request of the portal. Request the credential again from the portal.")
	} else if err != nil {
		return nil, err
	}
	action.Target = fmt.Sprint(r.ID)
	switch {
	case r.UserID != u.ID:
		return nil, portico.Errorf(portico.EFORBIDDEN, "This return link belongs to another user's request. Sign in as the user who requested the credential.")
	case r.Status != portico.DerivedPending:
		return nil, errDerivedUsed
	case !s.clock.Now().Before(r.ExpiresAt):
		return nil, portico.Errorf(portico.ECONFLICT, "This return link has expired: it works for %d minutes. Request the credential again from the portal.", int(DerivedStateLifetime/time.Minute))
	}
	inv, err := s.store.InvitationByID(ctx, r.InvitationID)
	if err != nil {
		return nil, err
	}
	action.DeviceID = inv.DeviceID
	if !inv.Open(s.clock.Now()) {
		return nil, portico.Errorf(portico.ECONFLICT, "This registration has ended since the credential was requested, so nothing was recorded. Start a new registration in the portal.")
	}
	res := &DerivedResult{Provider: p.Name, Succeeded: a.Result == DerivedResultSuccess, Device: inv.Platform.DeviceNoun()}
	status, entry := portico.DerivedSucceeded, *action
	entry.Detail = "issued by " + p.Name
	if !res.Succeeded {
		status, entry.Result, entry.Detail = portico.DerivedFailed, portico.ResultFailed, p.Name+" reported a failure"
	}
	err = s.store.InTx(ctx, func(st store.Store) error {
		// Conditional on the request still waiting: of two returns racing
		// with one state, the second finds it answered.
		if err := st.AnswerDerivedRequest(ctx, r.ID, status, s.clock.Now()); portico.ErrorCode(err) == portico.ECONFLICT {
			return errDerivedUsed
		} else if err != nil {
			return err
		}
		return s.audit(ctx, st, entry)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

var errDerivedUsed = portico.Errorf(portico.ECONFLICT, "This return link was already used. Each works once; request the credential again from the portal if you need to.")
