package applemdm_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"
	"howett.net/plist"

	"github.com/portico-mdm/portico/internal/applemdm"
	"github.com/portico-mdm/portico/internal/applemdm/mdmtest"
)

var now = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func newCA(t *testing.T) *applemdm.CA {
	t.Helper()
	ca, made, err := applemdm.LoadOrCreateCA(t.TempDir(), now)
	if err != nil || !made {
		t.Fatal(made, err)
	}
	return ca
}

func TestSCEP(t *testing.T) {
	ca := newCA(t)
	dev := mdmtest.NewDevice(t, "udid-1")
	req, err := ca.ParseSCEP(dev.SCEPRequest(t, ca.Cert, "asked-for", "one-time"))
	if err != nil {
		t.Fatal(err)
	}
	if req.Challenge != "one-time" {
		t.Fatalf("challenge = %q", req.Challenge)
	}
	cert, err := ca.Issue(req.CSR, pkix.Name{CommonName: "portico-device-7"}, now)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ca.Success(req, cert)
	if err != nil {
		t.Fatal(err)
	}
	status, got := dev.SCEPReply(t, ca.Cert, raw), dev.Identity
	if status != scep.SUCCESS || got == nil || !got.Equal(cert) {
		t.Fatalf("reply: %s %v", status, got)
	}
	if got.Subject.CommonName != "portico-device-7" || !got.PublicKey.(*rsa.PublicKey).Equal(&dev.Key.PublicKey) {
		t.Errorf("issued %v for another key or subject", got.Subject)
	}
	if err := ca.Verify(got, now); err != nil {
		t.Errorf("our own certificate: %v", err)
	}
	if err := newCA(t).Verify(got, now); err == nil {
		t.Error("another CA's certificate verifies")
	}
	if err := ca.Verify(got, now.Add(400*24*time.Hour)); err == nil {
		t.Error("an expired certificate verifies")
	}

	raw, err = ca.Failure(req)
	if err != nil {
		t.Fatal(err)
	}
	if status := dev.SCEPReply(t, ca.Cert, raw); status != scep.FAILURE {
		t.Errorf("refusal status %s", status)
	}
}

// TestSCEPEncryptions: the CA opens a request whatever content encryption
// the device chose: DES-CBC as libraries default to, AES as iPhones use
// when GetCACaps offers it.
func TestSCEPEncryptions(t *testing.T) {
	ca := newCA(t)
	dev := mdmtest.NewDevice(t, "udid-enc")
	for name, alg := range map[string]int{
		"DES-CBC":     pkcs7.EncryptionAlgorithmDESCBC,
		"AES-128-CBC": pkcs7.EncryptionAlgorithmAES128CBC,
		"AES-256-CBC": pkcs7.EncryptionAlgorithmAES256CBC,
		"AES-256-GCM": pkcs7.EncryptionAlgorithmAES256GCM,
	} {
		t.Run(name, func(t *testing.T) {
			// The library encrypts with a process-wide choice.
			was := pkcs7.ContentEncryptionAlgorithm
			pkcs7.ContentEncryptionAlgorithm = alg
			body := dev.SCEPRequest(t, ca.Cert, "asked-for", "challenge-"+name)
			pkcs7.ContentEncryptionAlgorithm = was
			req, err := ca.ParseSCEP(body)
			if err != nil {
				t.Fatal(err)
			}
			if req.Challenge != "challenge-"+name {
				t.Errorf("challenge = %q", req.Challenge)
			}
		})
	}
}

func TestSCEPRefuses(t *testing.T) {
	ca := newCA(t)
	other := newCA(t)
	capture, err := os.ReadFile(filepath.Join("testdata", "devices", "SCEP.PKIOperation-PKCSReq.macOS-mdmclient.der"))
	if err != nil {
		t.Fatal(err)
	}
	// The capture is a real macOS request, encrypted to the CA it was made
	// for: it reads as a PKCSReq, but only that CA could open it.
	msg, err := scep.ParsePKIMessage(capture)
	if err != nil {
		t.Fatal(err)
	}
	if msg.MessageType != scep.PKCSReq || msg.TransactionID == "" || len(msg.SenderNonce) == 0 {
		t.Errorf("capture: type %s, transaction %q", msg.MessageType, msg.TransactionID)
	}
	tests := []struct {
		name string
		body []byte
	}{
		{"the macOS capture, for another CA", capture},
		{"a request for another CA", mdmtest.NewDevice(t, "udid-2").SCEPRequest(t, other.Cert, "s", "x")},
		{"garbage", []byte("not a pki message")},
		{"empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ca.ParseSCEP(tt.body); !errors.Is(err, applemdm.ErrMalformed) {
				t.Errorf("ParseSCEP: %v, want ErrMalformed", err)
			}
		})
	}
}

func TestLoadOrCreateCA(t *testing.T) {
	dir := t.TempDir()
	ca, made, err := applemdm.LoadOrCreateCA(dir, now)
	if err != nil || !made {
		t.Fatal(made, err)
	}
	again, made, err := applemdm.LoadOrCreateCA(dir, now)
	if err != nil || made || !again.Cert.Equal(ca.Cert) {
		t.Fatalf("second load: made %v, err %v", made, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", fi.Mode(), err)
	}
	if ca.Cert.NotAfter.Sub(now) < 3649*24*time.Hour || ca.Cert.PublicKeyAlgorithm != x509.RSA || !ca.Cert.IsCA {
		t.Errorf("CA: until %v, %v, CA %v", ca.Cert.NotAfter, ca.Cert.PublicKeyAlgorithm, ca.Cert.IsCA)
	}
	// An administrator's CA comes as files; a key of another certificate
	// is refused.
	other := t.TempDir()
	applemdm.LoadOrCreateCA(other, now)
	if _, err := applemdm.LoadCA(filepath.Join(dir, "ca.pem"), filepath.Join(other, "ca.key")); err == nil {
		t.Error("a CA with another's key loads")
	}
	if _, err := applemdm.LoadCA(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key")); err != nil {
		t.Error(err)
	}
}

func TestSignature(t *testing.T) {
	ca := newCA(t)
	dev := mdmtest.NewDevice(t, "udid-3")
	req, err := ca.ParseSCEP(dev.SCEPRequest(t, ca.Cert, "s", "c"))
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := ca.Issue(req.CSR, pkix.Name{CommonName: "d"}, now)
	body := readDevice(t, "Authenticate.iPad-iOS9.3.5.plist")
	sig, err := applemdm.Sign(body, cert, dev.Key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := applemdm.VerifySignature(sig, body)
	if err != nil || !got.Equal(cert) {
		t.Fatalf("VerifySignature: %v", err)
	}
	tests := []struct{ name, header, body string }{
		{"none", "", string(body)},
		{"not base64", "%%%", string(body)},
		{"not CMS", "aGVsbG8=", string(body)},
		{"another body", sig, string(body) + " "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := applemdm.VerifySignature(tt.header, []byte(tt.body)); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestProfile(t *testing.T) {
	ca := newCA(t)
	e := applemdm.Enrollment{
		Organization: "Example", ServerURL: "https://mdm.example.com/mdm/connect", CheckInURL: "https://mdm.example.com/mdm/checkin",
		SCEPURL: "https://mdm.example.com/scep", Challenge: "secret", Subject: "portico-device-3",
		Topic: "com.apple.mgmt.External.1", TrustRoot: ca.Cert,
		WebClip: &applemdm.WebClip{URL: "https://mdm.example.com/", Label: "Portal"},
	}
	raw, err := e.Profile()
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		PayloadType, PayloadIdentifier string
		PayloadContent                 []map[string]any
	}
	if _, err := plist.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	if p.PayloadType != "Configuration" || p.PayloadIdentifier != applemdm.EnrollmentIdentifier || len(p.PayloadContent) != 4 {
		t.Fatalf("profile: %s %s %d payloads", p.PayloadType, p.PayloadIdentifier, len(p.PayloadContent))
	}
	byType := map[string]map[string]any{}
	for _, pl := range p.PayloadContent {
		byType[pl["PayloadType"].(string)] = pl
	}
	root, scepPl, mdm, clip := byType["com.apple.security.root"], byType["com.apple.security.scep"], byType["com.apple.mdm"], byType["com.apple.webClip.managed"]
	if root == nil || scepPl == nil || mdm == nil || clip == nil {
		t.Fatalf("payload types: %v", byType)
	}
	if string(root["PayloadContent"].([]byte)) != string(ca.Cert.Raw) {
		t.Error("root payload holds another certificate")
	}
	sc := scepPl["PayloadContent"].(map[string]any)
	if sc["Challenge"] != "secret" || sc["URL"] != e.SCEPURL || sc["Keysize"] != uint64(2048) || sc["Key Type"] != "RSA" {
		t.Errorf("SCEP payload: %v", sc)
	}
	subject := sc["Subject"].([]any)[0].([]any)[0].([]any)
	if subject[0] != "CN" || subject[1] != "portico-device-3" {
		t.Errorf("subject %v", subject)
	}
	want := map[string]any{
		"IdentityCertificateUUID": scepPl["PayloadUUID"], "Topic": e.Topic, "ServerURL": e.ServerURL, "CheckInURL": e.CheckInURL,
		"SignMessage": true, "CheckOutWhenRemoved": true, "AccessRights": uint64(8191),
	}
	for k, v := range want {
		if mdm[k] != v {
			t.Errorf("MDM payload %s = %v, want %v", k, mdm[k], v)
		}
	}
	if caps := mdm["ServerCapabilities"].([]any); len(caps) != 1 || caps[0] != "com.apple.mdm.per-user-connections" {
		t.Errorf("ServerCapabilities %v", caps)
	}
	if clip["URL"] != "https://mdm.example.com/" || clip["Label"] != "Portal" {
		t.Errorf("web clip %v", clip)
	}

	// Signed with the server's identity, the device reads the same profile
	// and who signed it.
	dev := mdmtest.NewDevice(t, "udid-4")
	signed, err := applemdm.SignProfile(raw, dev.Self, dev.Key, nil)
	if err != nil {
		t.Fatal(err)
	}
	content, signer, err := applemdm.ReadProfile(signed)
	if err != nil || string(content) != string(raw) || !signer.Equal(dev.Self) {
		t.Fatalf("ReadProfile: %v", err)
	}
	tampered := []byte(strings.Replace(string(signed), "secret", "secreT", 1))
	if _, _, err := applemdm.ReadProfile(tampered); err == nil {
		t.Error("a tampered profile reads")
	}
}

// TestIssueRefusesWeakKeys: the CA certifies RSA keys of 2048 bits or
// more, and nothing else.
func TestIssueRefusesWeakKeys(t *testing.T) {
	ca := newCA(t)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		key  crypto.Signer
		ok   bool
	}{
		{"RSA 2048", mdmtest.NewDevice(t, "udid").Key, true},
		{"RSA 1024", rsa1024, false},
		{"ECDSA P-256", p256, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, tt.key)
			if err != nil {
				t.Fatal(err)
			}
			csr, err := x509.ParseCertificateRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ca.Issue(csr, pkix.Name{CommonName: "Portico device 1"}, now)
			if tt.ok != (err == nil) || (!tt.ok && !errors.Is(err, applemdm.ErrWeakKey)) {
				t.Errorf("Issue: %v", err)
			}
		})
	}
}

// TestIssued: an identity of this CA is recognised after it expired, and
// said to be expired; another CA's is not recognised at all.
func TestIssued(t *testing.T) {
	ca := newCA(t)
	dev := mdmtest.NewDevice(t, "udid-1")
	req, err := ca.ParseSCEP(dev.SCEPRequest(t, ca.Cert, "s", "c"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(req.CSR, pkix.Name{CommonName: "Portico device 1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if expired, err := ca.Issued(cert, now); expired || err != nil {
		t.Errorf("now: %v %v", expired, err)
	}
	if expired, err := ca.Issued(cert, now.Add(400*24*time.Hour)); !expired || err != nil {
		t.Errorf("after a year: %v %v", expired, err)
	}
	if _, err := newCA(t).Issued(cert, now.Add(400*24*time.Hour)); err == nil {
		t.Error("another CA recognises the identity")
	}
}

// TestSignatureOfExpiredIdentity: a message signed with an identity that
// has expired still verifies, and the signer comes back with its real
// dates, for the server to decide on.
func TestSignatureOfExpiredIdentity(t *testing.T) {
	ca := newCA(t)
	dev := mdmtest.NewDevice(t, "udid-1")
	req, err := ca.ParseSCEP(dev.SCEPRequest(t, ca.Cert, "s", "c"))
	if err != nil {
		t.Fatal(err)
	}
	issuedAt := time.Now().Add(-2 * 365 * 24 * time.Hour)
	if dev.Identity, err = ca.Issue(req.CSR, pkix.Name{CommonName: "Portico device 1"}, issuedAt); err != nil {
		t.Fatal(err)
	}
	body := []byte("<plist/>")
	signer, err := applemdm.VerifySignature(dev.Sign(t, body), body)
	if err != nil {
		t.Fatal(err)
	}
	if !signer.Equal(dev.Identity) || !signer.NotAfter.Equal(dev.Identity.NotAfter) {
		t.Errorf("signer %v until %s", signer.Subject, signer.NotAfter)
	}
	if _, err := applemdm.VerifySignature(dev.Sign(t, body), []byte("other")); err == nil {
		t.Error("a signature of another body verifies")
	}
}
