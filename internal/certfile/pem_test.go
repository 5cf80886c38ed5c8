package certfile_test

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/certfile"
	"github.com/portico-mdm/portico/internal/certfile/certfiletest"
)

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func TestParsePEM(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ca := certfiletest.NewCA("PEM Test CA")
	rsaKey := certfiletest.RSAKey()
	rsaLeaf := certfiletest.New(certfiletest.Options{Key: rsaKey, Issuer: ca})
	ecKey := certfiletest.ECDSAKey()
	ecLeaf := certfiletest.New(certfiletest.Options{Key: ecKey})
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	sec1, _ := x509.MarshalECPrivateKey(ecKey.(*ecdsa.PrivateKey))
	pkcs1 := x509.MarshalPKCS1PrivateKey(rsaKey.(*rsa.PrivateKey))
	cert := func(id *certfiletest.Identity) string { return pemOf("CERTIFICATE", id.Certificate.Raw) }
	expired := certfiletest.New(certfiletest.Options{Key: ecKey, NotAfter: now.Add(-time.Hour)})

	tests := []struct {
		name  string
		text  string
		leaf  *certfiletest.Identity
		chain int
		want  string // part of the refusal
	}{
		{"PKCS#8 key after the certificate", cert(ecLeaf) + pemOf("PRIVATE KEY", pkcs8), ecLeaf, 0, ""},
		{"SEC 1 key before the certificate", pemOf("EC PRIVATE KEY", sec1) + cert(ecLeaf), ecLeaf, 0, ""},
		{"PKCS#1 key with the issuer first", cert(ca) + cert(rsaLeaf) + pemOf("RSA PRIVATE KEY", pkcs1), rsaLeaf, 1, ""},
		{"no certificate", pemOf("PRIVATE KEY", pkcs8), nil, 0, "no certificate"},
		{"no key", cert(ecLeaf), nil, 0, "no private key"},
		{"two keys", cert(ecLeaf) + pemOf("PRIVATE KEY", pkcs8) + pemOf("PRIVATE KEY", pkcs8), nil, 0, "more than one private key"},
		{"encrypted key", cert(ecLeaf) + pemOf("ENCRYPTED PRIVATE KEY", []byte{1}), nil, 0, "encrypted"},
		{"damaged certificate", pemOf("CERTIFICATE", []byte{1, 2}) + pemOf("PRIVATE KEY", pkcs8), nil, 0, "cannot be read"},
		{"key of another certificate", cert(rsaLeaf) + pemOf("PRIVATE KEY", pkcs8), nil, 0, "does not belong"},
		{"expired", cert(expired) + pemOf("PRIVATE KEY", pkcs8), nil, 0, "expired on"},
		{"too large", strings.Repeat("x", certfile.MaxSize+1), nil, 0, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := certfile.ParsePEM([]byte(tt.text), now)
			if tt.want != "" {
				if portico.ErrorCode(err) != portico.EINVALID || !strings.Contains(portico.ErrorMessage(err), tt.want) {
					t.Fatalf("ParsePEM = %v, want a refusal saying %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !id.Certificate.Equal(tt.leaf.Certificate) || len(id.Chain) != tt.chain || id.Key == nil {
				t.Errorf("ParsePEM = leaf %s, %d in the chain, key %T", id.Subject(), len(id.Chain), id.Key)
			}
		})
	}
}
