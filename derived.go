package portico

import (
	"net"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// DerivedStatus is where a request for a derived credential is (SPEC
// DERIV-2): sent to the provider, then answered once.
type DerivedStatus string

const (
	DerivedPending   DerivedStatus = "pending"
	DerivedSucceeded DerivedStatus = "succeeded"
	DerivedFailed    DerivedStatus = "failed"
)

// DerivedRequest is one trip of a user to the derived-credential provider
// for a pending registration. Its state (the secret the provider sends
// back) is stored hashed, works once and expires.
type DerivedRequest struct {
	ID           int64
	InvitationID int64
	UserID       int64
	Status       DerivedStatus
	CreatedAt    time.Time
	ExpiresAt    time.Time
	ReturnedAt   time.Time
}

// DerivedSecretMinLength is the shortest shared secret a provider may
// sign with: 32 characters keep a guess of the HMAC key out of reach.
const DerivedSecretMinLength = 32

// DerivedProvider is the derived-credential provider an admin configured
// (SPEC DERIV-1).
type DerivedProvider struct {
	Name, URL, Secret string
}

// DerivedProvider returns the provider; ok is false until its name, its
// address and its secret are all set.
func (v SettingValues) DerivedProvider() (p DerivedProvider, ok bool) {
	p = DerivedProvider{Name: v.Get("derived.provider"), URL: v.Get("derived.url"), Secret: v.Get("derived.secret")}
	return p, p.Name != "" && p.URL != "" && p.Secret != ""
}

// OffersDerivedCredential reports whether users may get a derived credential for a device
// of the platform: iPhones, iPads and Android devices carry a PIV-D app;
// Macs and Windows PCs do not.
func (p Platform) OffersDerivedCredential() bool {
	return p == PlatformIOS || p == PlatformIPadOS || p == PlatformAndroid
}

// providerURL is the provider's self-service address: https, or http only
// on this machine (a provider under test), and without a fragment, since
// Portico adds its parameters to the query.
func providerURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" || u.User != nil || (u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname()))) {
		return Errorf(EINVALID, "%q is not a web address starting with https://.", s)
	}
	if u.Fragment != "" || strings.HasSuffix(s, "#") {
		return Errorf(EINVALID, "The address must not end in a #fragment: Portico adds return_url and state to its query.")
	}
	return nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func derivedSecret(s string) error {
	if err := line(1000)(s); err != nil {
		return err
	}
	if s != "" && utf8.RuneCountInString(s) < DerivedSecretMinLength {
		return Errorf(EINVALID, "The shared secret must be at least %d characters long; a random one of 64 hexadecimal digits is best.", DerivedSecretMinLength)
	}
	return nil
}
