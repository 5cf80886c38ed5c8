// Package certfiletest makes certificates, keys and PKCS#12 files for tests
// of the code that reads users' uploads (certfile, the service, the portal).
//
// Its functions panic on failure, which fails a test as t.Fatal would; they
// only fail if crypto/rand or the encoder does.
package certfiletest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// Identity is a certificate, its private key and the chain of issuers above
// it, nearest first.
type Identity struct {
	Certificate *x509.Certificate
	Key         crypto.Signer
	Chain       []*x509.Certificate
}

// Options describe a certificate to make; the zero value is a self-signed
// ECDSA leaf for "Test User" valid from 2000 to 2100.
type Options struct {
	Subject pkix.Name // zero: CN=Test User
	// Email goes into the rfc822Name subject alternative name (leaves only).
	Email string
	// Key is the certificate's key; nil makes a new ECDSA P-256 key. See
	// RSAKey and ECDSAKey.
	Key crypto.Signer
	// Issuer signs the certificate; nil makes it self-signed. The issuer
	// and its chain become the new identity's chain.
	Issuer *Identity
	// CA makes a certificate authority rather than an S/MIME leaf.
	CA                  bool
	NotBefore, NotAfter time.Time // zero: 2000-01-01 and 2100-01-01
}

// Default validity, wide enough for every test clock.
var (
	DefaultNotBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	DefaultNotAfter  = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// New makes a certificate as the options say.
func New(o Options) *Identity {
	key := o.Key
	if key == nil {
		key = ECDSAKey()
	}
	if o.Subject.CommonName == "" && len(o.Subject.Names) == 0 && len(o.Subject.ExtraNames) == 0 && len(o.Subject.Organization) == 0 {
		o.Subject.CommonName = "Test User"
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = DefaultNotBefore
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = DefaultNotAfter
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               o.Subject,
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		BasicConstraintsValid: true,
		IsCA:                  o.CA,
	}
	if o.CA {
		tmpl.KeyUsage = x509.KeyUsageCertSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
		if o.Email != "" {
			tmpl.EmailAddresses = []string{o.Email}
		}
	}
	parent, signer := tmpl, key
	var chain []*x509.Certificate
	if o.Issuer != nil {
		parent, signer = o.Issuer.Certificate, o.Issuer.Key
		chain = append([]*x509.Certificate{o.Issuer.Certificate}, o.Issuer.Chain...)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return &Identity{Certificate: cert, Key: key, Chain: chain}
}

// NewCA makes a self-signed certificate authority with an ECDSA key.
func NewCA(name string) *Identity {
	return New(Options{Subject: pkix.Name{CommonName: name, Organization: []string{"Portico tests"}}, CA: true})
}

// ECDSAKey makes a new P-256 key.
func ECDSAKey() crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// RSAKey makes a new 2048-bit RSA key. They are slow to make; tests that
// need many RSA certificates but not distinct keys can use SharedRSAKey.
func RSAKey() crypto.Signer {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

// SharedRSAKey returns the same 2048-bit RSA key on every call.
var SharedRSAKey = sync.OnceValue(RSAKey)

// PKCS12 encodes the identity, with its chain, with the modern encoder
// (AES-256-CBC, PBKDF2).
func (id *Identity) PKCS12(password string) []byte {
	return id.Encode(pkcs12.Modern, password, true)
}

// Encode encodes the identity with the encoder, with or without its chain.
func (id *Identity) Encode(enc *pkcs12.Encoder, password string, withChain bool) []byte {
	var chain []*x509.Certificate
	if withChain {
		chain = id.Chain
	}
	data, err := enc.Encode(id.Key, id.Certificate, chain, password)
	if err != nil {
		panic(err)
	}
	return data
}

// WithKey encodes the certificate and chain with another key, which does
// not belong to the certificate.
func (id *Identity) WithKey(key crypto.Signer, password string) []byte {
	data, err := pkcs12.Modern.Encode(key, id.Certificate, id.Chain, password)
	if err != nil {
		panic(err)
	}
	return data
}

// TrustStore encodes the certificate and its chain with no private key.
func (id *Identity) TrustStore(password string) []byte {
	data, err := pkcs12.Modern.EncodeTrustStore(append([]*x509.Certificate{id.Certificate}, id.Chain...), password)
	if err != nil {
		panic(err)
	}
	return data
}

// PKCS12 makes a certificate as the options say and encodes it with its
// key and chain (modern encoder).
func PKCS12(o Options, password string) []byte {
	return New(o).PKCS12(password)
}
