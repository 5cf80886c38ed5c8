// Package applesimtest is an Apple MDM server for the simulator's tests: a
// SCEP CA built from smallstep/scep's server functions, check-in and command
// endpoints that check each request's Mdm-Signature and TLS client
// certificate and record what the device sent, and a registration page
// that hands out an enrollment profile. It is a test helper, not Portico's
// server.
package applesimtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"
	"howett.net/plist"
)

// Server is the server side the simulator's tests run a device against.
// Set its fields before the device talks to it; read the records once the
// device's call returned.
type Server struct {
	t   *testing.T
	srv *httptest.Server
	// URL is the server's https:// base URL.
	URL string
	// CACert is the SCEP CA's certificate.
	CACert *x509.Certificate
	caKey  *rsa.PrivateKey

	// Challenge is the SCEP challenge the CA accepts.
	Challenge string
	// PostCaps advertises POSTPKIOperation; without it the device must
	// send PKIOperation by GET.
	PostCaps bool
	// Pending holds every request for manual approval.
	Pending bool
	// Unsigned expects requests without Mdm-Signature (SignMessage off).
	Unsigned bool
	// Username and Password are what the registration page (/go)
	// accepts before it answers with the enrollment profile.
	Username, Password string
	// raCert and raKey, when set, are an RA that GetCACert hands out with
	// the CA and that answers PKIOperation.
	raCert *x509.Certificate
	raKey  *rsa.PrivateKey

	mu sync.Mutex
	// SCEPMethods are the methods PKIOperation came by.
	SCEPMethods []string
	// CSRs are the requests the CA received, Issued what it issued.
	CSRs   []*x509.CertificateRequest
	Issued []*x509.Certificate
	// Checkins and Results are the decoded bodies, in order; RawCheckins
	// the check-ins' raw bytes.
	Checkins    []map[string]any
	RawCheckins [][]byte
	Results     []map[string]any
	// queue holds command bodies to hand out, one per poll or result.
	queue [][]byte
	// CheckinStatus and ConnectStatus, when set, answer every check-in or
	// command request with them.
	CheckinStatus, ConnectStatus int
	// FailResults is how many of the next results to refuse with 503.
	FailResults int
	// problems are the protocol faults the server saw; the test fails on
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

// New starts a server, stopped when the test ends; the test fails if the
// server saw a protocol fault.
func New(t *testing.T) *Server {
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
	s := &Server{t: t, CACert: ca, caKey: key, Challenge: "secret-challenge", PostCaps: true}
	mux := http.NewServeMux()
	mux.HandleFunc("/scep", s.scep)
	mux.HandleFunc("GET /go", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<form method=post action=/go></form>")
	})
	mux.HandleFunc("POST /go", s.register)
	mux.HandleFunc("PUT /mdm/checkin", s.checkin)
	mux.HandleFunc("PUT /mdm/connect", s.connect)
	s.srv = httptest.NewUnstartedServer(mux)
	s.srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	s.srv.StartTLS()
	s.URL = s.srv.URL
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

// register answers the registration form, as Portico's portal does for an
// Apple device: the enrollment profile once the user name and password are
// right.
func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	if r.PostFormValue("username") != s.Username || r.PostFormValue("password") != s.Password || s.Username == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `<p class="error" role="alert">The user name or password is wrong.</p>`)
		return
	}
	if !strings.Contains(r.UserAgent(), "iPhone") && !strings.Contains(r.UserAgent(), "iPad") && !strings.Contains(r.UserAgent(), "Macintosh") {
		s.problem("the registration page was opened with User-Agent %q, not an Apple device's", r.UserAgent())
	}
	w.Header().Set("Content-Type", "application/x-apple-aspen-config")
	w.Write(s.EnrollmentProfile(s.t, ProfileOptions{}))
}

func (s *Server) problem(format string, args ...any) {
	s.mu.Lock()
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (s *Server) scep(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Query().Get("operation") {
	case "GetCACaps":
		caps := "Renewal\nSHA-256\nAES\n"
		if s.PostCaps {
			caps += "POSTPKIOperation\n"
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, caps)
	case "GetCACert":
		if s.raCert != nil {
			both, err := scep.DegenerateCertificates([]*x509.Certificate{s.raCert, s.CACert})
			if err != nil {
				s.t.Error(err)
			}
			w.Header().Set("Content-Type", "application/x-x509-ca-ra-cert")
			w.Write(both)
			return
		}
		w.Header().Set("Content-Type", "application/x-x509-ca-cert")
		w.Write(s.CACert.Raw)
	case "PKIOperation":
		var body []byte
		if r.Method == http.MethodPost {
			body, _ = io.ReadAll(r.Body)
		} else {
			body, _ = base64.StdEncoding.DecodeString(r.URL.Query().Get("message"))
		}
		s.mu.Lock()
		s.SCEPMethods = append(s.SCEPMethods, r.Method)
		s.mu.Unlock()
		msg, err := scep.ParsePKIMessage(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// The RA, when there is one, answers for the CA.
		signerCert, signerKey := s.CACert, s.caKey
		if s.raCert != nil {
			signerCert, signerKey = s.raCert, s.raKey
		}
		if err := msg.DecryptPKIEnvelope(signerCert, signerKey); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var rep *scep.PKIMessage
		if s.Pending {
			w.Header().Set("Content-Type", "application/x-pki-message")
			w.Write(s.pendingRep(msg))
			return
		}
		if msg.CSRReqMessage.ChallengePassword != s.Challenge {
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
func (s *Server) UseRA(t *testing.T) {
	caTmpl := *s.CACert
	caTmpl.KeyUsage = x509.KeyUsageCertSign
	s.CACert, _ = x509.ParseCertificate(mustCreate(t, &caTmpl, &caTmpl, &s.caKey.PublicKey, s.caKey))
	raKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	raTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Test SCEP RA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature,
	}
	s.raCert, _ = x509.ParseCertificate(mustCreate(t, raTmpl, s.CACert, &raKey.PublicKey, s.caKey))
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
func (s *Server) pendingRep(msg *scep.PKIMessage) []byte {
	oid := func(n int) asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, n} }
	sd, err := pkcs7.NewSignedData(nil)
	if err != nil {
		s.t.Fatal(err)
	}
	err = sd.AddSigner(s.CACert, s.caKey, pkcs7.SignerInfoConfig{ExtraSignedAttributes: []pkcs7.Attribute{
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

func (s *Server) issue(csr *x509.CertificateRequest) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, RawSubject: csr.RawSubject,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.CACert, csr.PublicKey, s.caKey)
	if err != nil {
		s.t.Error(err)
	}
	crt, _ := x509.ParseCertificate(der)
	s.mu.Lock()
	s.CSRs = append(s.CSRs, csr)
	s.Issued = append(s.Issued, crt)
	s.mu.Unlock()
	return crt
}

// authenticated checks what every MDM request must carry: its content
// type, the device identity as TLS client certificate, and an Mdm-Signature
// by that identity over the exact body. It returns the body.
func (s *Server) authenticated(r *http.Request, contentType string) []byte {
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
	if s.Unsigned {
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

func (s *Server) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.CACert)
	return p
}

func (s *Server) checkin(w http.ResponseWriter, r *http.Request) {
	body := s.authenticated(r, "application/x-apple-aspen-mdm-checkin")
	var m map[string]any
	if _, err := plist.Unmarshal(body, &m); err != nil {
		s.problem("a check-in is not a property list: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Checkins = append(s.Checkins, m)
	s.RawCheckins = append(s.RawCheckins, body)
	if s.CheckinStatus != 0 {
		w.WriteHeader(s.CheckinStatus)
	}
}

func (s *Server) connect(w http.ResponseWriter, r *http.Request) {
	body := s.authenticated(r, "application/x-apple-aspen-mdm")
	var m map[string]any
	if _, err := plist.Unmarshal(body, &m); err != nil {
		s.problem("a command request is not a property list: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ConnectStatus != 0 {
		w.WriteHeader(s.ConnectStatus)
		return
	}
	if m["Status"] != "Idle" {
		if s.FailResults > 0 {
			s.FailResults--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		s.Results = append(s.Results, m)
	}
	if len(s.queue) > 0 {
		w.Write(s.queue[0])
		s.queue = s.queue[1:]
	}
}

// send queues commands, each a Command dictionary, with fresh UUIDs; it
// returns the UUIDs.
func (s *Server) Send(commands ...map[string]any) []string {
	var uuids []string
	for _, c := range commands {
		id := commandUUID()
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

func (s *Server) SendRaw(body []byte) {
	s.mu.Lock()
	s.queue = append(s.queue, body)
	s.mu.Unlock()
}

func (s *Server) LastResult() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.Results) == 0 {
		s.t.Fatal("the device sent no result")
	}
	return s.Results[len(s.Results)-1]
}

// ProfileOptions vary the enrollment profile the tests build.
type ProfileOptions struct {
	NoMDM, SignMessageOff, CheckOutOff bool
	IdentityUUID                       string
	Plain                              bool
	// keysize is the SCEP payload's Keysize; 0 leaves it out, for the
	// default 1024 bits.
	Keysize int
	// caFingerprint is the SCEP payload's CAFingerprint.
	CAFingerprint []byte
}

// enrollmentProfile builds an enrollment profile as a server would: the
// server's TLS root, a SCEP payload and an MDM payload; signed with CMS
// unless opts.Plain.
func (s *Server) EnrollmentProfile(t *testing.T, opts ProfileOptions) []byte {
	t.Helper()
	scepUUID := "5D8C7A3E-0B7F-4C1E-9D1B-1A2B3C4D5E6F"
	identity := scepUUID
	if opts.IdentityUUID != "" {
		identity = opts.IdentityUUID
	}
	scepContent := map[string]any{
		"URL": s.URL + "/scep", "Challenge": s.Challenge, "Key Type": "RSA", "Key Usage": 5,
		"Subject": []any{[]any{[]any{"O", "Portico"}}, []any{[]any{"CN", "Test Device"}}},
	}
	if opts.Keysize != 0 {
		scepContent["Keysize"] = opts.Keysize
	}
	if opts.CAFingerprint != nil {
		scepContent["CAFingerprint"] = opts.CAFingerprint
	}
	payloads := []any{
		map[string]any{
			"PayloadType": "com.apple.security.root", "PayloadIdentifier": "test.portico.root",
			"PayloadUUID": "0F0E0D0C-0B0A-4908-8706-050403020100", "PayloadVersion": 1,
			"PayloadDisplayName": "Server root", "PayloadContent": s.TLSCertificate().Raw,
		},
		map[string]any{
			"PayloadType": "com.apple.security.scep", "PayloadIdentifier": "test.portico.scep",
			"PayloadUUID": scepUUID, "PayloadVersion": 1,
			"PayloadContent": scepContent,
		},
		map[string]any{
			"PayloadType": "com.apple.webClip.managed", "PayloadIdentifier": "test.portico.webclip",
			"PayloadUUID": "A1A2A3A4-B1B2-4C1C-8D1D-E1E2E3E4E5E6", "PayloadVersion": 1,
			"URL": s.URL + "/", "Label": "Portico",
		},
	}
	if !opts.NoMDM {
		payloads = append(payloads, map[string]any{
			"PayloadType": "com.apple.mdm", "PayloadIdentifier": "test.portico.mdm",
			"PayloadUUID": "11111111-2222-4333-8444-555555555555", "PayloadVersion": 1,
			"IdentityCertificateUUID": identity, "Topic": "com.apple.mgmt.External.portico-test",
			"ServerURL": s.URL + "/mdm/connect", "CheckInURL": s.URL + "/mdm/checkin",
			"SignMessage": !opts.SignMessageOff, "CheckOutWhenRemoved": !opts.CheckOutOff,
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
	if opts.Plain {
		return body
	}
	return Signed(t, body)
}

// Signed is a CMS SignedData of content by a fresh self-signed signer, as
// a server signs a profile.
func Signed(t *testing.T, content []byte) []byte {
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

func commandUUID() string {
	var b [16]byte
	rand.Read(b[:])
	return fmt.Sprintf("%X-%X-%X-%X-%X", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// TLSCertificate is the certificate of the server's HTTPS, which its
// enrollment profile's root payload carries.
func (s *Server) TLSCertificate() *x509.Certificate { return s.srv.Certificate() }
