package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

// totpPeriod and totpSkew are what authenticator apps expect: a new
// six-digit code every 30 seconds, and one step either side accepted for
// a phone's clock that is a little off.
const (
	totpPeriod = 30
	totpSkew   = 1
	// recoveryCodes is how many recovery codes a user gets at once.
	recoveryCodes = 10
	// SecondFactorWait is how long a sign-in whose password was right
	// waits for its code before it must start again.
	SecondFactorWait = 5 * time.Minute
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

var (
	errWrongCode = portico.Errorf(portico.EUNAUTHENTICATED, "The code is wrong. Type the 6-digit code your authenticator app shows now, or one of your recovery codes.")
	errCodeUsed  = portico.Errorf(portico.EUNAUTHENTICATED, "This code was used already. Wait for the next one.")
	// ErrSignInAgain ends a held sign-in: the user starts again from the
	// password.
	ErrSignInAgain = portico.Errorf(portico.EUNAUTHENTICATED, "Your sign-in took too long. Please sign in again.")
)

// TwoFactor is the signed-in user's second factor as the account page
// shows it.
type TwoFactor struct {
	Enabled bool
	// Pending is the secret being set up, to show as a QR code and as
	// text; nil when none is.
	Pending *TwoFactorSetup
	// CodesLeft counts the unused recovery codes.
	CodesLeft int
}

// TwoFactorSetup is a secret to enter into an authenticator app.
type TwoFactorSetup struct {
	Secret string
	// URL is the otpauth:// address the QR code holds.
	URL string
}

// TwoFactor returns the signed-in user's second factor.
func (s *Service) TwoFactor(ctx context.Context) (*TwoFactor, error) {
	u, err := signedInUser(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.store.TOTP(ctx, u.ID)
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		return &TwoFactor{}, nil
	} else if err != nil {
		return nil, err
	}
	if t.Enabled() {
		n, err := s.store.RecoveryCodesLeft(ctx, u.ID)
		return &TwoFactor{Enabled: true, CodesLeft: n}, err
	}
	secret, err := s.openTOTP(t)
	if err != nil {
		return nil, err
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, err
	}
	return &TwoFactor{Pending: &TwoFactorSetup{Secret: secret, URL: otpauthURL(u, secret, v.PortalName())}}, nil
}

// StartTwoFactor makes a new secret for the signed-in user to set up,
// replacing one not yet confirmed.
func (s *Service) StartTwoFactor(ctx context.Context) error {
	u, err := signedInUser(ctx)
	if err != nil {
		return err
	}
	if s.sealer == nil {
		return fmt.Errorf("service: no sealer for second factors")
	}
	// Only the secret is kept: the issuer apps show comes from the portal's
	// name when TwoFactor makes the URL.
	key, err := totp.Generate(totp.GenerateOpts{Issuer: portico.DefaultPortalName, AccountName: u.Username, Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return err
	}
	t := &portico.TOTP{UserID: u.ID, CreatedAt: s.clock.Now()}
	t.Sealed = s.sealer.Seal([]byte(key.Secret()), totpContext(u.ID))
	action := portico.AuditEntry{Action: "two_factor.start", Target: u.Username}
	err = s.store.InTx(ctx, func(st store.Store) error {
		if err := st.PutPendingTOTP(ctx, t); err != nil {
			return err
		}
		return s.audit(ctx, st, action)
	})
	if err != nil {
		s.auditRefusal(ctx, action, err)
	}
	return err
}

// ConfirmTwoFactor switches the signed-in user's pending secret on once
// the user typed a current code from it, and returns the recovery codes,
// which are shown this once: only their hashes are kept.
func (s *Service) ConfirmTwoFactor(ctx context.Context, code string) ([]string, error) {
	action := portico.AuditEntry{Action: "two_factor.enable"}
	codes, err := s.confirmTwoFactor(ctx, &action, code)
	if err != nil {
		s.auditRefusal(ctx, action, err)
	}
	return codes, err
}

func (s *Service) confirmTwoFactor(ctx context.Context, action *portico.AuditEntry, code string) ([]string, error) {
	u, err := signedInUser(ctx)
	if err != nil {
		return nil, err
	}
	action.Target = u.Username
	t, err := s.store.TOTP(ctx, u.ID)
	if portico.ErrorCode(err) == portico.ENOTFOUND || (err == nil && t.Enabled()) {
		return nil, portico.Errorf(portico.ECONFLICT, "Two-step sign-in is not being set up. Start again from your account page.")
	} else if err != nil {
		return nil, err
	}
	a, err := s.beginCodeAttempt(ctx, u)
	if err != nil {
		return nil, err
	}
	step, err := s.matchStep(t, normalizeCode(code))
	if err != nil {
		return nil, a.failed(ctx, err)
	}
	codes, hashes := newRecoveryCodes()
	err = s.store.InTx(ctx, func(st store.Store) error {
		if err := st.EnableTOTP(ctx, u.ID, step, s.clock.Now(), hashes); err != nil {
			return err
		}
		return s.audit(ctx, st, *action)
	})
	if err != nil {
		return nil, a.failed(ctx, err)
	}
	return codes, a.codeSucceeded(ctx, u)
}

// DisableTwoFactor switches the signed-in user's second factor off; it
// takes a current code (or a recovery code), so that a session left open
// is not enough.
func (s *Service) DisableTwoFactor(ctx context.Context, code string) error {
	action := portico.AuditEntry{Action: "two_factor.disable"}
	err := s.disableTwoFactor(ctx, &action, code)
	if err != nil {
		s.auditRefusal(ctx, action, err)
	}
	return err
}

func (s *Service) disableTwoFactor(ctx context.Context, action *portico.AuditEntry, code string) error {
	u, err := signedInUser(ctx)
	if err != nil {
		return err
	}
	action.Target = u.Username
	if err := s.checkCode(ctx, u, code); err != nil {
		return err
	}
	return s.store.InTx(ctx, func(st store.Store) error {
		if err := st.DeleteTOTP(ctx, u.ID); err != nil {
			return err
		}
		return s.audit(ctx, st, *action)
	})
}

// ResetTwoFactor switches a user's second factor off for them, when they
// lost their phone and their recovery codes (admins only).
func (s *Service) ResetTwoFactor(ctx context.Context, userID int64) (*portico.User, error) {
	return s.resetTwoFactor(ctx, func() (*portico.User, error) { return s.store.UserByID(ctx, userID) })
}

// ResetTwoFactorOf is ResetTwoFactor for the user with the name: the
// operator's way back in for an only admin who lost phone and codes.
func (s *Service) ResetTwoFactorOf(ctx context.Context, username string) (*portico.User, error) {
	return s.resetTwoFactor(ctx, func() (*portico.User, error) { return s.store.UserByUsername(ctx, strings.TrimSpace(username)) })
}

// resetTwoFactor checks the actor before it looks the user up, so that no
// one else learns which users exist.
func (s *Service) resetTwoFactor(ctx context.Context, lookUp func() (*portico.User, error)) (*portico.User, error) {
	action := portico.AuditEntry{Action: "user.two_factor_reset"}
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	u, err := lookUp()
	if err != nil {
		return nil, err
	}
	action.Target = u.Username
	if err := notOnAdminWithAPIKey(ctx, u, "Resetting the two-step sign-in"); err != nil {
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	t, err := s.store.TOTP(ctx, u.ID)
	if portico.ErrorCode(err) == portico.ENOTFOUND || (err == nil && !t.Enabled()) {
		return nil, portico.Errorf(portico.ECONFLICT, "%s does not use two-step sign-in.", u.Username)
	} else if err != nil {
		return nil, err
	}
	return u, s.store.InTx(ctx, func(st store.Store) error {
		if err := st.DeleteTOTP(ctx, u.ID); err != nil {
			return err
		}
		return s.audit(ctx, st, action)
	})
}

// UserTwoFactor reports whether a user signs in with a second factor
// (admins only).
func (s *Service) UserTwoFactor(ctx context.Context, userID int64) (bool, error) {
	if err := requireAdmin(ctx); err != nil {
		return false, err
	}
	return s.twoFactorEnabled(ctx, userID)
}

func (s *Service) twoFactorEnabled(ctx context.Context, userID int64) (bool, error) {
	t, err := s.store.TOTP(ctx, userID)
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		return false, nil
	}
	return t.Enabled(), err
}

// BeginSignIn follows a right password: it returns the pending sign-in
// that waits for the user's second factor, or nil when the user has none
// and is signed in now.
func (s *Service) BeginSignIn(ctx context.Context, u *portico.User) (*portico.PendingSignIn, error) {
	on, err := s.twoFactorEnabled(ctx, u.ID)
	if err != nil || !on {
		return nil, err
	}
	return &portico.PendingSignIn{UserID: u.ID, Epoch: u.SessionEpoch, Started: s.clock.Now()}, nil
}

// FinishSignIn checks the second factor of a pending sign-in: a current
// code, accepted once, or an unused recovery code, which is then used up.
// Codes are throttled like passwords.
func (s *Service) FinishSignIn(ctx context.Context, p portico.PendingSignIn, code string) (*portico.User, error) {
	action := portico.AuditEntry{Action: "login.second_factor"}
	u, err := s.finishSignIn(ctx, p, code)
	if err != nil {
		if u != nil {
			action.Target = u.Username
		}
		s.auditRefusal(ctx, action, err)
		return nil, err
	}
	action.Target = u.Username
	ctx = portico.NewContextWithActor(ctx, portico.Actor{User: u, Source: portico.ActorFromContext(ctx).Source})
	if err := s.audit(ctx, s.store, action); err != nil {
		return nil, err
	}
	return u, nil
}

func (s *Service) finishSignIn(ctx context.Context, p portico.PendingSignIn, code string) (*portico.User, error) {
	u, err := s.store.UserByID(ctx, p.UserID)
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		return nil, ErrSignInAgain
	} else if err != nil {
		return nil, err
	}
	if u.Disabled || u.SessionEpoch != p.Epoch || s.clock.Now().Sub(p.Started) > SecondFactorWait {
		return u, ErrSignInAgain
	}
	// A second factor switched off meanwhile (an admin's reset) leaves the
	// password alone to sign in with: from the start.
	if err := s.checkCode(ctx, u, code); portico.ErrorCode(err) == portico.ECONFLICT {
		return u, ErrSignInAgain
	} else if err != nil {
		return u, err
	}
	return u, nil
}

// checkCode checks, throttled, a code of the user's enabled second factor
// or one of the user's recovery codes, and uses it up.
func (s *Service) checkCode(ctx context.Context, u *portico.User, code string) error {
	t, err := s.store.TOTP(ctx, u.ID)
	if portico.ErrorCode(err) == portico.ENOTFOUND || (err == nil && !t.Enabled()) {
		return portico.Errorf(portico.ECONFLICT, "Two-step sign-in is off for %s.", u.Username)
	} else if err != nil {
		return err
	}
	a, err := s.beginCodeAttempt(ctx, u)
	if err != nil {
		return err
	}
	code = normalizeCode(code)
	if isDigits(code, int(otp.DigitsSix)) {
		var step int64
		if step, err = s.matchStep(t, code); err == nil {
			if err = s.store.UseTOTPStep(ctx, u.ID, step); portico.ErrorCode(err) == portico.ECONFLICT {
				err = errCodeUsed
			}
		}
	} else {
		err = s.store.UseRecoveryCode(ctx, u.ID, recoveryHash(code), s.clock.Now())
		if portico.ErrorCode(err) == portico.ENOTFOUND {
			err = errWrongCode
		}
	}
	if err != nil {
		return a.failed(ctx, err)
	}
	return a.codeSucceeded(ctx, u)
}

// matchStep returns the time step, within the skew, whose code is code;
// a step at or before the last one accepted is a replay.
func (s *Service) matchStep(t *portico.TOTP, code string) (int64, error) {
	if !isDigits(code, int(otp.DigitsSix)) {
		return 0, errWrongCode
	}
	secret, err := s.openTOTP(t)
	if err != nil {
		return 0, err
	}
	now := s.clock.Now().Unix() / totpPeriod
	replayed := false
	for step := now - totpSkew; step <= now+totpSkew; step++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totpOpts)
		if err != nil {
			return 0, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
			continue
		}
		if step <= t.LastStep {
			replayed = true
			continue
		}
		return step, nil
	}
	if replayed {
		return 0, errCodeUsed
	}
	return 0, errWrongCode
}

// beginCodeAttempt counts a try of a code against the user and the source
// address. The user's count is its own, not the password's: a right
// password, which clears that one, must not buy more guesses of codes.
func (s *Service) beginCodeAttempt(ctx context.Context, u *portico.User) (*attempt, error) {
	settings, err := s.store.SettingValues(ctx)
	if err != nil {
		return nil, err
	}
	limit := settings.Int("login.max_failures")
	return s.beginAttempt(ctx, settings.Duration("login.lockout"),
		attemptLimit{codeKey(u), limit}, attemptLimit{"addr:" + portico.ActorFromContext(ctx).Source, limit * addressFailureFactor})
}

func (a *attempt) codeSucceeded(ctx context.Context, u *portico.User) error {
	if err := a.s.store.ClearLoginFailures(ctx, codeKey(u)); err != nil {
		return err
	}
	return a.succeeded(ctx)
}

func codeKey(u *portico.User) string { return fmt.Sprintf("code:%d", u.ID) }

// AdminMustEnrol reports whether the settings send this admin to set up
// a second factor before any admin page.
func (s *Service) AdminMustEnrol(ctx context.Context, u *portico.User) (bool, error) {
	if !u.Admin {
		return false, nil
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil || !v.Bool("security.require_admin_2fa") {
		return false, err
	}
	on, err := s.twoFactorEnabled(ctx, u.ID)
	return !on, err
}

func (s *Service) openTOTP(t *portico.TOTP) (string, error) {
	if s.sealer == nil {
		return "", fmt.Errorf("service: no sealer for second factors")
	}
	b, err := s.sealer.Open(t.Sealed, totpContext(t.UserID))
	if err != nil {
		return "", fmt.Errorf("opening the second factor of user %d: %w", t.UserID, err)
	}
	return string(b), nil
}

// otpauthURL is the address authenticator apps read from a QR code; they
// list the code under issuer, the portal's name.
func otpauthURL(u *portico.User, secret, issuer string) string {
	q := url.Values{"secret": {secret}, "issuer": {issuer}, "period": {strconv.Itoa(totpPeriod)}, "digits": {"6"}, "algorithm": {"SHA1"}}
	return (&url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + u.Username, RawQuery: q.Encode()}).String()
}

// totpContext binds a sealed secret to its user.
func totpContext(userID int64) []byte { return fmt.Appendf(nil, "totp:%d", userID) }

// newRecoveryCodes returns codes of 80 random bits, grouped for reading,
// and their SHA-256: a hash that fast is enough for a secret that long.
func newRecoveryCodes() (codes []string, hashes [][]byte) {
	for range recoveryCodes {
		raw := strings.ToLower(rand.Text()[:16])
		codes = append(codes, raw[:4]+"-"+raw[4:8]+"-"+raw[8:12]+"-"+raw[12:])
		hashes = append(hashes, recoveryHash(raw))
	}
	return codes, hashes
}

func recoveryHash(normalized string) []byte {
	h := sha256.Sum256([]byte(normalized))
	return h[:]
}

// normalizeCode drops what people type between groups of digits or
// letters, and case.
func normalizeCode(s string) string {
	return strings.ToLower(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, s))
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
