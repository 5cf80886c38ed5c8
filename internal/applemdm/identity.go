package applemdm

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/smallstep/pkcs7"
)

// ErrNoIdentity is returned for a request that shows no device identity.
var ErrNoIdentity = errors.New("applemdm: the request carries no device identity")

// VerifySignature checks an Mdm-Signature header, a base64 detached CMS
// SignedData over the raw body, and returns the certificate that signed
// it. Whether that certificate is one of ours is the CA's to say.
func VerifySignature(header string, body []byte) (*x509.Certificate, error) {
	if header == "" {
		return nil, ErrNoIdentity
	}
	der, err := base64.StdEncoding.DecodeString(header)
	if err != nil {
		return nil, fmt.Errorf("applemdm: Mdm-Signature is not base64: %w", err)
	}
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return nil, fmt.Errorf("applemdm: Mdm-Signature is not a CMS signature: %w", err)
	}
	p7.Content = body
	// The library refuses a signing time outside the signer's validity,
	// which would refuse a device whose identity expired while it was
	// away. Whether an expired identity is still answered is the
	// server's to decide (CA.Issued), so only the signature is checked
	// here: the dates are lifted from the parsed copies, and the signer
	// is returned as its own bytes say.
	for _, c := range p7.Certificates {
		c.NotBefore, c.NotAfter = time.Time{}, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	}
	if err := p7.Verify(); err != nil {
		return nil, fmt.Errorf("applemdm: Mdm-Signature does not match the body: %w", err)
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		return nil, errors.New("applemdm: Mdm-Signature has no single signer")
	}
	return x509.ParseCertificate(signer.Raw)
}

// Sign makes the detached signature a device sends in Mdm-Signature; it is
// here for the tests and the simulator, which play the device.
func Sign(body []byte, cert *x509.Certificate, key any) (string, error) {
	sd, err := pkcs7.NewSignedData(body)
	if err != nil {
		return "", err
	}
	if err := sd.AddSigner(cert, key, pkcs7.SignerInfoConfig{}); err != nil {
		return "", err
	}
	sd.Detach()
	der, err := sd.Finish()
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(der), nil
}
