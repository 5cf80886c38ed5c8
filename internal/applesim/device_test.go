package applesim

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"howett.net/plist"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/applesim/applesimtest"
)

var platforms = []portico.Platform{portico.PlatformIOS, portico.PlatformIPadOS, portico.PlatformMacOS}

func newDevice(t *testing.T, p portico.Platform, cfg Config) *Device {
	t.Helper()
	m, err := NewModel(p, 0, rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Model = m
	return New(cfg)
}

// enrolled is a device of the platform that installed the server's signed
// enrollment profile.
func enrolled(t *testing.T, p portico.Platform, cfg Config) (*applesimtest.Server, *Device) {
	t.Helper()
	s := applesimtest.New(t)
	d := newDevice(t, p, cfg)
	if err := d.Install(context.Background(), s.EnrollmentProfile(t, applesimtest.ProfileOptions{}), nil); err != nil {
		t.Fatal(err)
	}
	return s, d
}

// sameShape fails unless got has exactly the keys of the capture, less
// those left out, each value of the type the capture has, and so on in
// nested dictionaries.
func sameShape(t *testing.T, what string, got map[string]any, captureName string, leftOut ...string) {
	t.Helper()
	want := capture(t, captureName)
	for _, k := range leftOut {
		delete(want, k)
	}
	shapeOf(t, what, got, want, captureName)
}

func shapeOf(t *testing.T, what string, got, want map[string]any, captureName string) {
	t.Helper()
	if !slices.Equal(keysOf(got), keysOf(want)) {
		t.Errorf("%s has keys %v; %s has %v", what, keysOf(got), captureName, keysOf(want))
		return
	}
	for k, v := range want {
		if typeName(got[k]) != typeName(v) {
			t.Errorf("%s: %s is a %s; in %s a %s", what, k, typeName(got[k]), captureName, typeName(v))
		}
		if inner, ok := v.(map[string]any); ok {
			shapeOf(t, what+"."+k, got[k].(map[string]any), inner, captureName)
		}
	}
}

func TestInstallEnrollsAndChecksIn(t *testing.T) {
	captures := map[portico.Platform][2]string{
		portico.PlatformIOS:    {"Authenticate.iPhone-iOS11.3.1.plist", "TokenUpdate.iPad-iOS9.3.5.with-UnlockToken.plist"},
		portico.PlatformIPadOS: {"Authenticate.iPad-iOS11.3.1.plist", "TokenUpdate.iPad-iOS9.3.5.with-UnlockToken.plist"},
		portico.PlatformMacOS:  {"Authenticate.iMac-macOS10.12.6.plist", "TokenUpdate.iMac-macOS10.12.6.plist"},
	}
	for _, p := range platforms {
		t.Run(string(p), func(t *testing.T) {
			s := applesimtest.New(t)
			d := newDevice(t, p, Config{})
			if err := d.Install(context.Background(), s.EnrollmentProfile(t, applesimtest.ProfileOptions{Keysize: 2048}), nil); err != nil {
				t.Fatal(err)
			}
			if len(s.CSRs) != 1 || s.SCEPMethods[0] != "POST" {
				t.Fatalf("SCEP: %d requests by %v, want one POST", len(s.CSRs), s.SCEPMethods)
			}
			csr := s.CSRs[0]
			if csr.Subject.String() != "CN=Test Device,O=Portico" {
				t.Errorf("CSR subject %q, want the payload's O=Portico, CN=Test Device", csr.Subject)
			}
			if csr.PublicKey.(*rsa.PublicKey).N.BitLen() != 2048 {
				t.Errorf("the key has %d bits, want the payload's Keysize 2048", csr.PublicKey.(*rsa.PublicKey).N.BitLen())
			}
			if !d.Identity().Equal(s.Issued[0]) {
				t.Error("the device's identity is not the certificate the CA issued")
			}
			if len(s.Checkins) != 2 {
				t.Fatalf("%d check-ins, want Authenticate and TokenUpdate", len(s.Checkins))
			}
			auth, tok := s.Checkins[0], s.Checkins[1]
			// Challenge is the legacy OTA enrollment's, which a profile
			// with a SCEP payload does not carry.
			sameShape(t, "Authenticate", auth, captures[p][0], "Challenge")
			sameShape(t, "TokenUpdate", tok, captures[p][1])
			m := d.Model()
			if auth["MessageType"] != "Authenticate" || auth["UDID"] != m.UDID || auth["Topic"] != "com.apple.mgmt.External.portico-test" ||
				auth["ProductName"] != m.ProductName || auth["SerialNumber"] != m.SerialNumber || auth["OSVersion"] != m.OSVersion {
				t.Errorf("Authenticate = %v, not this device's", auth)
			}
			if tok["MessageType"] != "TokenUpdate" || tok["UDID"] != m.UDID || tok["PushMagic"] != d.PushMagic() {
				t.Errorf("TokenUpdate = %v", tok)
			}
			if token := tok["Token"].([]byte); len(token) != 32 || !slices.Equal(token, d.PushToken()) {
				t.Errorf("Token is %d bytes, want the device's 32", len(token))
			}
			if !regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`).MatchString(d.PushMagic()) {
				t.Errorf("PushMagic %q is not an upper-case UUID", d.PushMagic())
			}
			if p != portico.PlatformMacOS && !slices.Equal(tok["UnlockToken"].([]byte), d.UnlockToken()) {
				t.Error("UnlockToken is not the device's")
			}
		})
	}
}

func TestModelsAreRealisticAndUnique(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{}
	for i := range 50 {
		for _, p := range platforms {
			m, err := NewModel(p, i, rng)
			if err != nil {
				t.Fatal(err)
			}
			if seen[m.UDID] || seen[m.SerialNumber] {
				t.Fatalf("UDID %s or serial %s repeats", m.UDID, m.SerialNumber)
			}
			seen[m.UDID], seen[m.SerialNumber] = true, true
			want := map[portico.Platform]struct{ product, os, udid string }{
				portico.PlatformIOS:    {"iPhone15,2", `^17\.`, `^00008120-[0-9A-F]{16}$`},
				portico.PlatformIPadOS: {"iPad13,1", `^17\.`, `^00008101-[0-9A-F]{16}$`},
				portico.PlatformMacOS:  {"Mac14,2", `^14\.`, `^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$`},
			}[p]
			if m.ProductName != want.product || !regexp.MustCompile(want.os).MatchString(m.OSVersion) || !regexp.MustCompile(want.udid).MatchString(m.UDID) {
				t.Errorf("%s: %+v", p, m)
			}
			if (m.SIM != nil) != (p == portico.PlatformIOS) {
				t.Errorf("%s has SIM %v; only the iPhone has one", p, m.SIM)
			}
			if got, _ := portico.PlatformFromUserAgent(m.SafariUserAgent()); got != p {
				t.Errorf("%s's Safari User-Agent %q reads as %s", p, m.SafariUserAgent(), got)
			}
		}
	}
	if _, err := NewModel(portico.PlatformAndroid, 0, rng); err == nil {
		t.Error("an Android model was made")
	}
}

func TestSCEP(t *testing.T) {
	caFingerprint := func(s *applesimtest.Server) []byte { sum := sha256.Sum256(s.CACert.Raw); return sum[:] }
	tests := []struct {
		name        string
		postCaps    bool
		pending     bool
		ra          bool
		challenge   string
		fingerprint func(*applesimtest.Server) []byte
		want        string // in the error; empty for success
		method      string
	}{
		{"POST when advertised", true, false, false, "", nil, "", "POST"},
		{"GET when POST is not advertised", false, false, false, "", nil, "", "GET"},
		{"through an RA", true, false, true, "", nil, "", "POST"},
		{"the CA's fingerprint", true, false, false, "", caFingerprint, "", "POST"},
		{"another CA's fingerprint", true, false, false, "", func(*applesimtest.Server) []byte { return make([]byte, 32) }, "matches the payload's CAFingerprint", ""},
		{"wrong challenge", true, false, false, "not-the-secret", nil, "FAILURE, failInfo badRequest (2)", "POST"},
		{"pending", true, true, false, "", nil, "PENDING", "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := applesimtest.New(t)
			s.PostCaps, s.Pending = tt.postCaps, tt.pending
			if tt.ra {
				s.UseRA(t)
			}
			opts := applesimtest.ProfileOptions{}
			if tt.fingerprint != nil {
				opts.CAFingerprint = tt.fingerprint(s)
			}
			profile := s.EnrollmentProfile(t, opts)
			if tt.challenge != "" {
				s.Challenge = tt.challenge
			}
			d := newDevice(t, portico.PlatformIOS, Config{})
			err := d.Install(context.Background(), profile, nil)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Install: %v, want %q", err, tt.want)
			}
			if tt.method == "" && len(s.SCEPMethods) != 0 || tt.method != "" && (len(s.SCEPMethods) != 1 || s.SCEPMethods[0] != tt.method) {
				t.Errorf("PKIOperation came by %v, want %q", s.SCEPMethods, tt.method)
			}
			if tt.want != "" && len(s.Checkins) != 0 {
				t.Error("the device checked in without an identity")
			}
		})
	}
}

func TestProfileRefusals(t *testing.T) {
	s := applesimtest.New(t)
	tamper := func(b []byte) []byte {
		i := strings.Index(string(b), "Portico enrollment")
		out := slices.Clone(b)
		out[i] = 'X'
		return out
	}
	tests := []struct {
		name    string
		profile []byte
		cfg     Config
		want    string
	}{
		{"no MDM payload", s.EnrollmentProfile(t, applesimtest.ProfileOptions{NoMDM: true}), Config{}, "has no MDM payload"},
		{"identity names no SCEP payload", s.EnrollmentProfile(t, applesimtest.ProfileOptions{IdentityUUID: "00000000-0000-4000-8000-000000000000"}), Config{}, "IdentityCertificateUUID 00000000-0000-4000-8000-000000000000 names no SCEP payload"},
		{"tampered signature", tamper(s.EnrollmentProfile(t, applesimtest.ProfileOptions{})), Config{}, "signature does not verify"},
		{"not a profile", []byte("<html>no</html>"), Config{}, "not a property list"},
		{"http server refused", []byte(strings.ReplaceAll(string(s.EnrollmentProfile(t, applesimtest.ProfileOptions{Plain: true})), "https://", "http://")), Config{}, "is not https://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDevice(t, portico.PlatformIOS, tt.cfg)
			err := d.Install(context.Background(), tt.profile, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Install: %v, want %q", err, tt.want)
			}
		})
	}
	if len(s.CSRs) != 0 || len(s.Checkins) != 0 {
		t.Error("a refused profile reached the server")
	}
}

func TestParseProfile(t *testing.T) {
	s := applesimtest.New(t)
	for _, plain := range []bool{false, true} {
		p, err := ParseProfile(s.EnrollmentProfile(t, applesimtest.ProfileOptions{Plain: plain}))
		if err != nil {
			t.Fatal(err)
		}
		if p.Identifier != "test.portico.enroll" || p.MDM == nil || p.MDM.ServerURL != s.URL+"/mdm/connect" ||
			!p.MDM.SignMessage || !p.MDM.CheckOutWhenRemoved || p.MDM.AccessRights != 8191 {
			t.Errorf("plain %v: %+v %+v", plain, p, p.MDM)
		}
		if len(p.SCEP) != 1 || p.SCEP[0].Challenge != s.Challenge || p.SCEP[0].Keysize != 1024 || p.SCEP[0].KeyUsage != 5 {
			t.Errorf("SCEP payload %+v", p.SCEP)
		}
		if len(p.Roots) != 1 || !p.Roots[0].Equal(s.TLSCertificate()) {
			t.Error("the root payload's certificate was not read")
		}
		if len(p.WebClips) != 1 || p.WebClips[0].Label != "Portico" || !p.WebClips[0].IsRemovable {
			t.Errorf("web clips %+v", p.WebClips)
		}
		if (len(p.Signers) == 1) == plain {
			t.Errorf("plain %v: %d signers", plain, len(p.Signers))
		}
	}
	httpProfile, err := ParseProfile([]byte(strings.ReplaceAll(string(s.EnrollmentProfile(t, applesimtest.ProfileOptions{Plain: true})), "https://", "http://")))
	if err != nil {
		t.Fatal(err)
	}
	if httpProfile.checkEnrollment(false) == nil || httpProfile.checkEnrollment(true) != nil {
		t.Error("http:// MDM URLs are not accepted only when allowed")
	}
	bad := []struct {
		name    string
		top     map[string]any
		code    int
		message string
	}{
		{"no UUID", map[string]any{"PayloadType": "Configuration", "PayloadIdentifier": "x", "PayloadVersion": 1,
			"PayloadContent": []any{webClip("u1", "L")}}, 2002, "has no PayloadUUID"},
		{"web clip without label", map[string]any{"PayloadType": "Configuration", "PayloadIdentifier": "x", "PayloadUUID": "t", "PayloadVersion": 1,
			"PayloadContent": []any{webClip("u1", "")}}, 2002, "web clip has no Label"},
		{"duplicate UUID", map[string]any{"PayloadType": "Configuration", "PayloadIdentifier": "x", "PayloadUUID": "t", "PayloadVersion": 1,
			"PayloadContent": []any{webClip("u1", "A"), webClip("u1", "B")}}, 1007, "used twice"},
		{"no payloads", map[string]any{"PayloadType": "Configuration", "PayloadIdentifier": "x", "PayloadUUID": "t", "PayloadVersion": 1,
			"PayloadContent": []any{}}, 1005, "no payloads"},
	}
	for _, tt := range bad {
		b, _ := plist.Marshal(tt.top, plist.XMLFormat)
		_, err := ParseProfile(b)
		pe, ok := err.(*ProfileError)
		if !ok || pe.Code != tt.code || !strings.Contains(pe.Message, tt.message) {
			t.Errorf("%s: %v, want code %d %q", tt.name, err, tt.code, tt.message)
		}
	}
}

func webClip(uuid, label string) map[string]any {
	return map[string]any{"PayloadType": "com.apple.webClip.managed", "PayloadIdentifier": "clip." + uuid, "PayloadUUID": uuid,
		"PayloadVersion": 1, "URL": "https://example.com/", "Label": label}
}

func TestWithoutSignMessageOnlyTLSCarriesTheIdentity(t *testing.T) {
	s := applesimtest.New(t)
	s.Unsigned = true
	d := newDevice(t, portico.PlatformMacOS, Config{})
	if err := d.Install(context.Background(), s.EnrollmentProfile(t, applesimtest.ProfileOptions{SignMessageOff: true}), nil); err != nil {
		t.Fatal(err)
	}
	if res := exchange(t, s, d, map[string]any{"RequestType": "SecurityInfo"}); res["Status"] != "Acknowledged" {
		t.Errorf("SecurityInfo: %v", res)
	}
	if len(s.Checkins) != 2 {
		t.Errorf("%d check-ins", len(s.Checkins))
	}
}

func TestInstallFailsWhenTheServerRefusesCheckIn(t *testing.T) {
	s := applesimtest.New(t)
	s.CheckinStatus = 401
	d := newDevice(t, portico.PlatformIOS, Config{})
	err := d.Install(context.Background(), s.EnrollmentProfile(t, applesimtest.ProfileOptions{}), nil)
	if err == nil || !strings.Contains(err.Error(), "the server answered 401 Unauthorized to Authenticate") {
		t.Fatalf("Install: %v", err)
	}
	if _, err := d.Poll(context.Background()); err == nil {
		t.Error("a device the server refused polls")
	}
}
