package applesim

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"

	"github.com/smallstep/pkcs7"
	"howett.net/plist"

	"github.com/portico-mdm/portico/internal/certfile"
)

// Profile is a configuration profile as a device reads it: the top level,
// every payload, and the payloads the simulator acts on decoded.
type Profile struct {
	Identifier, UUID                       string
	DisplayName, Description, Organization string
	Version                                int
	RemovalDisallowed, HasRemovalPasscode  bool
	Encrypted                              bool
	// Signers are the certificates of a signed profile, the signer's
	// first; nil for an unsigned one.
	Signers  []*x509.Certificate
	Payloads []Payload
	MDM      *MDMPayload
	SCEP     []SCEPPayload
	// Roots are the certificates of its com.apple.security.root payloads,
	// which the device trusts from then on.
	Roots    []*x509.Certificate
	WebClips []WebClip
}

// Payload is what every payload has.
type Payload struct {
	Type, Identifier, UUID                 string
	DisplayName, Description, Organization string
	Version                                int
}

// MDMPayload is a com.apple.mdm payload.
type MDMPayload struct {
	IdentityCertificateUUID string
	Topic                   string
	ServerURL               string
	CheckInURL              string
	SignMessage             bool
	CheckOutWhenRemoved     bool
	AccessRights            int
	ServerCapabilities      []string
	UseDevelopmentAPNS      bool
}

// SCEPPayload is a com.apple.security.scep payload.
type SCEPPayload struct {
	UUID      string
	URL       string
	Name      string
	Subject   [][][]string
	Challenge string
	Keysize   int
	KeyType   string
	KeyUsage  int
	// CAFingerprint is a digest of the CA certificate: MD5, SHA-1 or
	// SHA-256 by its length.
	CAFingerprint  []byte
	SubjectAltName map[string]string
}

// WebClip is a com.apple.webClip.managed payload.
type WebClip struct {
	URL, Label  string
	IsRemovable bool
}

// ProfileError is a profile the device refuses, with the domain and code
// a device reports in an ErrorChain.
type ProfileError struct {
	Domain  string
	Code    int
	Message string
}

func (e *ProfileError) Error() string { return e.Message }

func malformed(format string, args ...any) *ProfileError {
	return &ProfileError{"MCProfileErrorDomain", 1000, fmt.Sprintf(format, args...)}
}

func missingField(what, key string) *ProfileError {
	return &ProfileError{"MCPayloadErrorDomain", 2002, fmt.Sprintf("The %s has no %s.", what, key)}
}

// ParseProfile reads a profile as a device installs it: a CMS SignedData
// whose signature must verify, or a plain property list. It refuses what a
// device refuses: no top-level identifier or UUID, a payload without type,
// identifier or UUID, duplicate UUIDs, a web clip without URL or label, a
// PKCS#12 that does not open with its password. An encrypted profile needs
// ParseProfileFor.
func ParseProfile(data []byte) (*Profile, error) {
	return parseProfile(data, nil, nil)
}

// ParseProfileFor is ParseProfile for a device that holds the identity an
// encrypted profile was encrypted to.
func ParseProfileFor(data []byte, cert *x509.Certificate, key crypto.PrivateKey) (*Profile, error) {
	return parseProfile(data, cert, key)
}

type topLevel struct {
	PayloadType              string
	PayloadIdentifier        string
	PayloadUUID              string
	PayloadVersion           int
	PayloadDisplayName       string
	PayloadDescription       string
	PayloadOrganization      string
	PayloadRemovalDisallowed bool
	HasRemovalPasscode       bool
	IsEncrypted              bool
	PayloadContent           []map[string]any
	EncryptedPayloadContent  []byte
}

func parseProfile(data []byte, cert *x509.Certificate, key crypto.PrivateKey) (*Profile, error) {
	content, signers, err := openSigned(data)
	if err != nil {
		return nil, err
	}
	var top topLevel
	if _, err := plist.Unmarshal(content, &top); err != nil {
		return nil, malformed("The profile is not a property list: %v.", err)
	}
	if top.PayloadType != "Configuration" {
		return nil, malformed("The profile's PayloadType is %q, not Configuration.", top.PayloadType)
	}
	switch {
	case top.PayloadIdentifier == "":
		return nil, missingField("profile", "PayloadIdentifier")
	case top.PayloadUUID == "":
		return nil, missingField("profile", "PayloadUUID")
	case top.PayloadVersion != 1:
		return nil, &ProfileError{"MCProfileErrorDomain", 1001, fmt.Sprintf("The profile's PayloadVersion is %d; only 1 is supported.", top.PayloadVersion)}
	}
	p := &Profile{
		Identifier: top.PayloadIdentifier, UUID: top.PayloadUUID, Version: top.PayloadVersion,
		DisplayName: top.PayloadDisplayName, Description: top.PayloadDescription, Organization: top.PayloadOrganization,
		RemovalDisallowed: top.PayloadRemovalDisallowed, HasRemovalPasscode: top.HasRemovalPasscode,
		Encrypted: len(top.EncryptedPayloadContent) > 0, Signers: signers,
	}
	payloads := top.PayloadContent
	if p.Encrypted {
		if payloads, err = decryptPayloads(top.EncryptedPayloadContent, cert, key); err != nil {
			return nil, err
		}
	}
	if len(payloads) == 0 {
		return nil, &ProfileError{"MCProfileErrorDomain", 1005, "The profile has no payloads."}
	}
	uuids := map[string]bool{p.UUID: true}
	for i, raw := range payloads {
		if err := p.addPayload(raw, uuids); err != nil {
			if pe, ok := err.(*ProfileError); ok {
				pe.Message = fmt.Sprintf("Payload %d: %s", i+1, pe.Message)
			}
			return nil, err
		}
	}
	if err := p.checkMail(payloads); err != nil {
		return nil, err
	}
	return p, nil
}

// openSigned returns the content of a signed profile after checking its
// signature, or a plain property list as it is.
func openSigned(data []byte) ([]byte, []*x509.Certificate, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if bytes.HasPrefix(trimmed, []byte("<")) || bytes.HasPrefix(trimmed, []byte("bplist")) {
		return data, nil, nil
	}
	p7, err := pkcs7.Parse(data)
	if err != nil {
		return nil, nil, malformed("The profile is neither a property list nor signed data: %v.", err)
	}
	if len(p7.Signers) == 0 {
		return nil, nil, malformed("The profile's signed data has no signer.")
	}
	if err := p7.Verify(); err != nil {
		return nil, nil, &ProfileError{"MCProfileErrorDomain", 1004, fmt.Sprintf("The profile's signature does not verify: %v.", err)}
	}
	signers := []*x509.Certificate{}
	if s := p7.GetOnlySigner(); s != nil {
		signers = append(signers, s)
	}
	for _, c := range p7.Certificates {
		if len(signers) == 0 || !c.Equal(signers[0]) {
			signers = append(signers, c)
		}
	}
	return p7.Content, signers, nil
}

// decryptPayloads opens EncryptedPayloadContent, a CMS EnvelopedData of
// the payload array, with the device's identity.
func decryptPayloads(data []byte, cert *x509.Certificate, key crypto.PrivateKey) ([]map[string]any, error) {
	if cert == nil {
		return nil, &ProfileError{"MCProfileErrorDomain", 1006, "The profile is encrypted and the device has no identity to open it with."}
	}
	p7, err := pkcs7.Parse(data)
	if err == nil {
		data, err = p7.Decrypt(cert, key)
	}
	if err != nil {
		return nil, &ProfileError{"MCProfileErrorDomain", 1006, fmt.Sprintf("The profile cannot be decrypted with the device identity: %v.", err)}
	}
	var payloads []map[string]any
	if _, err := plist.Unmarshal(data, &payloads); err != nil {
		return nil, malformed("The decrypted payloads are not a property list array: %v.", err)
	}
	return payloads, nil
}

func (p *Profile) addPayload(raw map[string]any, uuids map[string]bool) error {
	var common struct {
		PayloadType, PayloadIdentifier, PayloadUUID                 string
		PayloadDisplayName, PayloadDescription, PayloadOrganization string
		PayloadVersion                                              int
	}
	if err := redecode(raw, &common); err != nil {
		return err
	}
	for _, f := range [][2]string{{"PayloadType", common.PayloadType}, {"PayloadIdentifier", common.PayloadIdentifier}, {"PayloadUUID", common.PayloadUUID}} {
		if f[1] == "" {
			return missingField("payload", f[0])
		}
	}
	if uuids[common.PayloadUUID] {
		return &ProfileError{"MCProfileErrorDomain", 1007, fmt.Sprintf("The UUID %s is used twice.", common.PayloadUUID)}
	}
	uuids[common.PayloadUUID] = true
	p.Payloads = append(p.Payloads, Payload{
		Type: common.PayloadType, Identifier: common.PayloadIdentifier, UUID: common.PayloadUUID,
		DisplayName: common.PayloadDisplayName, Description: common.PayloadDescription,
		Organization: common.PayloadOrganization, Version: common.PayloadVersion,
	})
	switch common.PayloadType {
	case "com.apple.mdm":
		if p.MDM != nil {
			return &ProfileError{"MCMDMErrorDomain", 12001, "The profile has more than one MDM payload."}
		}
		p.MDM = &MDMPayload{}
		return redecode(raw, p.MDM)
	case "com.apple.security.scep":
		var s struct {
			PayloadContent struct {
				URL, Name, Challenge string
				Subject              [][][]string
				Keysize              int
				KeyType              string `plist:"Key Type"`
				KeyUsage             int    `plist:"Key Usage"`
				CAFingerprint        []byte
				SubjectAltName       map[string]string
			}
		}
		if err := redecode(raw, &s); err != nil {
			return err
		}
		c := s.PayloadContent
		if c.URL == "" {
			return missingField("SCEP payload", "URL")
		}
		if c.KeyType != "" && c.KeyType != "RSA" {
			return &ProfileError{"MCPayloadErrorDomain", 2004, fmt.Sprintf("The SCEP payload's Key Type is %q; only RSA is supported.", c.KeyType)}
		}
		if c.Keysize == 0 {
			c.Keysize = 1024 // the payload's documented default
		}
		p.SCEP = append(p.SCEP, SCEPPayload{
			UUID: common.PayloadUUID, URL: c.URL, Name: c.Name, Subject: c.Subject, Challenge: c.Challenge,
			Keysize: c.Keysize, KeyType: "RSA", KeyUsage: c.KeyUsage, CAFingerprint: c.CAFingerprint, SubjectAltName: c.SubjectAltName,
		})
	case "com.apple.security.root", "com.apple.security.pem", "com.apple.security.pkcs1":
		var r struct{ PayloadContent []byte }
		if err := redecode(raw, &r); err != nil {
			return err
		}
		cert, err := parseCertificate(r.PayloadContent)
		if err != nil {
			return &ProfileError{"MCCertificateErrorDomain", 9005, "The certificate payload is malformed: " + err.Error()}
		}
		if common.PayloadType == "com.apple.security.root" {
			p.Roots = append(p.Roots, cert)
		}
	case "com.apple.security.pkcs12":
		var c struct {
			PayloadContent []byte
			Password       string
		}
		if err := redecode(raw, &c); err != nil {
			return err
		}
		if len(c.PayloadContent) == 0 {
			return missingField("PKCS#12 payload", "PayloadContent")
		}
		if _, err := certfile.Decode(c.PayloadContent, c.Password); err != nil {
			return &ProfileError{"MCCertificateErrorDomain", 9000, "The PKCS#12 payload does not open with its password."}
		}
	case "com.apple.webClip.managed":
		w := WebClip{IsRemovable: true}
		if err := redecode(raw, &w); err != nil {
			return err
		}
		if w.Label == "" {
			return missingField("web clip", "Label")
		}
		if u, err := url.Parse(w.URL); w.URL == "" || err != nil || u.Scheme == "" {
			return missingField("web clip", "valid URL")
		}
		p.WebClips = append(p.WebClips, w)
	}
	return nil
}

// checkMail refuses a mail account whose S/MIME certificate UUID names no
// identity payload of the profile, as the account could not sign or
// decrypt.
func (p *Profile) checkMail(payloads []map[string]any) error {
	identities := map[string]bool{}
	for _, pl := range p.Payloads {
		if pl.Type == "com.apple.security.pkcs12" || pl.Type == "com.apple.security.scep" {
			identities[pl.UUID] = true
		}
	}
	for _, raw := range payloads {
		var m struct {
			PayloadType                                                 string
			SMIMESigningCertificateUUID, SMIMEEncryptionCertificateUUID string
		}
		if err := redecode(raw, &m); err != nil || m.PayloadType != "com.apple.mail.managed" {
			continue
		}
		for _, id := range []string{m.SMIMESigningCertificateUUID, m.SMIMEEncryptionCertificateUUID} {
			if id != "" && !identities[id] {
				return &ProfileError{"MCEmailErrorDomain", 7003, fmt.Sprintf("The S/MIME certificate %s is not in the profile.", id)}
			}
		}
	}
	return nil
}

// checkEnrollment refuses an enrollment profile a device could not enroll
// with.
func (p *Profile) checkEnrollment(allowHTTP bool) error {
	m := p.MDM
	if m == nil {
		return fmt.Errorf("the profile %s has no MDM payload (com.apple.mdm), so it does not enroll the device", p.Identifier)
	}
	if _, err := p.identity(); err != nil {
		return err
	}
	if !strings.HasPrefix(m.Topic, "com.apple.mgmt.") {
		return fmt.Errorf("the MDM payload's Topic %q does not start with com.apple.mgmt.", m.Topic)
	}
	if m.AccessRights == 0 || m.AccessRights > 8191 || m.AccessRights&2 != 0 && m.AccessRights&1 == 0 {
		return fmt.Errorf("the MDM payload's AccessRights %d are missing or invalid: they must be from 1 to 8191, and 2 (install profiles) needs 1 (inspect them)", m.AccessRights)
	}
	for _, u := range []struct{ key, value string }{{"ServerURL", m.ServerURL}, {"CheckInURL", m.CheckInURL}} {
		if u.value == "" && u.key == "CheckInURL" {
			continue
		}
		parsed, err := url.Parse(u.value)
		switch {
		case err != nil || parsed.Host == "":
			return fmt.Errorf("the MDM payload's %s %q is not a URL", u.key, u.value)
		case parsed.Scheme != "https" && !(allowHTTP && parsed.Scheme == "http"):
			return fmt.Errorf("the MDM payload's %s %q is not https://, which a device requires", u.key, u.value)
		}
	}
	return nil
}

// identity is the SCEP payload the MDM payload names as the device
// identity.
func (p *Profile) identity() (SCEPPayload, error) {
	id := p.MDM.IdentityCertificateUUID
	if id == "" {
		return SCEPPayload{}, fmt.Errorf("the MDM payload has no IdentityCertificateUUID")
	}
	for _, s := range p.SCEP {
		if s.UUID == id {
			return s, nil
		}
	}
	return SCEPPayload{}, fmt.Errorf("the MDM payload's IdentityCertificateUUID %s names no SCEP payload of the profile", id)
}

// redecode decodes one payload's dictionary into a struct, through the
// property list encoding, so that the plist library checks the types.
func redecode(raw map[string]any, into any) error {
	b, err := plist.Marshal(raw, plist.BinaryFormat)
	if err == nil {
		_, err = plist.Unmarshal(b, into)
	}
	if err != nil {
		return &ProfileError{"MCPayloadErrorDomain", 2003, fmt.Sprintf("A field has the wrong type: %v.", err)}
	}
	return nil
}

func parseCertificate(b []byte) (*x509.Certificate, error) {
	if block, _ := pem.Decode(b); block != nil {
		b = block.Bytes
	}
	return x509.ParseCertificate(b)
}
