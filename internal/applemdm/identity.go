package applemdm

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"

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
	if err := p7.Verify(); err != nil {
		return nil, fmt.Errorf("applemdm: Mdm-Signature does not match the body: %w", err)
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		return nil, errors.New("applemdm: Mdm-Signature has no single signer")
	}
	return signer, nil
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
