package e2e

import (
	"crypto/tls"
	"encoding/base64"
	"html"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico/internal/outbox/outboxtest"
	"github.com/portico-mdm/portico/internal/qrcode/qrcodetest"
)

// delivery is a server with a real SMTP server and SMS gateway on loopback
// configured, and alice, who may request PINs and QR codes, with a phone.
type delivery struct {
	*instance
	data          string
	smtp          *outboxtest.SMTPServer
	sms           *outboxtest.SMSGateway
	alicePassword string
}

func newDelivery(t *testing.T) *delivery {
	d := &delivery{
		data: filepath.Join(t.TempDir(), "data"),
		smtp: outboxtest.NewSMTPServer(t, tls.Certificate{}, "none"),
		sms:  outboxtest.NewSMSGateway(t),
	}
	d.instance = serve(t, "--data", d.data)
	run(t, "", "--data", d.data, "settings", "set",
		"mail.host=127.0.0.1", "mail.port="+d.smtp.Port, "mail.security=none", "mail.from=mdm@example.com",
		"sms.url="+d.sms.URL+"/send", "registration.pin_enabled=true", "registration.qr_enabled=true")
	out := run(t, "", "--data", d.data, "user", "add", "alice", "--email", "alice@example.com", "--name", "Alice Example",
		"--phone", "+1 555 0100", "--role", "request_pin", "--role", "generate_qr")
	d.alicePassword = createdPassword.FindStringSubmatch(out)[1]
	return d
}

// mailText is the decoded text of a received mail.
func mailText(t *testing.T, m outboxtest.Mail) string {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatal(err)
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var pinOnPage = regexp.MustCompile(`class="pin secret"[^>]*>(\d{8})<`)

// TestRegistrationWithAPIN is the PIN story as a new user lives it: alice
// requests a PIN, the invitation arrives by mail and SMS, the simulated
// iPhone registers with the PIN, and the portal shows it go from Pending to
// Active.
func TestRegistrationWithAPIN(t *testing.T) {
	d := newDelivery(t)
	alice := browserClient()
	if code := signIn(t, alice, d.URL, "alice", d.alicePassword); code != http.StatusSeeOther {
		t.Fatalf("alice's sign-in: status %d", code)
	}
	res, err := alice.PostForm(d.URL+"/register", url.Values{"how": {"pin"}, "platform": {"ios"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := pinOnPage.FindSubmatch(page)
	if res.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("requesting a PIN: status %d\n%s", res.StatusCode, page)
	}
	pin := string(m[1])

	mailed := d.smtp.WaitMail(t, 30*time.Second, func(m outboxtest.Mail) bool { return strings.Join(m.To, ",") == "alice@example.com" })
	text := mailText(t, mailed)
	for _, want := range []string{pin, d.URL + "/go?t=", "Profile Downloaded", "Register your iPhone"} {
		if !strings.Contains(text, want) && !strings.Contains(string(mailed.Data), want) {
			t.Errorf("the invitation mail lacks %q:\n%s", want, text)
		}
	}
	sms := d.sms.WaitRequest(t, 30*time.Second, func(r outboxtest.SMSRequest) bool { return strings.Contains(r.Body, "+1 555 0100") })
	if !strings.Contains(sms.Body, pin) || !strings.Contains(sms.Body, "/go?t=") {
		t.Errorf("the SMS lacks the PIN or the link: %s", sms.Body)
	}

	if _, home := get(t, alice, d.URL+"/"); !strings.Contains(home, "Pending") {
		t.Fatalf("before registering, alice's home shows no pending iPhone:\n%s", home)
	}
	out := run(t, "", "device", "sim", "--server", d.URL, "--platform", "ios", "--user", "alice", "--pin", pin, "--every", "0")
	if !strings.Contains(out, "Registered") {
		t.Fatalf("device sim --pin: %s", out)
	}
	_, home := get(t, alice, d.URL+"/")
	if strings.Contains(home, "Pending") || !strings.Contains(home, "Active") || strings.Count(home, `class="card"`) != 1 {
		t.Errorf("after registering, alice's home does not show one active iPhone:\n%s", home)
	}
	out = runFails(t, "device", "sim", "--server", d.URL, "--platform", "ios", "--user", "alice", "--pin", pin, "--every", "0")
	if !strings.Contains(out, "PIN is wrong") {
		t.Errorf("the PIN worked twice, or failed without saying why: %s", out)
	}
}

// TestRegistrationWithAQRCode: the QR code decodes to the registration
// link, and the link with alice's password registers the simulated device.
func TestRegistrationWithAQRCode(t *testing.T) {
	d := newDelivery(t)
	alice := browserClient()
	signIn(t, alice, d.URL, "alice", d.alicePassword)
	res, err := alice.PostForm(d.URL+"/register", url.Values{"how": {"qr"}, "platform": {"android"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	data := regexp.MustCompile(`href="data:image/png;base64,([^"]+)"`).FindSubmatch(page)
	if data == nil {
		t.Fatalf("no QR code on the page:\n%s", page)
	}
	png, err := base64.StdEncoding.DecodeString(html.UnescapeString(string(data[1])))
	if err != nil {
		t.Fatal(err)
	}
	link := qrcodetest.DecodePNG(t, png)
	if !strings.HasPrefix(link, d.URL+"/go?t=") {
		t.Fatalf("the QR code holds %q", link)
	}
	out := run(t, "", "device", "sim", "--server", d.URL, "--platform", "android", "--user", "alice",
		"--password", d.alicePassword, "--token", link, "--every", "0")
	if !strings.Contains(out, "Registered") {
		t.Fatalf("device sim --token: %s", out)
	}
	_, home := get(t, alice, d.URL+"/")
	if strings.Contains(home, "Pending") || strings.Count(home, `class="card"`) != 1 {
		t.Errorf("after registering with the QR link alice's home does not show one active device:\n%s", home)
	}
	out = runFails(t, "device", "sim", "--server", d.URL, "--platform", "android", "--user", "alice",
		"--password", d.alicePassword, "--token", link, "--every", "0")
	if !strings.Contains(out, "already used") {
		t.Errorf("a used link registered again, or failed without saying why: %s", out)
	}
}
