package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/smallstep/scep"
	"howett.net/plist"

	"github.com/portico-mdm/portico/internal/applemdm"
	"github.com/portico-mdm/portico/internal/applemdm/mdmtest"
)

// TestAppleEnrollmentOverMutualTLS enrolls an iPhone, played with the real
// libraries, into serve on the network with its self-signed certificate:
// the profile from /go is signed by that certificate and tells the device
// to trust it, SCEP gives the identity, and the device then shows it as
// its TLS client certificate, with no Mdm-Signature.
func TestAppleEnrollmentOverMutualTLS(t *testing.T) {
	w := newAppleWorld(t)
	in, data := w.instance, w.data
	w.uploadPushCertificate(t)
	password := addUser(t, []string{"--data", data}, "grace", "register_device")
	if _, err := os.Stat(filepath.Join(data, "apple", "ca.key")); err != nil {
		t.Fatalf("no SCEP CA in the data directory: %v", err)
	}

	serverCert, err := os.ReadFile(filepath.Join(data, "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(serverCert)
	browser := browserClient()
	browser.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	if code := signIn(t, browser, in.URL, "grace", password); code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", code)
	}
	if res, err := browser.PostForm(in.URL+"/register", url.Values{"how": {"invitation"}, "platform": {"ios"}}); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
	}

	// On the iPhone: sign in at /go; the answer is the profile.
	res, err := browser.PostForm(in.URL+"/go", url.Values{"username": {"grace"}, "password": {password}, "platform": {"ios"}})
	if err != nil {
		t.Fatal(err)
	}
	signed, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.Header.Get("Content-Type") != applemdm.ProfileContentType {
		t.Fatalf("POST /go: %d %s\n%.300s", res.StatusCode, res.Header.Get("Content-Type"), signed)
	}
	content, signer, err := applemdm.ReadProfile(signed)
	if err != nil || signer == nil {
		t.Fatalf("the profile is not signed: %v", err)
	}
	var profile struct{ PayloadContent []map[string]any }
	plist.Unmarshal(content, &profile)
	var challenge string
	trusted := false
	for _, p := range profile.PayloadContent {
		switch p["PayloadType"] {
		case "com.apple.security.scep":
			challenge = p["PayloadContent"].(map[string]any)["Challenge"].(string)
		case "com.apple.security.root":
			cert, err := x509.ParseCertificate(p["PayloadContent"].([]byte))
			trusted = err == nil && cert.Equal(signer)
		}
	}
	if !trusted {
		t.Error("the profile does not ask the device to trust the server's certificate")
	}

	dev := mdmtest.NewDevice(t, "00008110-E2E000000001")
	device := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	caRes, err := device.Get(in.URL + "/scep?operation=GetCACert")
	if err != nil {
		t.Fatal(err)
	}
	caDER, _ := io.ReadAll(caRes.Body)
	caRes.Body.Close()
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := device.Post(in.URL+"/scep?operation=PKIOperation", applemdm.PKIMessageContentType, bytes.NewReader(dev.SCEPRequest(t, ca, "x", challenge)))
	if err != nil {
		t.Fatal(err)
	}
	repBody, _ := io.ReadAll(rep.Body)
	rep.Body.Close()
	if status := dev.SCEPReply(t, ca, repBody); status != scep.SUCCESS {
		t.Fatalf("SCEP: %s", status)
	}

	// The identity goes on new connections: the SCEP ones had none.
	device.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{{Certificate: [][]byte{dev.Identity.Raw}, PrivateKey: dev.Key}}
	device.Transport.(*http.Transport).CloseIdleConnections()
	put := func(path string, m map[string]any) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPut, in.URL+path, bytes.NewReader(mdmtest.Message(t, m)))
		res, err := device.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	if s, b := put("/mdm/checkin", map[string]any{"MessageType": "Authenticate", "UDID": dev.UDID, "Topic": appleTopic, "ProductName": "iPhone15,2", "OSVersion": "17.4.1", "DeviceName": "Grace's iPhone"}); s != http.StatusOK {
		t.Fatalf("Authenticate: %d %s", s, b)
	}
	if s, b := put("/mdm/checkin", map[string]any{"MessageType": "TokenUpdate", "UDID": dev.UDID, "Topic": appleTopic, "Token": []byte{1, 2, 3}, "PushMagic": "magic"}); s != http.StatusOK {
		t.Fatalf("TokenUpdate: %d %s", s, b)
	}
	s, b := put("/mdm/connect", map[string]any{"UDID": dev.UDID, "Status": "Idle"})
	var cmd struct {
		CommandUUID string
		Command     map[string]any
	}
	if _, err := plist.Unmarshal(b, &cmd); s != http.StatusOK || err != nil || cmd.Command["RequestType"] != applemdm.RequestDeviceInformation {
		t.Fatalf("Idle: %d %s", s, b)
	}
	if _, home := get(t, browser, in.URL+"/"); !bytes.Contains([]byte(home), []byte("Grace&#39;s iPhone")) {
		t.Errorf("the portal does not show the enrolled iPhone:\n%s", home)
	}
	// Without its certificate, the device is refused.
	device.Transport.(*http.Transport).TLSClientConfig.Certificates = nil
	device.Transport.(*http.Transport).CloseIdleConnections()
	if s, _ := put("/mdm/connect", map[string]any{"UDID": dev.UDID, "Status": "Idle"}); s != http.StatusUnauthorized {
		t.Errorf("without the client certificate: %d", s)
	}
}
