package mdm_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/scep"
	"howett.net/plist"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/apns/apnstest"
	"github.com/portico-mdm/portico/internal/applemdm"
	"github.com/portico-mdm/portico/internal/applemdm/mdmtest"
	"github.com/portico-mdm/portico/internal/certfile/certfiletest"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
)

const topic = "com.apple.mgmt.External.3f1b2c4d-0000-4000-8000-000000000001"

// phone is an iPhone in the test: the enrollment profile it was given, its
// keys and identity, and the server it talks to.
type phone struct {
	*mdmtest.Device
	t       *testing.T
	e       *servertest.Env
	profile enrollmentProfile
}

type enrollmentProfile struct {
	PayloadIdentifier string
	PayloadContent    []map[string]any
}

func (p enrollmentProfile) payload(t *testing.T, kind string) map[string]any {
	t.Helper()
	for _, pl := range p.PayloadContent {
		if pl["PayloadType"] == kind {
			return pl
		}
	}
	t.Fatalf("the profile has no %s payload", kind)
	return nil
}

func newEnv(t *testing.T) *servertest.Env {
	e := servertest.New(t)
	if err := e.Service.SetSettings(e.Op, map[string]string{"privacy.location_employee": "true"}); err != nil {
		t.Fatal(err)
	}
	now := e.Clock.Now()
	push := apnstest.NewCertificate(t, topic, now.Add(-time.Hour), now.Add(365*24*time.Hour))
	if _, err := e.Service.PutPushCertificate(e.Op, service.PushCertificateUpload{File: append(push.CertPEM, push.KeyPEM...)}); err != nil {
		t.Fatal(err)
	}
	e.AddUser("alice", false, portico.Roles...)
	return e
}

// startRegistration starts alice's registration of an iPhone in the
// portal and returns its link's token.
func startRegistration(t *testing.T, e *servertest.Env) (token string, deviceID int64) {
	return startRegistrationOf(t, e, portico.PlatformIOS)
}

func startRegistrationOf(t *testing.T, e *servertest.Env, platform portico.Platform) (token string, deviceID int64) {
	t.Helper()
	u, err := e.Store.UserByUsername(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	ctx := portico.NewContextWithActor(context.Background(), portico.Actor{User: u, Source: "192.0.2.1"})
	started, err := e.Service.StartRegistration(ctx, portico.InviteByMessage, platform)
	if err != nil {
		t.Fatal(err)
	}
	link, _ := url.Parse(started.Link)
	return link.Query().Get("t"), started.Invitation.DeviceID
}

// enroll plays what an iPhone does from the registration link: it signs
// in at /go and gets the profile, then its identity over SCEP.
func enroll(t *testing.T, e *servertest.Env, udid, token string) *phone {
	t.Helper()
	res := e.PostForm(e.Browser(), "/go", url.Values{"username": {"alice"}, "password": {servertest.Password("alice")}, "t": {token}})
	if res.Status != http.StatusOK || res.Header.Get("Content-Type") != applemdm.ProfileContentType {
		t.Fatalf("POST /go: %d %s %.200s", res.Status, res.Header.Get("Content-Type"), res.Body)
	}
	content, _, err := applemdm.ReadProfile([]byte(res.Body))
	if err != nil {
		t.Fatal(err)
	}
	p := &phone{Device: mdmtest.NewDevice(t, udid), t: t, e: e}
	if _, err := plist.Unmarshal(content, &p.profile); err != nil {
		t.Fatal(err)
	}
	mdm := p.profile.payload(t, "com.apple.mdm")
	if mdm["Topic"] != topic || mdm["ServerURL"] != e.URL+"/mdm/connect" || mdm["CheckInURL"] != e.URL+"/mdm/checkin" {
		t.Fatalf("MDM payload %v", mdm)
	}
	if status := p.scep(t, p.challenge()); status != scep.SUCCESS {
		t.Fatalf("SCEP: %s", status)
	}
	return p
}

func (p *phone) challenge() string {
	return p.profile.payload(p.t, "com.apple.security.scep")["PayloadContent"].(map[string]any)["Challenge"].(string)
}

// scep gets the CA's certificate, then asks for an identity with the
// challenge, by POST as the CA advertises.
func (p *phone) scep(t *testing.T, challenge string) scep.PKIStatus {
	t.Helper()
	caps := get(t, p.e.URL+"/scep?operation=GetCACaps")
	if !strings.Contains(caps, "POSTPKIOperation") {
		t.Fatalf("GetCACaps: %q", caps)
	}
	ca, err := x509.ParseCertificate([]byte(get(t, p.e.URL+"/scep?operation=GetCACert")))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Post(p.e.URL+"/scep?operation=PKIOperation", "application/x-pki-message", bytes.NewReader(p.SCEPRequest(t, ca, "asked-for", challenge)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != applemdm.PKIMessageContentType {
		t.Fatalf("PKIOperation: %d %s", res.StatusCode, body)
	}
	return p.SCEPReply(t, ca, body)
}

func get(t *testing.T, u string) string {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, res.StatusCode, b)
	}
	return string(b)
}

// put sends a signed message as the device does, and returns the status
// and body of the answer.
func (p *phone) put(path string, m map[string]any) (int, []byte) {
	p.t.Helper()
	body := mdmtest.Message(p.t, m)
	return p.putRaw(path, body, p.Sign(p.t, body))
}

func (p *phone) putRaw(path string, body []byte, sig string) (int, []byte) {
	p.t.Helper()
	req, _ := http.NewRequest(http.MethodPut, p.e.URL+path, bytes.NewReader(body))
	ct := applemdm.CommandContentType
	if path == "/mdm/checkin" {
		ct = applemdm.CheckinContentType
	}
	req.Header.Set("Content-Type", ct)
	if sig != "" {
		req.Header.Set("Mdm-Signature", sig)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (p *phone) checkin(msgType string, extra map[string]any) int {
	p.t.Helper()
	m := map[string]any{"MessageType": msgType, "UDID": p.UDID, "Topic": topic}
	for k, v := range extra {
		m[k] = v
	}
	status, body := p.put("/mdm/checkin", m)
	if status == http.StatusOK && len(body) != 0 {
		p.t.Errorf("%s answered with a body: %q", msgType, body)
	}
	return status
}

type command struct {
	CommandUUID string
	Command     map[string]any
}

// poll sends a status and returns the command the server answers with,
// or nil for the empty body that says there is none.
func (p *phone) poll(m map[string]any) *command {
	p.t.Helper()
	m["UDID"] = p.UDID
	status, body := p.put("/mdm/connect", m)
	if status != http.StatusOK {
		p.t.Fatalf("connect: %d %s", status, body)
	}
	if len(body) == 0 {
		return nil
	}
	var c command
	if _, err := plist.Unmarshal(body, &c); err != nil {
		p.t.Fatalf("command %q: %v", body, err)
	}
	if c.CommandUUID == "" {
		p.t.Fatalf("a command without CommandUUID: %s", body)
	}
	return &c
}

func (p *phone) want(c *command, requestType string) *command {
	p.t.Helper()
	if c == nil || c.Command["RequestType"] != requestType {
		p.t.Fatalf("got %v, want %s", c, requestType)
	}
	return c
}

func (p *phone) ack(c *command, keys map[string]any) *command {
	p.t.Helper()
	m := map[string]any{"Status": "Acknowledged", "CommandUUID": c.CommandUUID}
	for k, v := range keys {
		m[k] = v
	}
	return p.poll(m)
}

func device(t *testing.T, e *servertest.Env, id int64) *portico.Device {
	t.Helper()
	d, err := e.Store.DeviceByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func capture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("../../applemdm/testdata/devices/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if _, err := plist.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// enrolled is an iPhone through Authenticate and TokenUpdate, whose first
// details the server asked for and got.
func enrolled(t *testing.T, e *servertest.Env) (*phone, int64) {
	return enrolledAs(t, e, portico.PlatformIOS, "iPhone15,2", true)
}

func enrolledAs(t *testing.T, e *servertest.Env, platform portico.Platform, product string, supervised bool) (*phone, int64) {
	t.Helper()
	token, id := startRegistrationOf(t, e, platform)
	p := enroll(t, e, "00008030-001A2D3E0C12802E", token)
	if d := device(t, e, id); d.Status != portico.StatusPending {
		t.Fatalf("after SCEP the device is %s", d.Status)
	}
	if s := p.checkin("Authenticate", map[string]any{"OSVersion": "17.4.1", "ProductName": product, "SerialNumber": "F2LXK0AAAAAA", "DeviceName": "Alice's device"}); s != http.StatusOK {
		t.Fatalf("Authenticate: %d", s)
	}
	// Authenticate does not mean the profile is installed: the device
	// stays pending until its first TokenUpdate.
	d := device(t, e, id)
	if d.Status != portico.StatusPending || d.Details.Name != "Alice's device" {
		t.Fatalf("after Authenticate: %+v", d)
	}
	tu := capture(t, "TokenUpdate.iPad-iOS9.3.5.with-UnlockToken.plist")
	if s := p.checkin("TokenUpdate", map[string]any{"Token": tu["Token"], "PushMagic": tu["PushMagic"], "UnlockToken": tu["UnlockToken"]}); s != http.StatusOK {
		t.Fatalf("TokenUpdate: %d", s)
	}
	d = device(t, e, id)
	if d.Status != portico.StatusActive || d.Details.Name != "Alice's device" || d.Details.Model != product || d.Platform != platform || d.RegisteredAt.IsZero() {
		t.Fatalf("after TokenUpdate: %+v", d)
	}
	en, err := e.Store.AppleEnrollment(context.Background(), id)
	if err != nil || !bytes.Equal(en.PushToken, tu["Token"].([]byte)) || en.PushMagic != tu["PushMagic"] || len(en.UnlockToken) == 0 ||
		bytes.Equal(en.UnlockToken, tu["UnlockToken"].([]byte)) {
		t.Fatalf("enrollment after TokenUpdate: %+v %v (the unlock token must be kept sealed)", en, err)
	}
	// Enrolled, the device is asked for its details (SPEC DEV-1).
	info := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestDeviceInformation)
	sec := p.want(p.ack(info, map[string]any{"QueryResponses": map[string]any{
		"DeviceName": "Alice's device", "ModelName": "iPhone", "ProductName": product, "OSVersion": "17.4.1",
		"SerialNumber": "F2LXK0AAAAAA", "IsSupervised": supervised,
		"ServiceSubscriptions": []any{map[string]any{"IMEI": "35 000000 000001 1", "PhoneNumber": "+15550001", "CurrentCarrierNetwork": "Carrier", "IsDataPreferred": true}},
	}}), applemdm.RequestSecurityInfo)
	si := capture(t, "SecurityInfo.iOS.plist")
	if next := p.ack(sec, map[string]any{"SecurityInfo": si["SecurityInfo"]}); next != nil {
		t.Fatalf("after SecurityInfo: %v", next)
	}
	d = device(t, e, id)
	want := portico.DeviceDetails{Name: "Alice's device", Model: product, Manufacturer: "Apple", OSVersion: "17.4.1",
		Serial: "F2LXK0AAAAAA", IMEI: "350000000000011", PhoneNumber: "+15550001", Carrier: "Carrier"}
	if d.Details != want {
		t.Fatalf("details %+v, want %+v", d.Details, want)
	}
	return p, id
}

// TestEnrollAndLock drives the whole flow with a device built from the
// real libraries: enroll, Authenticate, TokenUpdate, the device is
// active, the portal locks it, the next Idle gets DeviceLock, the device
// acknowledges, and the portal shows the lock done.
func TestEnrollAndLock(t *testing.T) {
	e := newEnv(t)
	p, id := enrolled(t, e)
	alice := e.SignIn("alice")
	path := "/devices/" + strconv.FormatInt(id, 10)
	if res := e.PostForm(alice, path+"/actions", url.Values{"kind": {"lock"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("lock: %d %s", res.Status, res.Body)
	}
	lock := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestDeviceLock)
	if _, ok := lock.Command["PIN"]; ok {
		t.Error("an iPhone's DeviceLock carries a PIN")
	}
	// A result sent twice counts once.
	if next := p.ack(lock, map[string]any{"MessageResult": "Success"}); next != nil {
		t.Fatalf("after the lock: %v", next)
	}
	if next := p.ack(lock, map[string]any{"MessageResult": "Success"}); next != nil {
		t.Fatalf("after the repeated lock: %v", next)
	}
	cmds, err := e.Store.ListCommands(context.Background(), id)
	if err != nil || cmds[0].Kind != portico.CommandLock || cmds[0].Status != portico.CommandDone {
		t.Fatalf("commands %v %v", cmds, err)
	}
	page := e.Get(alice, path)
	if !strings.Contains(page.Body, `<span class="status done">Done</span>`) {
		t.Errorf("the device page does not show the lock done:\n%s", page.Body)
	}
}

func TestCommands(t *testing.T) {
	e := newEnv(t)
	p, id := enrolled(t, e)
	alice := e.SignIn("alice")
	act := func(kind string, form url.Values) {
		t.Helper()
		if form == nil {
			form = url.Values{}
		}
		form.Set("kind", kind)
		if res := e.PostForm(alice, "/devices/"+strconv.FormatInt(id, 10)+"/actions", form); res.Status != http.StatusSeeOther {
			t.Fatalf("%s: %d %s", kind, res.Status, res.Body)
		}
	}
	lastCommand := func() *portico.Command {
		cmds, err := e.Store.ListCommands(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return cmds[0]
	}

	// Unlock clears the passcode with the unlock token, verbatim.
	act("unlock", nil)
	clear := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestClearPasscode)
	tu := capture(t, "TokenUpdate.iPad-iOS9.3.5.with-UnlockToken.plist")
	if !bytes.Equal(clear.Command["UnlockToken"].([]byte), tu["UnlockToken"].([]byte)) {
		t.Error("ClearPasscode carries another unlock token")
	}
	// NotNow: nothing now, the same command at the next Idle.
	if next := p.poll(map[string]any{"Status": "NotNow", "CommandUUID": clear.CommandUUID}); next != nil {
		t.Fatalf("after NotNow: %v", next)
	}
	again := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestClearPasscode)
	// Error: failed with the error chain's message.
	errBody := capture(t, "RemoveProfile.Error-not-managed.iOS11.3.1.plist")
	if next := p.poll(map[string]any{"Status": "Error", "CommandUUID": again.CommandUUID, "ErrorChain": errBody["ErrorChain"]}); next != nil {
		t.Fatalf("after Error: %v", next)
	}
	if c := lastCommand(); c.Status != portico.CommandFailed || !strings.Contains(c.Result, "is not managed by MDM") {
		t.Errorf("after Error: %s %q", c.Status, c.Result)
	}

	// Locate: Lost Mode first, then the location.
	act("locate", nil)
	lost := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestEnableLostMode)
	if msg, _ := lost.Command["Message"].(string); !strings.Contains(msg, "reported lost") {
		t.Errorf("EnableLostMode message %q", msg)
	}
	loc := p.want(p.ack(lost, nil), applemdm.RequestDeviceLocation)
	if next := p.ack(loc, map[string]any{"Latitude": 52.52, "Longitude": 13.405, "HorizontalAccuracy": 20.0, "Timestamp": "2026-03-02T09:00:00Z"}); next != nil {
		t.Fatalf("after DeviceLocation: %v", next)
	}
	c := lastCommand()
	if l, ok := c.Location(); !ok || l.Latitude != 52.52 || l.Accuracy != 20 {
		t.Errorf("locate: %s %s", c.Status, c.Data)
	}
	// The portal offers to end Lost Mode now.
	if page := e.Get(alice, "/devices/"+strconv.FormatInt(id, 10)).Body; !strings.Contains(page, `value="end_lost_mode"`) {
		t.Error("the device page does not offer to end Lost Mode")
	}
	act("end_lost_mode", nil)
	end := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestDisableLostMode)
	p.ack(end, nil)
	if en, _ := e.Store.AppleEnrollment(context.Background(), id); en.LostMode {
		t.Error("still in Lost Mode after DisableLostMode")
	}

	// Checkin asks again; CommandFormatError fails it.
	act("checkin", nil)
	info := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestDeviceInformation)
	p.poll(map[string]any{"Status": "CommandFormatError", "CommandUUID": info.CommandUUID})
	if c := lastCommand(); c.Status != portico.CommandFailed {
		t.Errorf("after CommandFormatError: %s", c.Status)
	}

	// Retire removes the enrollment profile; the device is retired, and
	// from then on refused.
	act("retire", url.Values{"confirm": {"retire"}})
	remove := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestRemoveProfile)
	if remove.Command["Identifier"] != p.profile.PayloadIdentifier {
		t.Errorf("RemoveProfile of %v, the profile is %s", remove.Command["Identifier"], p.profile.PayloadIdentifier)
	}
	p.ack(remove, nil)
	if d := device(t, e, id); d.Status != portico.StatusRetired {
		t.Errorf("after RemoveProfile: %s", d.Status)
	}
	if s := p.checkin("CheckOut", nil); s != http.StatusUnauthorized {
		t.Errorf("CheckOut of a retired device: %d", s)
	}
	if s, _ := p.put("/mdm/connect", map[string]any{"UDID": p.UDID, "Status": "Idle"}); s != http.StatusUnauthorized {
		t.Errorf("Idle of a retired device: %d", s)
	}
}

func TestCheckOutRetires(t *testing.T) {
	e := newEnv(t)
	p, id := enrolled(t, e)
	if s := p.checkin("CheckOut", nil); s != http.StatusOK {
		t.Fatalf("CheckOut: %d", s)
	}
	if d := device(t, e, id); d.Status != portico.StatusRetired {
		t.Errorf("after CheckOut: %s", d.Status)
	}
	if s := p.checkin("TokenUpdate", map[string]any{"Token": []byte{1}, "PushMagic": "m"}); s != http.StatusUnauthorized {
		t.Errorf("TokenUpdate after CheckOut: %d", s)
	}
}

// TestRefusals sends what no enrolled device would, and checks the
// status and that nothing changed.
func TestRefusals(t *testing.T) {
	e := newEnv(t)
	p, id := enrolled(t, e)
	stranger := mdmtest.NewDevice(t, p.UDID)
	stranger.Identity = stranger.Self
	idle := mdmtest.Message(t, map[string]any{"UDID": p.UDID, "Status": "Idle"})
	// Issued by the server's CA, but never through SCEP: no device has it.
	unknown := mdmtest.NewDevice(t, p.UDID)
	req, err := e.AppleCA().ParseSCEP(unknown.SCEPRequest(t, e.AppleCA().Cert, "x", "y"))
	if err != nil {
		t.Fatal(err)
	}
	if unknown.Identity, err = e.AppleCA().Issue(req.CSR, pkix.Name{CommonName: "Portico device 999"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	// An identity of ours whose device was retired.
	retToken, _ := startRegistration(t, e)
	retired := enroll(t, e, "UDID-RETIRED", retToken)
	for _, m := range []string{"Authenticate", "TokenUpdate", "CheckOut"} {
		if s := retired.checkin(m, map[string]any{"Token": []byte{1}, "PushMagic": "m"}); s != http.StatusOK {
			t.Fatalf("%s of the device to retire: %d", m, s)
		}
	}
	retiredIdle := mdmtest.Message(t, map[string]any{"UDID": retired.UDID, "Status": "Idle"})
	otherTopic := "com.apple.mgmt.External.00000000-0000-4000-8000-000000000002"
	big := append([]byte(`<?xml version="1.0"?><plist version="1.0"><dict><key>UDID</key><string>`), bytes.Repeat([]byte("A"), applemdm.MaxBody)...)
	tests := []struct {
		name   string
		path   string
		body   []byte
		sig    string
		status int
	}{
		{"no identity", "/mdm/connect", idle, "", http.StatusUnauthorized},
		{"a signature of another body", "/mdm/connect", idle, p.Sign(t, []byte("other")), http.StatusUnauthorized},
		{"a certificate this server did not issue", "/mdm/connect", idle, stranger.Sign(t, idle), http.StatusUnauthorized},
		{"a certificate of no device", "/mdm/connect", idle, unknown.Sign(t, idle), http.StatusUnauthorized},
		{"another UDID", "/mdm/connect", mdmtest.Message(t, map[string]any{"UDID": "OTHER", "Status": "Idle"}), "", http.StatusUnauthorized},
		{"a malformed plist", "/mdm/connect", []byte("<plist><dict><key>UDID"), "", http.StatusBadRequest},
		{"a check-in that is not one", "/mdm/checkin", idle, "", http.StatusBadRequest},
		{"an unknown status", "/mdm/connect", mdmtest.Message(t, map[string]any{"UDID": p.UDID, "Status": "Maybe", "CommandUUID": "x"}), "", http.StatusBadRequest},
		{"an oversized body", "/mdm/connect", big, "", http.StatusRequestEntityTooLarge},
		{"Authenticate of another UDID", "/mdm/checkin", mdmtest.Message(t, map[string]any{"MessageType": "Authenticate", "UDID": "OTHER", "Topic": topic}), "", http.StatusUnauthorized},
		{"a retired device's certificate", "/mdm/connect", retiredIdle, retired.Sign(t, retiredIdle), http.StatusUnauthorized},
		{"Authenticate of another topic", "/mdm/checkin", mdmtest.Message(t, map[string]any{"MessageType": "Authenticate", "UDID": p.UDID, "Topic": otherTopic}), "", http.StatusBadRequest},
		{"TokenUpdate of another topic", "/mdm/checkin", mdmtest.Message(t, map[string]any{"MessageType": "TokenUpdate", "UDID": p.UDID, "Topic": otherTopic,
			"Token": []byte{7}, "PushMagic": "other"}), "", http.StatusBadRequest},
	}
	before := snapshot(t, e, id)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := tt.sig
			if sig == "" && tt.name != "no identity" {
				sig = p.Sign(t, tt.body)
			}
			if status, body := p.putRaw(tt.path, tt.body, sig); status != tt.status {
				t.Errorf("status %d (%s), want %d", status, body, tt.status)
			}
			if after := snapshot(t, e, id); after != before {
				t.Errorf("changed:\n%s\n%s", before, after)
			}
		})
	}
}

// snapshot is what a refused request must not change.
func snapshot(t *testing.T, e *servertest.Env, id int64) string {
	t.Helper()
	ctx := context.Background()
	d := device(t, e, id)
	en, err := e.Store.AppleEnrollment(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	cmds, _ := e.Store.ListCommands(ctx, id)
	audit, _ := e.Store.ListAudit(ctx, store.AuditFilter{DeviceID: id})
	return strings.Join([]string{string(d.Status), d.Details.Name, en.UDID, en.PushMagic, strconv.Itoa(len(cmds)), strconv.Itoa(len(audit))}, "|")
}

// TestSCEPChallenge: a challenge works once; a replayed or unknown one
// gets a CertRep FAILURE and issues nothing.
func TestSCEPChallenge(t *testing.T) {
	e := newEnv(t)
	token, id := startRegistration(t, e)
	p := enroll(t, e, "UDID-SCEP", token)
	first := p.Identity
	for name, challenge := range map[string]string{"replayed": p.challenge(), "unknown": "not-a-challenge", "empty": ""} {
		t.Run(name, func(t *testing.T) {
			again := mdmtest.NewDevice(t, "UDID-AGAIN")
			if status := (&phone{Device: again, t: t, e: e, profile: p.profile}).scep(t, challenge); status != scep.FAILURE {
				t.Errorf("status %s, want FAILURE", status)
			}
		})
	}
	if d := device(t, e, id); d.Status != portico.StatusPending {
		t.Errorf("device %s", d.Status)
	}
	if first == nil || first.Subject.CommonName != "Portico device "+strconv.FormatInt(id, 10) {
		t.Errorf("identity subject %v", first.Subject)
	}
	// A request that is not SCEP at all is a bad request.
	res, err := http.Post(e.URL+"/scep?operation=PKIOperation", "application/x-pki-message", strings.NewReader("garbage"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("garbage: %d", res.StatusCode)
	}
}

// TestMac: no unlock, no locate; a lock carries a six-digit PIN that the
// portal shows once.
func TestMac(t *testing.T) {
	e := newEnv(t)
	p, id := enrolledAs(t, e, portico.PlatformMacOS, "Mac14,2", false)
	alice := e.SignIn("alice")
	path := "/devices/" + strconv.FormatInt(id, 10)
	page := e.Get(alice, path)
	for _, absent := range []string{`value="unlock"`, `value="locate"`, `/locate"`} {
		if strings.Contains(page.Body, absent) {
			t.Errorf("a Mac's page offers %s", absent)
		}
	}
	if !strings.Contains(page.Body, "Location is not available for this device") {
		t.Error("the page does not say why the Mac cannot be located")
	}
	for _, kind := range []string{"unlock", "locate"} {
		if res := e.PostForm(alice, path+"/actions", url.Values{"kind": {kind}}); res.Status != http.StatusForbidden {
			t.Errorf("%s a Mac: %d", kind, res.Status)
		}
	}
	// The PIN is shown on the page that answers the action, and nowhere
	// after: not on the device page, not in the commands the API lists.
	res := e.PostForm(alice, path+"/actions", url.Values{"kind": {"lock"}})
	if res.Status != http.StatusOK {
		t.Fatalf("lock: %d", res.Status)
	}
	shown := res.Body
	lock := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestDeviceLock)
	pin, _ := lock.Command["PIN"].(string)
	if len(pin) != 6 || strings.Trim(pin, "0123456789") != "" {
		t.Fatalf("DeviceLock PIN %q", pin)
	}
	if !strings.Contains(shown, `aria-label="PIN `+pin+`"`) {
		t.Error("the portal did not show the PIN")
	}
	notShown := func(pin string) {
		t.Helper()
		if strings.Contains(e.Get(alice, path).Body, pin) {
			t.Error("the portal shows the PIN a second time")
		}
		cmds, err := e.Store.ListCommands(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cmds {
			if strings.Contains(string(c.Payload), pin) || c.PIN != "" {
				t.Errorf("the store keeps the PIN readable: %s", c.Payload)
			}
		}
		if api := apiGet(t, e, "/api/v1/devices/"+strconv.FormatInt(id, 10)+"/commands"); strings.Contains(api, pin) {
			t.Errorf("the API lists the PIN: %s", api)
		}
	}
	notShown(pin)
	p.ack(lock, map[string]any{"MessageResult": "Success"})

	// Through the admin API, the answer to the action carries the PIN,
	// once.
	_, key := e.APIKey("rw-mac", portico.ScopeReadWrite)
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/api/v1/devices/"+strconv.FormatInt(id, 10)+"/actions", strings.NewReader(`{"action":"lock"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	apiRes, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var acted struct{ PIN string }
	json.NewDecoder(apiRes.Body).Decode(&acted)
	apiRes.Body.Close()
	if apiRes.StatusCode != http.StatusCreated || len(acted.PIN) != 6 {
		t.Fatalf("API lock: %d, PIN %q", apiRes.StatusCode, acted.PIN)
	}
	apiLock := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestDeviceLock)
	if apiLock.Command["PIN"] != acted.PIN {
		t.Errorf("DeviceLock PIN %v, the API said %s", apiLock.Command["PIN"], acted.PIN)
	}
	notShown(acted.PIN)
	p.ack(apiLock, map[string]any{"MessageResult": "Success"})

	// A wipe waits out its grace period, then erases with its own PIN.
	res = e.PostForm(alice, path+"/actions", url.Values{"kind": {"wipe"}, "confirm": {"Alice's device"}})
	if res.Status != http.StatusOK {
		t.Fatalf("wipe: %d %s", res.Status, res.Body)
	}
	shown = res.Body
	if next := p.poll(map[string]any{"Status": "Idle"}); next != nil {
		t.Fatalf("a held wipe went to the device: %v", next)
	}
	e.Clock.Advance(2 * time.Minute)
	if err := e.Service.AdvanceCommands(context.Background()); err != nil {
		t.Fatal(err)
	}
	erase := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestEraseDevice)
	wipePIN, _ := erase.Command["PIN"].(string)
	if len(wipePIN) != 6 || !strings.Contains(shown, `aria-label="PIN `+wipePIN+`"`) {
		t.Errorf("EraseDevice PIN %q not the one shown", wipePIN)
	}
	notShown(wipePIN)
	if next := p.ack(erase, nil); next != nil {
		t.Fatalf("after the erase: %v", next)
	}
	if d := device(t, e, id); d.Status != portico.StatusWiped {
		t.Errorf("after EraseDevice: %s", d.Status)
	}
}

// TestUnsupervisedIPhone cannot be located: the portal says so.
func TestUnsupervisedIPhone(t *testing.T) {
	e := newEnv(t)
	_, id := enrolledAs(t, e, portico.PlatformIOS, "iPhone15,2", false)
	alice := e.SignIn("alice")
	path := "/devices/" + strconv.FormatInt(id, 10)
	if page := e.Get(alice, path).Body; !strings.Contains(page, "only supervised iPhones and iPads can be located") || strings.Contains(page, `value="locate"`) {
		t.Error("an unsupervised iPhone's page offers locate, or does not say why not")
	}
	res := e.PostForm(alice, path+"/actions", url.Values{"kind": {"locate"}})
	if res.Status != http.StatusForbidden {
		t.Errorf("locate: %d", res.Status)
	}
}

// TestLocateWarns: before locating a supervised iPhone the portal says it
// goes into Lost Mode.
func TestLocateWarns(t *testing.T) {
	e := newEnv(t)
	_, id := enrolled(t, e)
	alice := e.SignIn("alice")
	path := "/devices/" + strconv.FormatInt(id, 10)
	if page := e.Get(alice, path).Body; !strings.Contains(page, `href="`+path+`/locate"`) {
		t.Error("locate is not a link to its warning")
	}
	if page := e.Get(alice, path+"/locate").Body; !strings.Contains(page, "puts it in Lost Mode") {
		t.Error("the warning does not say Lost Mode")
	}
}

// TestTLSClientCertificate: behind serve's own TLS the device's client
// certificate is its identity, without a signature; a signature by
// another certificate than the TLS one is refused.
func TestTLSClientCertificate(t *testing.T) {
	e := newEnv(t)
	p, _ := enrolled(t, e)
	ts := httptest.NewUnstartedServer(e.Server)
	ts.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	ts.StartTLS()
	defer ts.Close()
	client := ts.Client()
	client.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{{Certificate: [][]byte{p.Identity.Raw}, PrivateKey: p.Key}}
	idle := mdmtest.Message(t, map[string]any{"UDID": p.UDID, "Status": "Idle"})
	other := mdmtest.NewDevice(t, p.UDID)
	other.Identity = other.Self
	// A device holding an identity of ours too, another than the TLS one.
	token, _ := startRegistration(t, e)
	ours := enroll(t, e, "UDID-OURS", token)
	tests := []struct {
		name   string
		sig    string
		status int
	}{
		{"certificate alone", "", http.StatusOK},
		{"certificate and its signature", p.Sign(t, idle), http.StatusOK},
		{"certificate and another's signature", other.Sign(t, idle), http.StatusUnauthorized},
		{"certificate and the signature of another identity of ours", ours.Sign(t, idle), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPut, ts.URL+"/mdm/connect", bytes.NewReader(idle))
			if tt.sig != "" {
				req.Header.Set("Mdm-Signature", tt.sig)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.status {
				t.Errorf("status %d, want %d", res.StatusCode, tt.status)
			}
		})
	}
}

// TestBulkEnrollment: an admin's profile enrolls up to its number of
// devices to the user it names, each its own device; then it is used up.
func TestBulkEnrollment(t *testing.T) {
	e := newEnv(t)
	e.AddUser("root", true)
	admin := e.SignIn("root")
	if page := e.Get(admin, "/admin/apple/bulk"); page.Status != http.StatusOK || !strings.Contains(page.Body, `action="/admin/apple/bulk"`) {
		t.Fatalf("bulk page: %d", page.Status)
	}
	refusals := []struct {
		name string
		form url.Values
		want int
	}{
		{"no devices", url.Values{"username": {"alice"}, "platform": {"ios"}, "uses": {"0"}, "hours": {"24"}}, http.StatusBadRequest},
		{"too long", url.Values{"username": {"alice"}, "platform": {"ios"}, "uses": {"2"}, "hours": {"2000"}}, http.StatusBadRequest},
		{"not Apple", url.Values{"username": {"alice"}, "platform": {"android"}, "uses": {"2"}, "hours": {"24"}}, http.StatusBadRequest},
		{"unknown user", url.Values{"username": {"nobody"}, "platform": {"ios"}, "uses": {"2"}, "hours": {"24"}}, http.StatusNotFound},
		{"not a number", url.Values{"username": {"alice"}, "platform": {"ios"}, "uses": {"two"}, "hours": {"24"}}, http.StatusBadRequest},
	}
	for _, tt := range refusals {
		if res := e.PostForm(admin, "/admin/apple/bulk", tt.form); res.Status != tt.want || !strings.Contains(res.Body, `class="error"`) {
			t.Errorf("%s: %d, want %d with a message", tt.name, res.Status, tt.want)
		}
	}
	if res := e.PostForm(e.SignIn("alice"), "/admin/apple/bulk", url.Values{"username": {"alice"}, "platform": {"ios"}, "uses": {"2"}, "hours": {"24"}}); res.Status != http.StatusForbidden {
		t.Errorf("a user's bulk profile: %d", res.Status)
	}
	res := e.PostForm(admin, "/admin/apple/bulk", url.Values{"username": {"alice"}, "platform": {"ipados"}, "uses": {"2"}, "hours": {"24"}})
	if res.Status != http.StatusOK || res.Header.Get("Content-Type") != applemdm.ProfileContentType ||
		res.Header.Get("Content-Disposition") != `attachment; filename="enroll-ipados.mobileconfig"` || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("bulk profile: %d %v %.300s", res.Status, res.Header, res.Body)
	}
	var profile enrollmentProfile
	content, _, err := applemdm.ReadProfile([]byte(res.Body))
	if err != nil {
		t.Fatal(err)
	}
	plist.Unmarshal(content, &profile)
	alice, _ := e.Store.UserByUsername(context.Background(), "alice")
	for i, udid := range []string{"BULK-1", "BULK-2", "BULK-3"} {
		p := &phone{Device: mdmtest.NewDevice(t, udid), t: t, e: e, profile: profile}
		status := p.scep(t, p.challenge())
		if i == 2 {
			if status != scep.FAILURE {
				t.Errorf("a third device with a profile for two: %s", status)
			}
			continue
		}
		if status != scep.SUCCESS {
			t.Fatalf("device %d: %s", i+1, status)
		}
		if s := p.checkin("Authenticate", map[string]any{"ProductName": "iPad13,1", "OSVersion": "17.4", "DeviceName": udid}); s != http.StatusOK {
			t.Fatalf("Authenticate %s: %d", udid, s)
		}
		if s := p.checkin("TokenUpdate", map[string]any{"Token": []byte(udid), "PushMagic": "magic"}); s != http.StatusOK {
			t.Fatalf("TokenUpdate %s: %d", udid, s)
		}
	}
	devices, err := e.Store.ListDevices(context.Background(), store.DeviceFilter{UserID: alice.ID})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range devices {
		if d.Status == portico.StatusActive && d.Platform == portico.PlatformIPadOS {
			names = append(names, d.Details.Name)
		}
	}
	if strings.Join(names, ",") != "BULK-1,BULK-2" && strings.Join(names, ",") != "BULK-2,BULK-1" {
		t.Errorf("alice's active iPads: %v", names)
	}
	audit, _ := e.Store.ListAudit(context.Background(), store.AuditFilter{Actor: "root"})
	found := false
	for _, a := range audit {
		found = found || (a.Action == "apple.bulk_profile" && a.Result == portico.ResultOK && a.Target == "alice")
	}
	if !found {
		t.Error("the bulk profile is not in the audit log")
	}
}

// TestPortalProfile: the portal offers a pending iPhone's profile; the
// download replaces the challenge of the profile before.
func TestPortalProfile(t *testing.T) {
	e := newEnv(t)
	token, id := startRegistration(t, e)
	first := enroll(t, e, "UDID-A", token)
	alice := e.SignIn("alice")
	path := "/devices/" + strconv.FormatInt(id, 10)
	if page := e.Get(alice, path).Body; !strings.Contains(page, path+"/enrollment-profile") {
		t.Error("the pending iPhone's page offers no profile")
	}
	res := e.Get(alice, path+"/enrollment-profile")
	if res.Status != http.StatusOK || res.Header.Get("Content-Type") != applemdm.ProfileContentType {
		t.Fatalf("download: %d", res.Status)
	}
	var again enrollmentProfile
	plist.Unmarshal([]byte(res.Body), &again)
	second := &phone{Device: mdmtest.NewDevice(t, "UDID-B"), t: t, e: e, profile: again}
	if second.challenge() == first.challenge() {
		t.Error("the download has the challenge of the profile before")
	}
	if bob := e.AddUser("bob", false, portico.Roles...); bob != nil {
		if res := e.Get(e.SignIn("bob"), path+"/enrollment-profile"); res.Status != http.StatusNotFound {
			t.Errorf("bob downloads alice's profile: %d", res.Status)
		}
	}
}

// TestGETPKIOperation: SCEP's PKIOperation also comes by GET, base64 in
// the query.
func TestGETPKIOperation(t *testing.T) {
	e := newEnv(t)
	token, _ := startRegistration(t, e)
	res := e.PostForm(e.Browser(), "/go", url.Values{"username": {"alice"}, "password": {servertest.Password("alice")}, "t": {token}})
	var profile enrollmentProfile
	plist.Unmarshal([]byte(res.Body), &profile)
	p := &phone{Device: mdmtest.NewDevice(t, "UDID-GET"), t: t, e: e, profile: profile}
	ca := e.AppleCA().Cert
	msg := base64.StdEncoding.EncodeToString(p.SCEPRequest(t, ca, "x", p.challenge()))
	body := get(t, e.URL+"/scep?operation=PKIOperation&message="+url.QueryEscape(msg))
	if status := p.SCEPReply(t, ca, []byte(body)); status != scep.SUCCESS {
		t.Errorf("GET PKIOperation: %s", status)
	}
}

// TestInstallProfile: a certificate the user uploads reaches an enrolled
// iPhone as InstallProfile of the email account with its identity.
func TestInstallProfile(t *testing.T) {
	e := newEnv(t)
	if err := e.Service.SetSettings(e.Op, map[string]string{
		"certificates.signing": "Email signing certificate", "email.server": "mail.example.com",
	}); err != nil {
		t.Fatal(err)
	}
	p, _ := enrolled(t, e)
	alice, _ := e.Store.UserByUsername(context.Background(), "alice")
	ctx := portico.NewContextWithActor(context.Background(), portico.Actor{User: alice})
	file := certfiletest.PKCS12(certfiletest.Options{Email: "alice@example.com"}, "p12-password")
	if _, pushes, err := e.Service.PutCertificate(ctx, portico.CertificateSigning, file, "p12-password"); err != nil || len(pushes) != 1 {
		t.Fatalf("upload: %v, %d pushes", err, len(pushes))
	}
	install := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestInstallProfile)
	var profile struct {
		PayloadIdentifier string
		PayloadContent    []map[string]any
	}
	if _, err := plist.Unmarshal(install.Command["Payload"].([]byte), &profile); err != nil {
		t.Fatal(err)
	}
	payloads := enrollmentProfile{PayloadContent: profile.PayloadContent}
	mail := payloads.payload(t, "com.apple.mail.managed")
	identity := payloads.payload(t, "com.apple.security.pkcs12")
	if mail["SMIMESigningCertificateUUID"] != identity["PayloadUUID"] || mail["IncomingMailServerHostName"] != "mail.example.com" || mail["EmailAddress"] != "alice@example.com" {
		t.Errorf("mail payload %v", mail)
	}
	pw, _ := identity["Password"].(string)
	if _, cert, _, err := pkcs12.DecodeChain(identity["PayloadContent"].([]byte), pw); err != nil || cert.EmailAddresses[0] != "alice@example.com" {
		t.Errorf("the identity does not open with its password: %v", err)
	}
	p.ack(install, nil)
	pushes, err := e.Service.MyPushes(ctx)
	if err != nil || len(pushes) != 1 || pushes[0].Command.Status != portico.CommandDone {
		t.Errorf("pushes %v %v", pushes, err)
	}
}

// TestEnrollAgainAfterRetirement: a retired iPhone enrolls again with a
// new registration, under the same UDID.
func TestEnrollAgainAfterRetirement(t *testing.T) {
	e := newEnv(t)
	p, id := enrolled(t, e)
	if s := p.checkin("CheckOut", nil); s != http.StatusOK {
		t.Fatalf("CheckOut: %d", s)
	}
	token, newID := startRegistration(t, e)
	again := enroll(t, e, p.UDID, token)
	if s := again.checkin("Authenticate", map[string]any{"ProductName": "iPhone15,2", "OSVersion": "17.4.1"}); s != http.StatusOK {
		t.Fatalf("Authenticate again: %d", s)
	}
	if s := again.checkin("TokenUpdate", map[string]any{"Token": []byte{9}, "PushMagic": "magic"}); s != http.StatusOK {
		t.Fatalf("TokenUpdate again: %d", s)
	}
	if d := device(t, e, newID); d.Status != portico.StatusActive {
		t.Errorf("the new record is %s", d.Status)
	}
	if d := device(t, e, id); d.Status != portico.StatusRetired {
		t.Errorf("the old record is %s", d.Status)
	}
	// The old identity no longer works.
	if s, _ := p.put("/mdm/connect", map[string]any{"UDID": p.UDID, "Status": "Idle"}); s != http.StatusUnauthorized {
		t.Errorf("the old identity: %d", s)
	}
}

// renewal reads the enrollment profile an InstallProfile carries to renew
// the device's identity.
func renewal(t *testing.T, c *command) enrollmentProfile {
	t.Helper()
	content, _, err := applemdm.ReadProfile(c.Command["Payload"].([]byte))
	if err != nil {
		t.Fatal(err)
	}
	var p enrollmentProfile
	if _, err := plist.Unmarshal(content, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func commandsOf(t *testing.T, e *servertest.Env, id int64, kind portico.CommandKind) []*portico.Command {
	t.Helper()
	cmds, err := e.Store.ListCommands(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []*portico.Command
	for _, c := range cmds {
		if c.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}

// TestRenewal: a month before its identity ends, the device gets the
// enrollment profile again, with the same identifiers and a new SCEP
// challenge; the identity it gets with it is accepted and bound, and the
// old one is refused from then on.
func TestRenewal(t *testing.T) {
	e := newEnv(t)
	p, id := enrolled(t, e)
	// Far from its end, nothing is renewed.
	if next := p.poll(map[string]any{"Status": "Idle"}); next != nil {
		t.Fatalf("a fresh identity is renewed: %v", next)
	}
	e.Clock.Advance(340 * 24 * time.Hour)
	install := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestInstallProfile)
	profile := renewal(t, install)
	scepBefore, scepNow := p.profile.payload(t, "com.apple.security.scep"), profile.payload(t, "com.apple.security.scep")
	mdmBefore, mdmNow := p.profile.payload(t, "com.apple.mdm"), profile.payload(t, "com.apple.mdm")
	if profile.PayloadIdentifier != p.profile.PayloadIdentifier || scepNow["PayloadIdentifier"] != scepBefore["PayloadIdentifier"] ||
		mdmNow["PayloadIdentifier"] != mdmBefore["PayloadIdentifier"] || mdmNow["IdentityCertificateUUID"] != scepNow["PayloadUUID"] {
		t.Fatalf("the renewal does not replace the enrollment profile: %v", profile)
	}
	for _, k := range []string{"ServerURL", "CheckInURL", "Topic", "AccessRights"} {
		if mdmNow[k] != mdmBefore[k] {
			t.Errorf("the renewal changes the MDM payload's %s: %v, was %v", k, mdmNow[k], mdmBefore[k])
		}
	}
	// The answer was lost: the next Idle sends it again, and queues no
	// second renewal.
	again := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestInstallProfile)
	if again.CommandUUID == install.CommandUUID {
		t.Error("the command went again with the same CommandUUID")
	}
	if n := len(commandsOf(t, e, id, portico.CommandRenewIdentity)); n != 1 {
		t.Fatalf("%d renewals queued", n)
	}
	// The device installs it: SCEP with a new key and the new challenge.
	renewed := &phone{Device: mdmtest.NewDevice(t, p.UDID), t: t, e: e, profile: renewal(t, again)}
	if status := renewed.scep(t, renewed.challenge()); status != scep.SUCCESS {
		t.Fatalf("renewal SCEP: %s", status)
	}
	if next := renewed.ack(again, nil); next != nil {
		t.Fatalf("after the renewal: %v", next)
	}
	en, err := e.Store.AppleEnrollment(context.Background(), id)
	if err != nil || !bytes.Equal(en.Fingerprint, applemdm.Fingerprint(renewed.Identity)) {
		t.Fatalf("the enrollment is not bound to the new identity: %v", err)
	}
	if c := commandsOf(t, e, id, portico.CommandRenewIdentity)[0]; c.Status != portico.CommandDone {
		t.Errorf("renewal %s", c.Status)
	}
	// The old identity, issued before the one bound, is refused.
	if s, _ := p.put("/mdm/connect", map[string]any{"UDID": p.UDID, "Status": "Idle"}); s != http.StatusUnauthorized {
		t.Errorf("the old identity after the renewal: %d", s)
	}
	// A year after enrolling, the device is still managed, and not
	// renewed again.
	e.Clock.Advance(60 * 24 * time.Hour)
	if next := renewed.poll(map[string]any{"Status": "Idle"}); next != nil {
		t.Errorf("after the renewal: %v", next)
	}
	if d := device(t, e, id); d.Status != portico.StatusActive {
		t.Errorf("device %s", d.Status)
	}
	audit, _ := e.Store.ListAudit(context.Background(), store.AuditFilter{DeviceID: id})
	actions := map[string]bool{}
	for _, a := range audit {
		actions[a.Action] = true
	}
	if !actions["apple.renew"] || !actions["apple.renewed"] {
		t.Errorf("audit: %v", actions)
	}
}

// TestExpiredIdentity: a device that was away past the end of its
// identity is answered with that identity while it is the bound one, and
// renewed; an expired identity that is not bound is refused.
func TestExpiredIdentity(t *testing.T) {
	e := newEnv(t)
	p, id := enrolled(t, e)
	token, _ := startRegistration(t, e)
	other := enroll(t, e, "UDID-PENDING", token)
	e.Clock.Advance(400 * 24 * time.Hour)
	if p.Identity.NotAfter.After(e.Clock.Now()) {
		t.Fatal("the identity has not expired")
	}
	install := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestInstallProfile)
	renewal(t, install)
	if d := device(t, e, id); d.Status != portico.StatusActive {
		t.Errorf("device %s", d.Status)
	}
	// A pending device's expired identity has no enrollment to be bound
	// to: refused.
	if s := other.checkin("Authenticate", map[string]any{"ProductName": "iPhone15,2"}); s != http.StatusUnauthorized {
		t.Errorf("Authenticate with an expired, unbound identity: %d", s)
	}
}

// TestNotNowSkips: a command the device cannot take now does not hold
// back the ones behind it; it goes again at the next Idle.
func TestNotNowSkips(t *testing.T) {
	e := newEnv(t)
	if err := e.Service.SetSettings(e.Op, map[string]string{
		"certificates.signing": "Email signing certificate", "email.server": "mail.example.com",
	}); err != nil {
		t.Fatal(err)
	}
	p, id := enrolled(t, e)
	alice, _ := e.Store.UserByUsername(context.Background(), "alice")
	ctx := portico.NewContextWithActor(context.Background(), portico.Actor{User: alice})
	file := certfiletest.PKCS12(certfiletest.Options{Email: "alice@example.com"}, "p12-password")
	if _, _, err := e.Service.PutCertificate(ctx, portico.CertificateSigning, file, "p12-password"); err != nil {
		t.Fatal(err)
	}
	if res := e.PostForm(e.SignIn("alice"), "/devices/"+strconv.FormatInt(id, 10)+"/actions", url.Values{"kind": {"lock"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("lock: %d", res.Status)
	}
	install := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestInstallProfile)
	lock := p.want(p.poll(map[string]any{"Status": "NotNow", "CommandUUID": install.CommandUUID}), applemdm.RequestDeviceLock)
	if next := p.ack(lock, map[string]any{"MessageResult": "Success"}); next != nil {
		t.Fatalf("after the lock: %v", next)
	}
	if c := commandsOf(t, e, id, portico.CommandLock)[0]; c.Status != portico.CommandDone {
		t.Errorf("lock %s", c.Status)
	}
	again := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestInstallProfile)
	if again.CommandUUID == install.CommandUUID {
		t.Error("the command went again with the same CommandUUID")
	}
	// The late answer to the first sending counts for nothing.
	if next := p.ack(install, nil); next != nil {
		t.Fatalf("after a stale answer: %v", next)
	}
	if c := commandsOf(t, e, id, portico.CommandConfigure)[0]; c.Status != portico.CommandSent {
		t.Errorf("configure after a stale answer: %s", c.Status)
	}
	p.ack(again, nil)
	if c := commandsOf(t, e, id, portico.CommandConfigure)[0]; c.Status != portico.CommandDone {
		t.Errorf("configure %s", c.Status)
	}
}

// TestRepeatedAcknowledged: a step acknowledged twice moves its command
// on once.
func TestRepeatedAcknowledged(t *testing.T) {
	e := newEnv(t)
	p, id := enrolled(t, e)
	if res := e.PostForm(e.SignIn("alice"), "/devices/"+strconv.FormatInt(id, 10)+"/actions", url.Values{"kind": {"locate"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("locate: %d", res.Status)
	}
	lost := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestEnableLostMode)
	loc := p.want(p.ack(lost, nil), applemdm.RequestDeviceLocation)
	if next := p.ack(lost, nil); next != nil {
		t.Fatalf("the repeated acknowledgement sent %v", next)
	}
	c := commandsOf(t, e, id, portico.CommandLocate)[0]
	if c.Status != portico.CommandSent || c.AppleStep != 1 || c.AppleUUID != loc.CommandUUID {
		t.Errorf("after the repeat: %s step %d", c.Status, c.AppleStep)
	}
}

// TestOddDetails: what a device says of itself that no device should (an
// over-long name, control characters, a version that is not one) is cut
// or left out; enrollment goes on, and supervision is recorded.
func TestOddDetails(t *testing.T) {
	e := newEnv(t)
	token, id := startRegistration(t, e)
	p := enroll(t, e, "UDID-ODD", token)
	long := strings.Repeat("é", 300)
	if s := p.checkin("Authenticate", map[string]any{"DeviceName": long, "ProductName": "iPhone15,2", "OSVersion": "17.4 (beta)"}); s != http.StatusOK {
		t.Fatalf("Authenticate: %d", s)
	}
	if s := p.checkin("TokenUpdate", map[string]any{"Token": []byte{1}, "PushMagic": "magic"}); s != http.StatusOK {
		t.Fatalf("TokenUpdate: %d", s)
	}
	d := device(t, e, id)
	if d.Status != portico.StatusActive || d.Details.Name != strings.Repeat("é", 128) || d.Details.OSVersion != "" {
		t.Fatalf("after enrolling: %s %+v", d.Status, d.Details)
	}
	info := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestDeviceInformation)
	p.want(p.ack(info, map[string]any{"QueryResponses": map[string]any{
		"DeviceName": "Alice's\tphone\n", "ProductName": "iPhone15,2", "OSVersion": "weird", "IMEI": "not-an-imei",
		"IsSupervised": true, "IsMDMLostModeEnabled": true,
	}}), applemdm.RequestSecurityInfo)
	d = device(t, e, id)
	if d.Details.Name != "Alice's phone" || d.Details.OSVersion != "" || d.Details.IMEI != "" || d.Details.Model != "iPhone15,2" {
		t.Errorf("details %+v", d.Details)
	}
	if en, _ := e.Store.AppleEnrollment(context.Background(), id); !en.Supervised || !en.LostMode {
		t.Errorf("supervised %v, lost mode %v", en.Supervised, en.LostMode)
	}
}

// TestDeviceInformationOfAnotherUDID: details that name another device
// are not kept.
func TestDeviceInformationOfAnotherUDID(t *testing.T) {
	e := newEnv(t)
	p, id := enrolled(t, e)
	if res := e.PostForm(e.SignIn("alice"), "/devices/"+strconv.FormatInt(id, 10)+"/actions", url.Values{"kind": {"checkin"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("checkin: %d", res.Status)
	}
	info := p.want(p.poll(map[string]any{"Status": "Idle"}), applemdm.RequestDeviceInformation)
	if next := p.ack(info, map[string]any{"QueryResponses": map[string]any{"UDID": "ANOTHER", "DeviceName": "Not Alice's"}}); next != nil {
		t.Fatalf("after the answer: %v", next)
	}
	if d := device(t, e, id); d.Details.Name != "Alice's device" {
		t.Errorf("name %q", d.Details.Name)
	}
	if c := commandsOf(t, e, id, portico.CommandCheckin)[0]; c.Status != portico.CommandFailed || !strings.Contains(c.Result, "another UDID") {
		t.Errorf("checkin %s %q", c.Status, c.Result)
	}
}

// TestUDIDHeld: the same user's device registered again takes over its
// UDID and retires the old record; another user's device cannot.
func TestUDIDHeld(t *testing.T) {
	e := newEnv(t)
	p, oldID := enrolled(t, e)
	e.AddUser("bob", false, portico.Roles...)
	bob, _ := e.Store.UserByUsername(context.Background(), "bob")
	ctx := portico.NewContextWithActor(context.Background(), portico.Actor{User: bob, Source: "192.0.2.2"})
	started, err := e.Service.StartRegistration(ctx, portico.InviteByMessage, portico.PlatformIOS)
	if err != nil {
		t.Fatal(err)
	}
	link, _ := url.Parse(started.Link)
	res := e.PostForm(e.Browser(), "/go", url.Values{"username": {"bob"}, "password": {servertest.Password("bob")}, "t": {link.Query().Get("t")}})
	var bobProfile enrollmentProfile
	content, _, err := applemdm.ReadProfile([]byte(res.Body))
	if err != nil {
		t.Fatal(err)
	}
	plist.Unmarshal(content, &bobProfile)
	bobs := &phone{Device: mdmtest.NewDevice(t, p.UDID), t: t, e: e, profile: bobProfile}
	if status := bobs.scep(t, bobs.challenge()); status != scep.SUCCESS {
		t.Fatal(status)
	}
	if s := bobs.checkin("Authenticate", map[string]any{"ProductName": "iPhone15,2"}); s != http.StatusForbidden {
		t.Errorf("another user's Authenticate with alice's UDID: %d", s)
	}
	if d := device(t, e, oldID); d.Status != portico.StatusActive {
		t.Errorf("alice's device is %s", d.Status)
	}
	denied, _ := e.Store.ListAudit(context.Background(), store.AuditFilter{Action: "apple.authenticate"})
	if len(denied) == 0 || denied[0].Result != portico.ResultDenied {
		t.Errorf("the refusal is not audited: %v", denied)
	}

	token, newID := startRegistration(t, e)
	again := enroll(t, e, p.UDID, token)
	if s := again.checkin("Authenticate", map[string]any{"ProductName": "iPhone15,2"}); s != http.StatusOK {
		t.Fatalf("alice's device registered again: %d", s)
	}
	if s := again.checkin("TokenUpdate", map[string]any{"Token": []byte{2}, "PushMagic": "m"}); s != http.StatusOK {
		t.Fatalf("TokenUpdate: %d", s)
	}
	if d := device(t, e, oldID); d.Status != portico.StatusRetired {
		t.Errorf("the old record is %s", d.Status)
	}
	if d := device(t, e, newID); d.Status != portico.StatusActive {
		t.Errorf("the new record is %s", d.Status)
	}
	replaced, _ := e.Store.ListAudit(context.Background(), store.AuditFilter{DeviceID: oldID, Action: "apple.replaced"})
	if len(replaced) != 1 {
		t.Errorf("the retirement of the old record is not audited: %v", replaced)
	}
}

// TestRegistrationExpiresBeforeInstall: a profile installed after its
// registration expired does not complete it.
func TestRegistrationExpiresBeforeInstall(t *testing.T) {
	e := newEnv(t)
	token, id := startRegistration(t, e)
	p := enroll(t, e, "UDID-LATE", token)
	if s := p.checkin("Authenticate", map[string]any{"ProductName": "iPhone15,2"}); s != http.StatusOK {
		t.Fatalf("Authenticate: %d", s)
	}
	e.Clock.Advance(8 * 24 * time.Hour)
	if s := p.checkin("TokenUpdate", map[string]any{"Token": []byte{1}, "PushMagic": "m"}); s != http.StatusUnauthorized {
		t.Errorf("TokenUpdate after the registration expired: %d", s)
	}
	if d := device(t, e, id); d.Status != portico.StatusPending {
		t.Errorf("device %s", d.Status)
	}
}

// apiGet reads the admin API with a read-only key.
func apiGet(t *testing.T, e *servertest.Env, path string) string {
	t.Helper()
	_, key := e.APIKey("read-"+strconv.FormatInt(time.Now().UnixNano(), 36), portico.ScopeReadOnly)
	req, _ := http.NewRequest(http.MethodGet, e.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
	}
	return string(b)
}
