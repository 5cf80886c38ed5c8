package applesim

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"
	"howett.net/plist"
)

// mdmServer is the server side these tests run the device against: a SCEP
// CA built from smallstep/scep's server functions, and check-in and command
// endpoints that check each request's Mdm-Signature and TLS client
// certificate and record what the device sent.
type mdmServer struct {
	t      *testing.T
	srv    *httptest.Server
	caCert *x509.Certificate
	caKey  *rsa.PrivateKey

	challenge string
	// postCaps advertises POSTPKIOperation; without it the device must
	// send PKIOperation by GET.
	postCaps bool
	// pending holds every request for manual approval.
	pending bool
	// unsigned expects requests without Mdm-Signature (SignMessage off).
	unsigned bool
	// raCert and raKey, when set, are an RA that GetCACert hands out with
	// the CA and that answers PKIOperation.
	raCert *x509.Certificate
	raKey  *rsa.PrivateKey

	mu sync.Mutex
	// scepMethods are the methods PKIOperation came by.
	scepMethods []string
	// csrs are the requests the CA received.
	csrs   []*x509.CertificateRequest
	issued []*x509.Certificate
	// checkins and results are the decoded bodies, in order; rawCheckins
	// their raw bytes.
	checkins    []map[string]any
	rawCheckins [][]byte
	results     []map[string]any
	// queue holds command bodies to hand out, one per poll or result.
	queue [][]byte
	// connectStatus, when set, answers every command request with it.
	connectStatus int
	// failResults is how many of the next results to refuse with 503.
	failResults int
	// problems are the protocol faults the server saw; a test fails on
	// any.
	problems []string
}

// testKey is one RSA key for the tests' CAs and signers: making one per
// test would take most of the run.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return key
})

func newMDMServer(t *testing.T) *mdmServer {
	t.Helper()
	key := testKey()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test SCEP CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	s := &mdmServer{t: t, caCert: ca, caKey: key, challenge: "secret-challenge", postCaps: true}
	mux := http.NewServeMux()
	mux.HandleFunc("/scep", s.scep)
	mux.HandleFunc("PUT /mdm/checkin", s.checkin)
	mux.HandleFunc("PUT /mdm/connect", s.connect)
	s.srv = httptest.NewUnstartedServer(mux)
	s.srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	s.srv.StartTLS()
	t.Cleanup(func() {
		s.srv.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, p := range s.problems {
			t.Errorf("server: %s", p)
		}
	})
	return s
}

func (s *mdmServer) problem(format string, args ...any) {
	s.mu.Lock()
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (s *mdmServer) scep(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Query().Get("operation") {
	case "GetCACaps":
		caps := "Renewal\nSHA-256\nAES\n"
		if s.postCaps {
			caps += "POSTPKIOperation\n"
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, caps)
	case "GetCACert":
		if s.raCert != nil {
			both, err := scep.DegenerateCertificates([]*x509.Certificate{s.raCert, s.caCert})
			if err != nil {
				s.t.Error(err)
			}
			w.Header().Set("Content-Type", "application/x-x509-ca-ra-cert")
			w.Write(both)
			return
		}
		w.Header().Set("Content-Type", "application/x-x509-ca-cert")
		w.Write(s.caCert.Raw)
	case "PKIOperation":
		var body []byte
		if r.Method == http.MethodPost {
			body, _ = io.ReadAll(r.Body)
		} else {
			body, _ = base64.StdEncoding.DecodeString(r.URL.Query().Get("message"))
		}
		s.mu.Lock()
		s.scepMethods = append(s.scepMethods, r.Method)
		s.mu.Unlock()
		msg, err := scep.ParsePKIMessage(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// The RA, when there is one, answers for the CA.
		signerCert, signerKey := s.caCert, s.caKey
		if s.raCert != nil {
			signerCert, signerKey = s.raCert, s.raKey
		}
		if err := msg.DecryptPKIEnvelope(signerCert, signerKey); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var rep *scep.PKIMessage
		if s.pending {
			w.Header().Set("Content-Type", "application/x-pki-message")
			w.Write(s.pendingRep(msg))
			return
		}
		if msg.CSRReqMessage.ChallengePassword != s.challenge {
			rep, err = msg.Fail(signerCert, signerKey, scep.BadRequest)
		} else {
			crt := s.issue(msg.CSR)
			rep, err = msg.Success(signerCert, signerKey, crt)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/x-pki-message")
		w.Write(rep.Raw)
	default:
		http.Error(w, "unknown operation", http.StatusBadRequest)
	}
}

// useRA makes the CA sign certificates only, and an RA, which the CA
// certifies for encipherment and signing, answer PKIOperation in its place:
// the device must pick the RA to encrypt to.
func (s *mdmServer) useRA(t *testing.T) {
	caTmpl := *s.caCert
	caTmpl.KeyUsage = x509.KeyUsageCertSign
	s.caCert, _ = x509.ParseCertificate(mustCreate(t, &caTmpl, &caTmpl, &s.caKey.PublicKey, s.caKey))
	raKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	raTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Test SCEP RA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature,
	}
	s.raCert, _ = x509.ParseCertificate(mustCreate(t, raTmpl, s.caCert, &raKey.PublicKey, s.caKey))
	s.raKey = raKey
}

func mustCreate(t *testing.T, tmpl, parent *x509.Certificate, pub any, key *rsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// pendingRep is a CertRep with pkiStatus PENDING, which smallstep/scep
// has no function for: the attributes RFC 8894 (3.2.1.4) requires, signed
// by the CA.
func (s *mdmServer) pendingRep(msg *scep.PKIMessage) []byte {
	oid := func(n int) asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, n} }
	sd, err := pkcs7.NewSignedData(nil)
	if err != nil {
		s.t.Fatal(err)
	}
	err = sd.AddSigner(s.caCert, s.caKey, pkcs7.SignerInfoConfig{ExtraSignedAttributes: []pkcs7.Attribute{
		{Type: oid(7), Value: msg.TransactionID},
		{Type: oid(3), Value: scep.PENDING},
		{Type: oid(2), Value: scep.CertRep},
		{Type: oid(5), Value: msg.SenderNonce},
		{Type: oid(6), Value: msg.SenderNonce},
	}})
	if err != nil {
		s.t.Fatal(err)
	}
	der, err := sd.Finish()
	if err != nil {
		s.t.Fatal(err)
	}
	return der
}

func (s *mdmServer) issue(csr *x509.CertificateRequest) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, RawSubject: csr.RawSubject,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.caCert, csr.PublicKey, s.caKey)
	if err != nil {
		s.t.Error(err)
	}
	crt, _ := x509.ParseCertificate(der)
	s.mu.Lock()
	s.csrs = append(s.csrs, csr)
	s.issued = append(s.issued, crt)
	s.mu.Unlock()
	return crt
}

// authenticated checks what every MDM request must carry: its content
// type, the device identity as TLS client certificate, and an Mdm-Signature
// by that identity over the exact body. It returns the body.
func (s *mdmServer) authenticated(r *http.Request, contentType string) []byte {
	body, _ := io.ReadAll(r.Body)
	if got := r.Header.Get("Content-Type"); got != contentType {
		s.problem("%s has Content-Type %q, want %q", r.URL.Path, got, contentType)
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		s.problem("%s came without a TLS client certificate", r.URL.Path)
		return body
	}
	peer := r.TLS.PeerCertificates[0]
	if _, err := peer.Verify(x509.VerifyOptions{Roots: s.pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		s.problem("%s: the TLS client certificate is not one the CA issued: %v", r.URL.Path, err)
	}
	if s.unsigned {
		if r.Header.Get("Mdm-Signature") != "" {
			s.problem("%s is signed though the profile does not ask for SignMessage", r.URL.Path)
		}
		return body
	}
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get("Mdm-Signature"))
	if err != nil || len(sig) == 0 {
		s.problem("%s has no base64 Mdm-Signature", r.URL.Path)
		return body
	}
	p7, err := pkcs7.Parse(sig)
	if err != nil {
		s.problem("%s: Mdm-Signature is not CMS: %v", r.URL.Path, err)
		return body
	}
	if len(p7.Content) != 0 {
		s.problem("%s: Mdm-Signature is not detached", r.URL.Path)
	}
	p7.Content = body
	if err := p7.Verify(); err != nil {
		s.problem("%s: Mdm-Signature does not verify over the body: %v", r.URL.Path, err)
	}
	if signer := p7.GetOnlySigner(); signer == nil || !signer.Equal(peer) {
		s.problem("%s: Mdm-Signature is not by the TLS client certificate", r.URL.Path)
	}
	return body
}

func (s *mdmServer) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.caCert)
	return p
}

func (s *mdmServer) checkin(w http.ResponseWriter, r *http.Request) {
	body := s.authenticated(r, "application/x-apple-aspen-mdm-checkin")
	var m map[string]any
	if _, err := plist.Unmarshal(body, &m); err != nil {
		s.problem("a check-in is not a property list: %v", err)
	}
	s.mu.Lock()
	s.checkins = append(s.checkins, m)
	s.rawCheckins = append(s.rawCheckins, body)
	s.mu.Unlock()
}

func (s *mdmServer) connect(w http.ResponseWriter, r *http.Request) {
	body := s.authenticated(r, "application/x-apple-aspen-mdm")
	var m map[string]any
	if _, err := plist.Unmarshal(body, &m); err != nil {
		s.problem("a command request is not a property list: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.connectStatus != 0 {
		w.WriteHeader(s.connectStatus)
		return
	}
	if m["Status"] != "Idle" {
		if s.failResults > 0 {
			s.failResults--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		s.results = append(s.results, m)
	}
	if len(s.queue) > 0 {
		w.Write(s.queue[0])
		s.queue = s.queue[1:]
	}
}

// send queues commands, each a Command dictionary, with fresh UUIDs; it
// returns the UUIDs.
func (s *mdmServer) send(commands ...map[string]any) []string {
	var uuids []string
	for _, c := range commands {
		id := newUUID()
		body, err := plist.Marshal(map[string]any{"CommandUUID": id, "Command": c}, plist.XMLFormat)
		if err != nil {
			s.t.Fatal(err)
		}
		s.mu.Lock()
		s.queue = append(s.queue, body)
		s.mu.Unlock()
		uuids = append(uuids, id)
	}
	return uuids
}

func (s *mdmServer) sendRaw(body []byte) {
	s.mu.Lock()
	s.queue = append(s.queue, body)
	s.mu.Unlock()
}

func (s *mdmServer) lastResult() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.results) == 0 {
		s.t.Fatal("the device sent no result")
	}
	return s.results[len(s.results)-1]
}

// profileOptions vary the enrollment profile the tests build.
type profileOptions struct {
	noMDM, signMessageOff, checkOutOff bool
	identityUUID                       string
	plain                              bool
	// keysize is the SCEP payload's Keysize; 0 leaves it out, for the
	// default 1024 bits.
	keysize int
	// caFingerprint is the SCEP payload's CAFingerprint.
	caFingerprint []byte
}

// enrollmentProfile builds an enrollment profile as a server would: the
// server's TLS root, a SCEP payload and an MDM payload; signed with CMS
// unless opts.plain.
func (s *mdmServer) enrollmentProfile(t *testing.T, opts profileOptions) []byte {
	t.Helper()
	scepUUID := "5D8C7A3E-0B7F-4C1E-9D1B-1A2B3C4D5E6F"
	identity := scepUUID
	if opts.identityUUID != "" {
		identity = opts.identityUUID
	}
	scepContent := map[string]any{
		"URL": s.srv.URL + "/scep", "Challenge": s.challenge, "Key Type": "RSA", "Key Usage": 5,
		"Subject": []any{[]any{[]any{"O", "Portico"}}, []any{[]any{"CN", "Test Device"}}},
	}
	if opts.keysize != 0 {
		scepContent["Keysize"] = opts.keysize
	}
	if opts.caFingerprint != nil {
		scepContent["CAFingerprint"] = opts.caFingerprint
	}
	payloads := []any{
		map[string]any{
			"PayloadType": "com.apple.security.root", "PayloadIdentifier": "test.portico.root",
			"PayloadUUID": "0F0E0D0C-0B0A-4908-8706-050403020100", "PayloadVersion": 1,
			"PayloadDisplayName": "Server root", "PayloadContent": s.srv.Certificate().Raw,
		},
		map[string]any{
			"PayloadType": "com.apple.security.scep", "PayloadIdentifier": "test.portico.scep",
			"PayloadUUID": scepUUID, "PayloadVersion": 1,
			"PayloadContent": scepContent,
		},
		map[string]any{
			"PayloadType": "com.apple.webClip.managed", "PayloadIdentifier": "test.portico.webclip",
			"PayloadUUID": "A1A2A3A4-B1B2-4C1C-8D1D-E1E2E3E4E5E6", "PayloadVersion": 1,
			"URL": s.srv.URL + "/", "Label": "Portico",
		},
	}
	if !opts.noMDM {
		payloads = append(payloads, map[string]any{
			"PayloadType": "com.apple.mdm", "PayloadIdentifier": "test.portico.mdm",
			"PayloadUUID": "11111111-2222-4333-8444-555555555555", "PayloadVersion": 1,
			"IdentityCertificateUUID": identity, "Topic": "com.apple.mgmt.External.portico-test",
			"ServerURL": s.srv.URL + "/mdm/connect", "CheckInURL": s.srv.URL + "/mdm/checkin",
			"SignMessage": !opts.signMessageOff, "CheckOutWhenRemoved": !opts.checkOutOff,
			"AccessRights": 8191, "ServerCapabilities": []any{"com.apple.mdm.per-user-connections"},
		})
	}
	top := map[string]any{
		"PayloadType": "Configuration", "PayloadIdentifier": "test.portico.enroll",
		"PayloadUUID": "99999999-8888-4777-8666-555555555555", "PayloadVersion": 1,
		"PayloadDisplayName": "Portico enrollment", "PayloadOrganization": "Portico",
		"PayloadContent": payloads,
	}
	body, err := plist.MarshalIndent(top, plist.XMLFormat, "\t")
	if err != nil {
		t.Fatal(err)
	}
	if opts.plain {
		return body
	}
	return signed(t, body)
}

// signed is a CMS SignedData of content by a fresh self-signed signer, as
// a server signs a profile.
func signed(t *testing.T, content []byte) []byte {
	t.Helper()
	key := testKey()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Portico profile signing"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		t.Fatal(err)
	}
	if err := sd.AddSigner(cert, key, pkcs7.SignerInfoConfig{}); err != nil {
		t.Fatal(err)
	}
	out, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// keysOf is the sorted key set of a dictionary.
func keysOf(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}

// capture reads a device capture from the protocol notes.
func capture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "captures", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if _, err := plist.Unmarshal(bytes.ReplaceAll(b, []byte(`\'`), []byte("'")), &m); err != nil {
		t.Fatalf("capture %s: %v", name, err)
	}
	return m
}
