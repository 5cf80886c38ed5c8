// Package certfile reads and writes the PKCS#12 files (.p12, .pfx) that users
// upload as S/MIME signing and encryption identities.
//
// The service uses these functions: Parse checks an upload (a private key is
// required, the certificate must be valid now); Encode writes what is stored
// and pushed to devices, with or without the key; Decode reads back what
// Encode wrote, with Identity.Key nil when the key was cleared. ParsePEM
// reads the PEM text the MDM push certificate often comes as.
package certfile

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portico-mdm/portico"
	"software.sslmate.com/src/go-pkcs12"
)

// MaxSize is the largest upload Parse reads. A certificate with its key and
// a chain is a few KiB; the limit keeps a user from making the server hash
// and decrypt megabytes.
const MaxSize = 64 << 10

// Identity is a certificate with its chain and, unless it was cleared, its
// private key.
type Identity struct {
	Certificate *x509.Certificate
	Chain       []*x509.Certificate // issuers, as the file listed them
	Key         crypto.PrivateKey   // nil once the private key was cleared
}

// The messages of Parse's refusals, each telling the user which rule failed.
// They never quote the password or the file.
const (
	msgTooLarge    = "The file is larger than %d KiB; a certificate file (.p12 or .pfx) is a few KiB."
	msgNotPKCS12   = "The file is not a PKCS#12 file (.p12 or .pfx)."
	msgPassword    = "The password does not open this PKCS#12 file."
	msgNoKey       = "The file holds no private key; export the certificate together with its private key."
	msgNoCert      = "The file holds no certificate."
	msgKeyMismatch = "The private key in the file does not belong to its certificate."
	msgExpired     = "The certificate expired on %s."
	msgNotYetValid = "The certificate is not valid until %s."
	msgUnsupported = "The PKCS#12 file uses a form Portico cannot read; export it again with a current tool (for example OpenSSL 3)."
	msgDamaged     = "The PKCS#12 file is damaged and cannot be read."
)

// Parse reads an uploaded PKCS#12 file from the legacy (RC2/3DES, SHA-1 MAC)
// or modern (AES-256-CBC, PBKDF2) encoders, with or without a chain. It
// requires a private key that belongs to one of the file's certificates,
// which becomes the identity's certificate; the others form the chain. The
// certificate must be valid at now. Every refusal is a *portico.Error with
// code EINVALID whose message says which rule failed.
func Parse(data []byte, password string, now time.Time) (*Identity, error) {
	if len(data) > MaxSize {
		return nil, portico.Errorf(portico.EINVALID, msgTooLarge, MaxSize>>10)
	}
	key, leaf, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		return nil, refusal(err)
	}
	id, err := pair(key, append([]*x509.Certificate{leaf}, chain...))
	if err != nil {
		return nil, err
	}
	return valid(id, now)
}

// valid refuses an identity whose certificate is not valid at now.
func valid(id *Identity, now time.Time) (*Identity, error) {
	// Dates are shown in UTC, as the portal's list does.
	if now.After(id.Certificate.NotAfter) {
		return nil, portico.Errorf(portico.EINVALID, msgExpired, id.Certificate.NotAfter.UTC().Format(time.DateOnly))
	}
	if now.Before(id.Certificate.NotBefore) {
		return nil, portico.Errorf(portico.EINVALID, msgNotYetValid, id.Certificate.NotBefore.UTC().Format(time.DateOnly))
	}
	return id, nil
}

// ParsePEM reads certificates and one unencrypted private key from PEM
// text, as OpenSSL writes them; the key's certificate becomes the
// identity's, the others its chain, as with Parse.
func ParsePEM(data []byte, now time.Time) (*Identity, error) {
	if len(data) > MaxSize {
		return nil, portico.Errorf(portico.EINVALID, "The PEM text is larger than %d KiB; a certificate with its key is a few KiB.", MaxSize>>10)
	}
	var certs []*x509.Certificate
	var key crypto.PrivateKey
	for rest := data; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		var err error
		switch block.Type {
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(block.Bytes); err == nil {
				certs = append(certs, c)
			}
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if key != nil {
				return nil, portico.Errorf(portico.EINVALID, "The PEM text holds more than one private key.")
			}
			key, err = parseKey(block)
		case "ENCRYPTED PRIVATE KEY":
			return nil, portico.Errorf(portico.EINVALID, "The private key is encrypted; upload a PKCS#12 file (.p12) with its password instead, or the key unencrypted.")
		}
		if err != nil {
			return nil, portico.Errorf(portico.EINVALID, "The PEM text holds a %s that cannot be read.", strings.ToLower(block.Type))
		}
	}
	switch {
	case len(certs) == 0:
		return nil, portico.Errorf(portico.EINVALID, "The file holds no certificate in PEM form (-----BEGIN CERTIFICATE-----).")
	case key == nil:
		return nil, portico.Errorf(portico.EINVALID, msgNoKey)
	}
	id, err := pair(key, certs)
	if err != nil {
		return nil, err
	}
	return valid(id, now)
}

func parseKey(b *pem.Block) (crypto.PrivateKey, error) {
	switch b.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(b.Bytes)
	}
	return x509.ParsePKCS8PrivateKey(b.Bytes)
}

// pair finds the certificate the key belongs to. Most tools write the leaf
// first, but not all, so the key decides rather than the order.
func pair(key crypto.PrivateKey, certs []*x509.Certificate) (*Identity, error) {
	signer, ok := key.(interface{ Public() crypto.PublicKey })
	if !ok {
		return nil, portico.Errorf(portico.EINVALID, msgKeyMismatch)
	}
	public, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return nil, portico.Errorf(portico.EINVALID, msgKeyMismatch)
	}
	for i, c := range certs {
		if public.Equal(c.PublicKey) {
			chain := append(append([]*x509.Certificate{}, certs[:i]...), certs[i+1:]...)
			return &Identity{Certificate: c, Chain: chain, Key: key}, nil
		}
	}
	return nil, portico.Errorf(portico.EINVALID, msgKeyMismatch)
}

// refusal turns go-pkcs12's error into the user's message. The library has
// sentinels for a wrong password only; the other cases are told apart by
// their text, which TestParseRefusals pins for the version in go.mod.
func refusal(err error) *portico.Error {
	var notImplemented pkcs12.NotImplementedError
	msg := err.Error()
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword),
		// Without a MAC a wrong password shows as bad padding.
		errors.Is(err, pkcs12.ErrDecryption),
		// A password with characters outside UCS-2 cannot have made the file.
		strings.Contains(msg, "cannot be encoded in UCS-2"):
		return portico.Errorf(portico.EINVALID, msgPassword)
	case strings.HasPrefix(msg, "pkcs12: error reading P12 data"),
		errors.As(err, &notImplemented) && strings.Contains(msg, "v3 PFX"):
		return portico.Errorf(portico.EINVALID, msgNotPKCS12)
	case errors.As(err, &notImplemented):
		return portico.Errorf(portico.EINVALID, msgUnsupported)
	case msg == "pkcs12: private key missing":
		return portico.Errorf(portico.EINVALID, msgNoKey)
	case msg == "pkcs12: certificate missing":
		return portico.Errorf(portico.EINVALID, msgNoCert)
	}
	return portico.Errorf(portico.EINVALID, msgDamaged)
}

// Encode writes the identity as a PKCS#12 file with modern algorithms
// (AES-256-CBC, PBKDF2, HMAC-SHA-256). Without a key it writes a trust store
// of the certificate followed by its chain, which is what "Clear private
// key" keeps.
func Encode(id *Identity, password string) ([]byte, error) {
	if id.Key == nil {
		data, err := pkcs12.Modern.EncodeTrustStore(append([]*x509.Certificate{id.Certificate}, id.Chain...), password)
		if err != nil {
			return nil, fmt.Errorf("certfile: encode certificates: %w", err)
		}
		return data, nil
	}
	data, err := pkcs12.Modern.Encode(id.Key, id.Certificate, id.Chain, password)
	if err != nil {
		return nil, fmt.Errorf("certfile: encode identity: %w", err)
	}
	return data, nil
}

// Decode reads back a file that Encode wrote: an identity with its key, or,
// for a trust store, the first certificate with the rest as its chain and a
// nil Key. It checks neither dates nor the key's match, since a stored
// certificate may have expired since its upload. Its errors are internal:
// the data came from Portico, not from a user.
func Decode(data []byte, password string) (*Identity, error) {
	key, leaf, chain, err := pkcs12.DecodeChain(data, password)
	if err == nil {
		return &Identity{Certificate: leaf, Chain: chain, Key: key}, nil
	}
	certs, storeErr := pkcs12.DecodeTrustStore(data, password)
	if storeErr != nil || len(certs) == 0 {
		return nil, fmt.Errorf("certfile: decode stored file: %w", err)
	}
	return &Identity{Certificate: certs[0], Chain: certs[1:]}, nil
}

// Subject is the certificate's subject as people read it.
func (id *Identity) Subject() string { return readable(id.Certificate.Subject) }

// Issuer is the certificate's issuer as people read it.
func (id *Identity) Issuer() string { return readable(id.Certificate.Issuer) }

// NotAfter is when the certificate expires.
func (id *Identity) NotAfter() time.Time { return id.Certificate.NotAfter }

// readable is a name's CommonName, which is what people call a certificate,
// or else the whole distinguished name, most specific part first as in
// RFC 4514. pkix.Name.String would print emailAddress, common in S/MIME
// subjects, as a hex-encoded OID, hence the own labels.
func readable(n pkix.Name) string {
	if n.CommonName != "" {
		return n.CommonName
	}
	if len(n.Names) == 0 {
		return n.String()
	}
	parts := make([]string, 0, len(n.Names))
	for i := len(n.Names) - 1; i >= 0; i-- {
		atv := n.Names[i]
		label, ok := labels[atv.Type.String()]
		if !ok {
			label = atv.Type.String()
		}
		parts = append(parts, fmt.Sprintf("%s=%v", label, atv.Value))
	}
	return strings.Join(parts, ", ")
}

// labels are the short names of the attributes certificate subjects use.
var labels = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.5":                    "SERIALNUMBER",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.9":                    "STREET",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.17":                   "POSTALCODE",
	"0.9.2342.19200300.100.1.25": "DC",
	"1.2.840.113549.1.9.1":       "emailAddress",
}

// oidEmailAddress is PKCS#9 emailAddress, which older S/MIME certificates
// carry in the subject instead of a subject alternative name.
var oidEmailAddress = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

// Email is the email address the certificate is for: the first rfc822Name
// subject alternative name, else the subject's emailAddress, else "".
func (id *Identity) Email() string {
	if len(id.Certificate.EmailAddresses) > 0 {
		return id.Certificate.EmailAddresses[0]
	}
	for _, atv := range id.Certificate.Subject.Names {
		if s, ok := atv.Value.(string); ok && atv.Type.Equal(oidEmailAddress) {
			return s
		}
	}
	return ""
}
