// Package mdmtest plays an Apple device in tests with the same libraries
// a real client stack uses: smallstep/scep's client side for the identity,
// CMS signatures for Mdm-Signature, plists for every message.
package mdmtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/smallstep/scep"
	"github.com/smallstep/scep/x509util"
	"howett.net/plist"

	"github.com/portico-mdm/portico/internal/applemdm"
)

// Device is a device's key, the throwaway self-signed certificate it
// signs its SCEP request with (RFC 8894 section 2.3), and once enrolled
// its identity.
type Device struct {
	UDID     string
	Key      *rsa.PrivateKey
	Self     *x509.Certificate
	Identity *x509.Certificate
}

// NewDevice makes a device with a new 2048-bit RSA key, as the SCEP
// payload asks.
func NewDevice(t testing.TB, udid string) *Device {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "SCEP request " + udid},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	self, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Device{UDID: udid, Key: key, Self: self}
}

// SCEPRequest is the PKIOperation body of a PKCSReq with the challenge,
// encrypted to the CA.
func (d *Device) SCEPRequest(t testing.TB, ca *x509.Certificate, subject, challenge string) []byte {
	t.Helper()
	der, err := x509util.CreateCertificateRequest(rand.Reader, &x509util.CertificateRequest{
		CertificateRequest: x509.CertificateRequest{Subject: pkix.Name{CommonName: subject}},
		ChallengePassword:  challenge,
	}, d.Key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := scep.NewCSRRequest(csr, &scep.PKIMessage{
		MessageType: scep.PKCSReq, Recipients: []*x509.Certificate{ca}, SignerKey: d.Key, SignerCert: d.Self,
	})
	if err != nil {
		t.Fatal(err)
	}
	return msg.Raw
}

// SCEPReply reads the CA's CertRep: its status, and on success the
// certificate, decrypted with the device's key, which becomes the
// device's identity.
func (d *Device) SCEPReply(t testing.TB, ca *x509.Certificate, raw []byte) scep.PKIStatus {
	t.Helper()
	rep, err := scep.ParsePKIMessage(raw, scep.WithCACerts([]*x509.Certificate{ca}))
	if err != nil {
		t.Fatal(err)
	}
	if rep.MessageType != scep.CertRep {
		t.Fatalf("SCEP reply is %s, not CertRep", rep.MessageType)
	}
	if rep.PKIStatus != scep.SUCCESS {
		return rep.PKIStatus
	}
	if err := rep.DecryptPKIEnvelope(d.Self, d.Key); err != nil {
		t.Fatal(err)
	}
	d.Identity = rep.CertRepMessage.Certificate
	return rep.PKIStatus
}

// Message encodes a message as an XML plist.
func Message(t testing.TB, m map[string]any) []byte {
	t.Helper()
	b, err := plist.MarshalIndent(m, plist.XMLFormat, "\t")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Sign is the Mdm-Signature of body with the device's identity.
func (d *Device) Sign(t testing.TB, body []byte) string {
	t.Helper()
	sig, err := applemdm.Sign(body, d.Identity, d.Key)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}
