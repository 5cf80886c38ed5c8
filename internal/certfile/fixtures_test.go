package certfile_test

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
)

// now is inside every fixture certificate's validity unless a test says
// otherwise.
var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

var (
	notBefore = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter  = time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
)

// identity is a certificate, its key and the chain above it.
type identity struct {
	cert  *x509.Certificate
	key   crypto.Signer
	chain []*x509.Certificate
}

// fixtureSet holds the test PKI; RSA keys are slow to make, so it is made
// once per test binary.
type fixtureSet struct {
	ca                       identity
	selfRSA, selfEC          identity
	caRSA, caEC              identity // signed by ca
	otherRSA, otherEC        crypto.Signer
	expired, notYet, emailDN identity
}

var fixtures = sync.OnceValue(func() *fixtureSet {
	rsaKey := func() crypto.Signer {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	}
	ecKey := func() crypto.Signer {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	}
	f := &fixtureSet{}
	f.ca = makeCert(pkix.Name{CommonName: "Portico Test CA", Organization: []string{"Portico"}}, ecKey(), nil, true, notBefore, notAfter.AddDate(5, 0, 0))
	f.selfRSA = makeCert(pkix.Name{CommonName: "Self RSA"}, rsaKey(), nil, false, notBefore, notAfter)
	f.selfEC = makeCert(pkix.Name{CommonName: "Self EC"}, ecKey(), nil, false, notBefore, notAfter)
	f.caRSA = makeCert(pkix.Name{CommonName: "Alice RSA"}, rsaKey(), &f.ca, false, notBefore, notAfter)
	f.caEC = makeCert(pkix.Name{CommonName: "Alice EC"}, ecKey(), &f.ca, false, notBefore, notAfter)
	f.otherRSA, f.otherEC = f.selfRSA.key, f.selfEC.key
	f.expired = makeCert(pkix.Name{CommonName: "Expired"}, ecKey(), &f.ca, false, notBefore.AddDate(-2, 0, 0), time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC))
	f.notYet = makeCert(pkix.Name{CommonName: "Future"}, ecKey(), &f.ca, false, time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC), notAfter.AddDate(1, 0, 0))
	f.emailDN = makeCert(pkix.Name{Organization: []string{"Example"}, ExtraNames: []pkix.AttributeTypeAndValue{
		{Type: []int{1, 2, 840, 113549, 1, 9, 1}, Value: "bob@example.com"},
	}}, ecKey(), nil, false, notBefore, notAfter)
	return f
})

var serial int64

// makeCert makes a certificate for key, signed by issuer or, when issuer is
// nil, by itself. Leaves carry an rfc822Name made from their CommonName.
func makeCert(subject pkix.Name, key crypto.Signer, issuer *identity, isCA bool, from, until time.Time) identity {
	serial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               subject,
		NotBefore:             from,
		NotAfter:              until,
		BasicConstraintsValid: true,
		IsCA:                  isCA,
	}
	if isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
		if subject.CommonName != "" {
			tmpl.EmailAddresses = []string{"alice@example.com"}
		}
	}
	parent, signer := tmpl, key
	var chain []*x509.Certificate
	if issuer != nil {
		parent, signer = issuer.cert, issuer.key
		chain = append([]*x509.Certificate{issuer.cert}, issuer.chain...)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return identity{cert: cert, key: key, chain: chain}
}

// must keeps fixture building to one line; a panic fails the test as
// t.Fatal would.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
