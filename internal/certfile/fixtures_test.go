package certfile_test

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"sync"
	"time"

	"github.com/portico-mdm/portico/internal/certfile/certfiletest"
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
	rsaKey, ecKey := certfiletest.RSAKey, certfiletest.ECDSAKey
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

// makeCert makes a certificate for key, signed by issuer or, when issuer is
// nil, by itself. Leaves carry an rfc822Name when they have a CommonName.
func makeCert(subject pkix.Name, key crypto.Signer, issuer *identity, isCA bool, from, until time.Time) identity {
	o := certfiletest.Options{Subject: subject, Key: key, CA: isCA, NotBefore: from, NotAfter: until}
	if issuer != nil {
		o.Issuer = &certfiletest.Identity{Certificate: issuer.cert, Key: issuer.key, Chain: issuer.chain}
	}
	if subject.CommonName != "" {
		o.Email = "alice@example.com"
	}
	id := certfiletest.New(o)
	return identity{cert: id.Certificate, key: id.Key, chain: id.Chain}
}

// must keeps fixture building to one line; a panic fails the test as
// t.Fatal would.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
