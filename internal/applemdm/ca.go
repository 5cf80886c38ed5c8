package applemdm

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// CA is the certificate authority that gives each enrolled device its
// identity over SCEP. Devices show that identity on every request; only
// certificates it issued are accepted.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// caLifetime is how long a generated CA lasts: longer than any device
// stays enrolled, since a new CA would orphan every enrollment.
const caLifetime = 10 * 365 * 24 * time.Hour

// deviceCertLifetime is how long a device identity lasts: a year, as
// Apple's own servers issue. The server renews it before it ends by
// sending the enrollment profile again with a new SCEP challenge.
const deviceCertLifetime = 365 * 24 * time.Hour

// MinRSABits is the smallest device key the CA certifies: the enrollment
// profile asks for 2048 bits, and shorter keys can be factored.
const MinRSABits = 2048

// LoadOrCreateCA returns the CA kept in dir (ca.pem, ca.key), making it
// first when there is none; made reports whether it did. The key file is
// readable by its owner only.
func LoadOrCreateCA(dir string, now time.Time) (ca *CA, made bool, err error) {
	certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key")
	if _, err := os.Stat(certFile); err == nil {
		ca, err := LoadCA(certFile, keyFile)
		return ca, false, err
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, false, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "Portico device identity CA", Organization: []string{"Portico"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, false, err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, false, err
	}
	cert, err := x509.ParseCertificate(der)
	return &CA{Cert: cert, Key: key}, true, err
}

// LoadCA reads a CA an administrator gave: a PEM certificate and its RSA
// key (PKCS#1 or PKCS#8). SCEP needs RSA: devices encrypt their request
// to the CA's key.
func LoadCA(certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil {
		return nil, fmt.Errorf("applemdm: %s holds no PEM certificate", certFile)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, err
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, fmt.Errorf("applemdm: %s holds no PEM key", keyFile)
	}
	var key any
	if key, err = x509.ParsePKCS1PrivateKey(kb.Bytes); err != nil {
		if key, err = x509.ParsePKCS8PrivateKey(kb.Bytes); err != nil {
			return nil, fmt.Errorf("applemdm: %s: %w", keyFile, err)
		}
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("applemdm: the SCEP CA key must be RSA, not %T", key)
	}
	if !rsaKey.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("applemdm: %s is not the key of %s", keyFile, certFile)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("applemdm: %s is not a CA certificate", certFile)
	}
	return &CA{Cert: cert, Key: rsaKey}, nil
}

// Issue makes a device identity for the CSR's key with the subject given,
// not the one the CSR asks for: the server decides who the device is.
func (ca *CA) Issue(csr *x509.CertificateRequest, subject pkix.Name, now time.Time) (*x509.Certificate, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("applemdm: the CSR's signature: %w", err)
	}
	if err := checkDeviceKey(csr.PublicKey); err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      subject,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(deviceCertLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Verify checks that cert is a device identity this CA issued and that it
// is valid at now.
func (ca *CA) Verify(cert *x509.Certificate, now time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	_, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err
}

// ErrWeakKey is returned for a certificate request whose key the CA does
// not certify.
var ErrWeakKey = errors.New("applemdm: the device key must be RSA of at least 2048 bits")

// checkDeviceKey takes RSA keys only: SCEP encrypts the issued certificate
// to the device's key, which needs RSA, and devices make RSA keys.
func checkDeviceKey(pub any) error {
	k, ok := pub.(*rsa.PublicKey)
	if !ok || k.N.BitLen() < MinRSABits {
		return ErrWeakKey
	}
	return nil
}

// Issued checks that cert is a device identity this CA issued, whether or
// not it has expired: the server answers a device whose identity ran out
// while it was away, until the identity is renewed. Expired reports
// whether it has.
func (ca *CA) Issued(cert *x509.Certificate, now time.Time) (expired bool, err error) {
	if !now.After(cert.NotAfter) {
		return false, ca.Verify(cert, now)
	}
	// Checked as of its last valid moment: the signature and the chain
	// decide, the date alone is past.
	return true, ca.Verify(cert, cert.NotAfter)
}

// Fingerprint is the SHA-256 of a certificate, which names it in the
// store.
func Fingerprint(cert *x509.Certificate) []byte {
	sum := sha256.Sum256(cert.Raw)
	return sum[:]
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}
