package applemdm

import (
	"crypto"
	"crypto/x509"

	"github.com/smallstep/pkcs7"
	"howett.net/plist"
)

// EnrollmentIdentifier is the PayloadIdentifier of every enrollment
// profile: removing the profile of this identifier (RemoveProfile) ends
// the device's management.
const EnrollmentIdentifier = "org.portico-mdm.enrollment"

// AllRights is every AccessRights bit (Apple's com.apple.mdm.yaml): rights
// cannot be added by a later update, so the profile asks for all at once.
const AllRights = 8191

// Enrollment is what an enrollment profile says.
type Enrollment struct {
	// Organization names who manages the device, shown by the device.
	Organization string
	// ServerURL takes commands, CheckInURL check-in messages.
	ServerURL, CheckInURL string
	// SCEPURL is where the device gets its identity with Challenge, for a
	// certificate whose subject is Subject.
	SCEPURL, Challenge, Subject string
	// Topic is the push certificate's topic (com.apple.mgmt.…).
	Topic string
	// TrustRoot, when not nil, is a certificate the device must trust to
	// reach the server: a self-signed TLS certificate.
	TrustRoot *x509.Certificate
	// WebClip, when not nil, adds the portal to the home screen.
	WebClip *WebClip
}

// WebClip is a home-screen link (com.apple.webClip.managed).
type WebClip struct {
	URL, Label string
}

type payload map[string]any

func newPayload(kind, identifier, name string) payload {
	return payload{
		"PayloadType": kind, "PayloadIdentifier": identifier, "PayloadUUID": NewUUID(),
		"PayloadVersion": 1, "PayloadDisplayName": name,
	}
}

// Profile returns the enrollment profile as an XML plist: the trust root
// if any, the SCEP payload that makes the device's identity, the MDM
// payload, and the Web Clip if any.
func (e Enrollment) Profile() ([]byte, error) {
	var content []payload
	if e.TrustRoot != nil {
		root := newPayload("com.apple.security.root", EnrollmentIdentifier+".trust", "Server certificate")
		root["PayloadContent"] = e.TrustRoot.Raw
		content = append(content, root)
	}
	scepPayload := newPayload("com.apple.security.scep", EnrollmentIdentifier+".identity", "Device identity")
	scepPayload["PayloadContent"] = map[string]any{
		"URL":       e.SCEPURL,
		"Name":      "Portico",
		"Subject":   [][][]string{{{"CN", e.Subject}}},
		"Challenge": e.Challenge,
		"Keysize":   2048,
		"Key Type":  "RSA",
		"Key Usage": 5,
	}
	mdm := newPayload("com.apple.mdm", EnrollmentIdentifier+".mdm", "Device management")
	mdm["IdentityCertificateUUID"] = scepPayload["PayloadUUID"]
	mdm["Topic"] = e.Topic
	mdm["ServerURL"] = e.ServerURL
	mdm["CheckInURL"] = e.CheckInURL
	mdm["SignMessage"] = true
	mdm["CheckOutWhenRemoved"] = true
	mdm["AccessRights"] = AllRights
	mdm["ServerCapabilities"] = []string{"com.apple.mdm.per-user-connections"}
	content = append(content, scepPayload, mdm)
	if e.WebClip != nil {
		clip := newPayload("com.apple.webClip.managed", EnrollmentIdentifier+".webclip", e.WebClip.Label)
		clip["URL"] = e.WebClip.URL
		clip["Label"] = e.WebClip.Label
		clip["IsRemovable"] = true
		content = append(content, clip)
	}
	top := payload{
		"PayloadType": "Configuration", "PayloadIdentifier": EnrollmentIdentifier, "PayloadUUID": NewUUID(),
		"PayloadVersion": 1, "PayloadDisplayName": "Device management: " + e.Organization,
		"PayloadOrganization": e.Organization, "PayloadContent": content,
		"PayloadDescription": "Lets " + e.Organization + " manage this device: lock, locate, wipe and configure it on request.",
	}
	return plist.MarshalIndent(top, plist.XMLFormat, "\t")
}

// SignProfile wraps a profile in CMS SignedData with the server's
// identity, so the device shows who it comes from; chain are the
// certificates between the signer and a root the device trusts.
func SignProfile(profile []byte, cert *x509.Certificate, key crypto.PrivateKey, chain []*x509.Certificate) ([]byte, error) {
	sd, err := pkcs7.NewSignedData(profile)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSignerChain(cert, key, chain, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, err
	}
	return sd.Finish()
}

// ReadProfile returns the plist inside a signed profile after checking
// its signature, or the profile itself when it is not signed.
func ReadProfile(data []byte) (content []byte, signer *x509.Certificate, err error) {
	if len(data) > 0 && data[0] == '<' {
		return data, nil, nil
	}
	p7, err := pkcs7.Parse(data)
	if err != nil {
		return nil, nil, err
	}
	if err := p7.Verify(); err != nil {
		return nil, nil, err
	}
	return p7.Content, p7.GetOnlySigner(), nil
}
