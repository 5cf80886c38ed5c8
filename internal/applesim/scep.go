package applesim

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/smallstep/scep"
	"github.com/smallstep/scep/x509util"
)

// enrollSCEP gets the device identity from the SCEP payload's server as a
// device does (RFC 8894): GetCACaps, GetCACert, then a PKCSReq signed with a
// transient self-signed certificate and encrypted to the CA, by POST when
// the CA advertises POSTPKIOperation and by GET otherwise.
func enrollSCEP(ctx context.Context, client *http.Client, p SCEPPayload) (*rsa.PrivateKey, *x509.Certificate, error) {
	caps, err := getCACaps(ctx, client, p.URL, p.Name)
	if err != nil {
		return nil, nil, err
	}
	caCerts, err := getCACert(ctx, client, p.URL, p.Name)
	if err != nil {
		return nil, nil, err
	}
	if len(p.CAFingerprint) > 0 && !fingerprintMatches(p.CAFingerprint, caCerts) {
		return nil, nil, fmt.Errorf("SCEP: no certificate from GetCACert matches the payload's CAFingerprint %x", p.CAFingerprint)
	}
	key, err := rsa.GenerateKey(rand.Reader, p.Keysize)
	if err != nil {
		return nil, nil, fmt.Errorf("SCEP: generating a %d-bit RSA key: %w", p.Keysize, err)
	}
	csr, err := newCSR(p, key)
	if err != nil {
		return nil, nil, err
	}
	signer, err := transientSigner(csr.RawSubject, key)
	if err != nil {
		return nil, nil, err
	}
	var opts []scep.Option
	if len(caCerts) > 1 {
		// A CA with an RA: encrypt to the certificate meant for it.
		opts = append(opts, scep.WithCertsSelector(scep.EnciphermentCertsSelector()))
	}
	req, err := scep.NewCSRRequest(csr, &scep.PKIMessage{
		MessageType: scep.PKCSReq, Recipients: caCerts, SignerKey: key, SignerCert: signer,
	}, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("SCEP: building the PKCSReq: %w", err)
	}
	body, err := pkiOperation(ctx, client, p.URL, caps["POSTPKIOPERATION"], req.Raw)
	if err != nil {
		return nil, nil, err
	}
	rep, err := scep.ParsePKIMessage(body, scep.WithCACerts(caCerts))
	if err != nil {
		return nil, nil, fmt.Errorf("SCEP: the CertRep is not signed data from the CA: %w", err)
	}
	switch {
	case rep.MessageType != scep.CertRep:
		return nil, nil, fmt.Errorf("SCEP: the answer is a %s, not a CertRep", rep.MessageType)
	case rep.TransactionID != req.TransactionID:
		return nil, nil, fmt.Errorf("SCEP: the CertRep answers transaction %s, not %s", rep.TransactionID, req.TransactionID)
	case !bytes.Equal(rep.RecipientNonce, req.SenderNonce):
		return nil, nil, errors.New("SCEP: the CertRep's recipientNonce is not the request's senderNonce")
	}
	switch rep.PKIStatus {
	case scep.FAILURE:
		return nil, nil, fmt.Errorf("SCEP: the CA refused the request: FAILURE, failInfo %s", failInfoName(rep.FailInfo))
	case scep.PENDING:
		return nil, nil, errors.New("SCEP: the CA holds the request for manual approval (PENDING), which this device does not wait for")
	}
	if err := rep.DecryptPKIEnvelope(signer, key); err != nil {
		return nil, nil, fmt.Errorf("SCEP: opening the issued certificate: %w", err)
	}
	cert := rep.Certificate
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, nil, errors.New("SCEP: the issued certificate is not for the device's key")
	}
	return key, cert, nil
}

// getCACaps returns the CA's capabilities, upper-cased. A CA that does not
// answer has none (RFC 8894, 3.5.2). name is the payload's Name, which
// names the CA to a server that has several.
func getCACaps(ctx context.Context, client *http.Client, base, name string) (map[string]bool, error) {
	body, _, status, err := scepGet(ctx, client, base, "GetCACaps", name)
	if err != nil {
		return nil, err
	}
	caps := map[string]bool{}
	if status != http.StatusOK {
		return caps, nil
	}
	for _, c := range strings.Fields(string(body)) {
		caps[strings.ToUpper(c)] = true
	}
	return caps, nil
}

// getCACert returns the CA certificate, or the CA's and its RA's.
func getCACert(ctx context.Context, client *http.Client, base, name string) ([]*x509.Certificate, error) {
	body, ctype, status, err := scepGet(ctx, client, base, "GetCACert", name)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("SCEP: GetCACert answered %d %s", status, http.StatusText(status))
	}
	switch ctype {
	case "application/x-x509-ca-cert":
		cert, err := x509.ParseCertificate(body)
		if err != nil {
			return nil, fmt.Errorf("SCEP: GetCACert's certificate: %w", err)
		}
		return []*x509.Certificate{cert}, nil
	case "application/x-x509-ca-ra-cert":
		certs, err := scep.CACerts(body)
		if err != nil || len(certs) == 0 {
			return nil, fmt.Errorf("SCEP: GetCACert's certificates-only CMS holds no certificate (%v)", err)
		}
		return certs, nil
	}
	return nil, fmt.Errorf("SCEP: GetCACert answered with Content-Type %q, not application/x-x509-ca-cert or application/x-x509-ca-ra-cert", ctype)
}

// pkiOperation sends the request and returns the CertRep.
func pkiOperation(ctx context.Context, client *http.Client, base string, post bool, msg []byte) ([]byte, error) {
	var body []byte
	var ctype string
	var status int
	var err error
	if post {
		u, uerr := scepURL(base, "PKIOperation", "")
		if uerr != nil {
			return nil, uerr
		}
		req, rerr := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(msg))
		if rerr != nil {
			return nil, rerr
		}
		req.Header.Set("Content-Type", "application/x-pki-message")
		body, ctype, status, err = do(client, req)
	} else {
		body, ctype, status, err = scepGet(ctx, client, base, "PKIOperation", base64.StdEncoding.EncodeToString(msg))
	}
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("SCEP: PKIOperation answered %d %s: %s", status, http.StatusText(status), bytes.TrimSpace(body[:min(len(body), 200)]))
	}
	if ctype != "application/x-pki-message" {
		return nil, fmt.Errorf("SCEP: PKIOperation answered with Content-Type %q, not application/x-pki-message", ctype)
	}
	return body, nil
}

func scepURL(base, operation, message string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("SCEP: the payload's URL %q: %w", base, err)
	}
	q := u.Query()
	q.Set("operation", operation)
	if message != "" {
		q.Set("message", message)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func scepGet(ctx context.Context, client *http.Client, base, operation, message string) ([]byte, string, int, error) {
	u, err := scepURL(base, operation, message)
	if err != nil {
		return nil, "", 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", 0, err
	}
	return do(client, req)
}

// do sends the request and returns the body, the media type and the
// status.
func do(client *http.Client, req *http.Request) ([]byte, string, int, error) {
	res, err := client.Do(req)
	if err != nil {
		return nil, "", 0, fmt.Errorf("SCEP: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, "", 0, fmt.Errorf("SCEP: reading the answer: %w", err)
	}
	ctype, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	return body, ctype, res.StatusCode, nil
}

// newCSR is the PKCS#10 request with the payload's subject, alternative
// names, key usage and challenge.
func newCSR(p SCEPPayload, key *rsa.PrivateKey) (*x509.CertificateRequest, error) {
	subject, err := subjectName(p.Subject)
	if err != nil {
		return nil, err
	}
	tmpl := &x509util.CertificateRequest{
		CertificateRequest: x509.CertificateRequest{RawSubject: subject, SignatureAlgorithm: x509.SHA256WithRSA},
		ChallengePassword:  p.Challenge,
	}
	for kind, v := range p.SubjectAltName {
		switch kind {
		case "rfc822Name":
			tmpl.EmailAddresses = append(tmpl.EmailAddresses, v)
		case "dNSName":
			tmpl.DNSNames = append(tmpl.DNSNames, v)
		case "uniformResourceIdentifier":
			u, err := url.Parse(v)
			if err != nil {
				return nil, fmt.Errorf("SCEP: the payload's SubjectAltName URI %q: %w", v, err)
			}
			tmpl.URIs = append(tmpl.URIs, u)
		}
	}
	if p.KeyUsage != 0 {
		ext, err := keyUsageExtension(p.KeyUsage)
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext)
	}
	der, err := x509util.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("SCEP: building the CSR: %w", err)
	}
	return x509.ParseCertificateRequest(der)
}

// attributeOIDs are the short names a SCEP payload's Subject may use.
var attributeOIDs = map[string]asn1.ObjectIdentifier{
	"C": {2, 5, 4, 6}, "L": {2, 5, 4, 7}, "ST": {2, 5, 4, 8}, "O": {2, 5, 4, 10},
	"OU": {2, 5, 4, 11}, "CN": {2, 5, 4, 3},
}

// subjectName turns the payload's [[[OID, value]], …] into a DER name,
// one relative distinguished name per outer element, in the payload's
// order.
func subjectName(subject [][][]string) ([]byte, error) {
	var rdns pkix.RDNSequence
	for _, rdn := range subject {
		var set pkix.RelativeDistinguishedNameSET
		for _, pair := range rdn {
			if len(pair) != 2 {
				return nil, fmt.Errorf("SCEP: the payload's Subject has %v, not an [OID, value] pair", pair)
			}
			oid, ok := attributeOIDs[pair[0]]
			if !ok {
				var err error
				if oid, err = parseOID(pair[0]); err != nil {
					return nil, fmt.Errorf("SCEP: the payload's Subject names %q, neither C, L, ST, O, OU, CN nor a dotted OID", pair[0])
				}
			}
			set = append(set, pkix.AttributeTypeAndValue{Type: oid, Value: pair[1]})
		}
		rdns = append(rdns, set)
	}
	return asn1.Marshal(rdns)
}

func parseOID(s string) (asn1.ObjectIdentifier, error) {
	var oid asn1.ObjectIdentifier
	for part := range strings.SplitSeq(s, ".") {
		n, ok := new(big.Int).SetString(part, 10)
		if !ok || !n.IsInt64() || n.Sign() < 0 {
			return nil, errors.New("not a dotted OID")
		}
		oid = append(oid, int(n.Int64()))
	}
	if len(oid) < 2 {
		return nil, errors.New("not a dotted OID")
	}
	return oid, nil
}

// keyUsageExtension asks for digitalSignature (payload bit 1) and
// keyEncipherment (bit 4).
func keyUsageExtension(usage int) (pkix.Extension, error) {
	var bits byte
	if usage&1 != 0 {
		bits |= 0x80 // digitalSignature, bit 0
	}
	if usage&4 != 0 {
		bits |= 0x20 // keyEncipherment, bit 2
	}
	der, err := asn1.Marshal(asn1.BitString{Bytes: []byte{bits}, BitLength: 3})
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Critical: true, Value: der}, nil
}

// transientSigner is the self-signed certificate a SCEP client signs its
// first request with (RFC 8894, 2.3), for the key it asks a certificate for.
func transientSigner(subject []byte, key *rsa.PrivateKey) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, RawSubject: subject,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("SCEP: making the transient signer: %w", err)
	}
	return x509.ParseCertificate(der)
}

func fingerprintMatches(fp []byte, certs []*x509.Certificate) bool {
	for _, c := range certs {
		var sum []byte
		switch len(fp) {
		case md5.Size:
			s := md5.Sum(c.Raw)
			sum = s[:]
		case sha1.Size:
			s := sha1.Sum(c.Raw)
			sum = s[:]
		case sha256.Size:
			s := sha256.Sum256(c.Raw)
			sum = s[:]
		}
		if bytes.Equal(sum, fp) {
			return true
		}
	}
	return false
}

// failInfoName names RFC 8894's failInfo values; the library's String
// panics on others.
func failInfoName(fi scep.FailInfo) string {
	names := map[scep.FailInfo]string{
		scep.BadAlg: "badAlg", scep.BadMessageCheck: "badMessageCheck", scep.BadRequest: "badRequest",
		scep.BadTime: "badTime", scep.BadCertID: "badCertID",
	}
	if n, ok := names[fi]; ok {
		return fmt.Sprintf("%s (%s)", n, string(fi))
	}
	return fmt.Sprintf("%q", string(fi))
}
