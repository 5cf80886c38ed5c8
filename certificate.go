package portico

import "time"

// CertificateType is what a user-provided certificate is for (SPEC CERT-1).
type CertificateType string

const (
	CertificateSigning    CertificateType = "signing"
	CertificateEncryption CertificateType = "encryption"
)

// CertificateTypes lists the types in the order the portal offers them.
var CertificateTypes = []CertificateType{CertificateSigning, CertificateEncryption}

// ParseCertificateType returns the type with the given name.
func ParseCertificateType(s string) (CertificateType, error) {
	switch t := CertificateType(s); t {
	case CertificateSigning, CertificateEncryption:
		return t, nil
	}
	return "", Errorf(EINVALID, "%q is not a certificate type; choose signing or encryption.", s)
}

// expiresSoon is how long before its end a certificate is marked.
const expiresSoon = 30 * 24 * time.Hour

// Certificate is an S/MIME certificate a user uploaded, as the portal
// lists it (SPEC CERT-2). Its PKCS#12 file is kept apart, sealed.
type Certificate struct {
	ID         int64           `json:"id"`
	UserID     int64           `json:"user_id"`
	Type       CertificateType `json:"type"`
	Subject    string          `json:"subject"`
	Issuer     string          `json:"issuer"`
	Email      string          `json:"email,omitempty"`
	NotAfter   time.Time       `json:"not_after"`
	HasKey     bool            `json:"has_key"`
	UploadedAt time.Time       `json:"uploaded_at"`
}

// Expired reports whether the certificate is no longer valid: after its
// last moment, as x509 and the upload's check count it.
func (c *Certificate) Expired(now time.Time) bool { return now.After(c.NotAfter) }

// ExpiresSoon reports whether the certificate ends within 30 days.
func (c *Certificate) ExpiresSoon(now time.Time) bool {
	return !c.Expired(now) && c.NotAfter.Sub(now) < expiresSoon
}
