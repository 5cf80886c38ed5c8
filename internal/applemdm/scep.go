package applemdm

import (
	"crypto/x509"
	"fmt"

	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"
)

// The certificate goes back to the device in an envelope encrypted with
// AES, which the capabilities offer, rather than the library's default of
// single DES; the library reads the cipher from this process-wide variable.
func init() { pkcs7.ContentEncryptionAlgorithm = pkcs7.EncryptionAlgorithmAES128CBC }

// SCEPCaps is the answer to GetCACaps: POST for PKIOperation, and the
// algorithms the CA takes (RFC 8894 section 3.5.2). Devices pick AES and
// SHA-256 when offered; SHA-1 and DES3 are left out so no client is
// invited to use them.
const SCEPCaps = "POSTPKIOperation\nSHA-256\nAES\nSCEPStandard\n"

// SCEP content types (RFC 8894 section 4).
const (
	CACertContentType     = "application/x-x509-ca-cert"
	PKIMessageContentType = "application/x-pki-message"
)

// SCEPRequest is a device's certificate request, decrypted.
type SCEPRequest struct {
	msg       *scep.PKIMessage
	CSR       *x509.CertificateRequest
	Challenge string
}

// ParseSCEP reads a PKIOperation message: a signed PKCSReq whose
// enveloped CSR is encrypted to the CA.
func (ca *CA) ParseSCEP(body []byte) (*SCEPRequest, error) {
	msg, err := scep.ParsePKIMessage(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if msg.MessageType != scep.PKCSReq {
		return nil, fmt.Errorf("%w: SCEP message type %s, only PKCSReq is served", ErrMalformed, msg.MessageType)
	}
	if err := msg.DecryptPKIEnvelope(ca.Cert, ca.Key); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &SCEPRequest{msg: msg, CSR: msg.CSR, Challenge: msg.ChallengePassword}, nil
}

// Success is the CertRep that hands the device its certificate,
// encrypted to the key it signed its request with.
func (ca *CA) Success(r *SCEPRequest, cert *x509.Certificate) ([]byte, error) {
	rep, err := r.msg.Success(ca.Cert, ca.Key, cert)
	if err != nil {
		return nil, err
	}
	return rep.Raw, nil
}

// Failure is the CertRep that refuses the request (badRequest): the
// challenge was unknown, used up or expired.
func (ca *CA) Failure(r *SCEPRequest) ([]byte, error) {
	rep, err := r.msg.Fail(ca.Cert, ca.Key, scep.BadRequest)
	if err != nil {
		return nil, err
	}
	return rep.Raw, nil
}
