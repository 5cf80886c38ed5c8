package portal_test

import (
	"encoding/base64"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/qrcode/qrcodetest"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
)

func switchOn(t *testing.T, e *servertest.Env, keys ...string) {
	t.Helper()
	values := map[string]string{}
	for _, k := range keys {
		values[k] = "true"
	}
	if err := e.Service.SetSettings(e.Op, values); err != nil {
		t.Fatal(err)
	}
}

func TestWelcomeMenuFollowsRolesAndSwitches(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false, portico.RoleRegisterDevice, portico.RoleRequestPIN)
	e.AddUser("bob", false)
	alice := e.SignIn("alice")
	home := e.Get(alice, "/").Body
	if !strings.Contains(home, `href="/register?how=invitation">Register a device`) || strings.Contains(home, "Request registration PIN") {
		t.Errorf("with PIN registration off alice's menu is wrong:\n%s", home)
	}
	switchOn(t, e, "registration.pin_enabled", "registration.qr_enabled")
	home = e.Get(alice, "/").Body
	if !strings.Contains(home, "Request registration PIN") || strings.Contains(home, "Generate QR code") {
		t.Error("with PIN registration on alice's menu lacks the PIN, or shows QR without the role")
	}
	bob := e.SignIn("bob")
	if home := e.Get(bob, "/").Body; strings.Contains(home, "/register") {
		t.Error("bob, with no registration role, is offered registration")
	}
	if res := e.Get(bob, "/register"); res.Status != http.StatusForbidden {
		t.Errorf("bob on /register: status %d", res.Status)
	}
	if res := e.PostForm(bob, "/register", url.Values{"how": {"invitation"}, "platform": {"ios"}}); res.Status != http.StatusForbidden {
		t.Errorf("bob sending an invitation: status %d", res.Status)
	}
}

func TestSendInvitationShowsPendingDevice(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false, portico.RoleRegisterDevice)
	alice := e.SignIn("alice")
	res := e.PostForm(alice, "/register", url.Values{"how": {"invitation"}, "platform": {"android"}})
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("status %d to %q", res.Status, res.Header.Get("Location"))
	}
	home := html.UnescapeString(e.Get(alice, "/").Body)
	for _, want := range []string{"The registration link is on its way to alice@example.com", "Pending", "Waiting for the Android device", "Send a new link", "Yes, cancel it", "Google Play"} {
		if !strings.Contains(home, want) {
			t.Errorf("home lacks %q", want)
		}
	}
	msgs, _ := e.Store.ListMessages(e.Op, store.MessageFilter{})
	if len(msgs) != 1 || msgs[0].To != "alice@example.com" || !strings.Contains(msgs[0].Text, e.URL+"/go?t=") {
		t.Errorf("outbox = %+v", msgs)
	}

	cancel := regexp.MustCompile(`action="(/registrations/\d+/cancel)"`).FindStringSubmatch(home)
	if cancel == nil {
		t.Fatal("no cancel form")
	}
	if res := e.PostForm(alice, cancel[1], nil); res.Status != http.StatusSeeOther {
		t.Fatalf("cancel: status %d", res.Status)
	}
	home = e.Get(alice, "/").Body
	if strings.Contains(home, "Pending") || !strings.Contains(home, "Cancelled the registration") {
		t.Error("after cancelling, the pending device is still listed or nothing says so")
	}
}

func TestRequestPINShowsItOnce(t *testing.T) {
	e := servertest.New(t)
	switchOn(t, e, "registration.pin_enabled")
	e.AddUser("alice", false, portico.RoleRequestPIN)
	alice := e.SignIn("alice")
	res := e.PostForm(alice, "/register", url.Values{"how": {"pin"}, "platform": {"ios"}})
	pin := regexp.MustCompile(`class="pin secret"[^>]*>(\d{8})<`).FindStringSubmatch(res.Body)
	if res.Status != http.StatusOK || pin == nil || !strings.Contains(res.Body, "only time the PIN is shown") {
		t.Fatalf("status %d:\n%s", res.Status, res.Body)
	}
	// Without a mail gateway the link is only queued, so the page must not
	// say it has been delivered.
	if !strings.Contains(res.Body, "The registration link is on its way to alice@example.com") {
		t.Errorf("the PIN page does not say where the link is going:\n%s", res.Body)
	}
	if home := e.Get(alice, "/").Body; strings.Contains(home, pin[1]) {
		t.Error("the PIN is shown again on the home page")
	}
	// The device completes the registration with it.
	d, _, err := e.Service.RegisterDevice(e.Op, service.Registration{Username: "alice", PIN: pin[1], Platform: portico.PlatformIOS, Details: iPhone})
	if err != nil || d.Status != portico.StatusActive {
		t.Fatalf("registering with the PIN: %+v, %v", d, err)
	}
	if home := e.Get(alice, "/").Body; strings.Contains(home, "Pending") || !strings.Contains(home, "Active") {
		t.Error("the device does not show as Active after registering")
	}
}

func TestQRCodeDecodesToAWorkingLink(t *testing.T) {
	e := servertest.New(t)
	switchOn(t, e, "registration.qr_enabled")
	e.AddUser("alice", false, portico.RoleGenerateQR)
	alice := e.SignIn("alice")
	res := e.PostForm(alice, "/register", url.Values{"how": {"qr"}, "platform": {"ios"}})
	if res.Status != http.StatusOK || !strings.Contains(res.Body, "<svg") {
		t.Fatalf("status %d:\n%s", res.Status, res.Body)
	}
	data := regexp.MustCompile(`href="data:image/png;base64,([^"]+)"`).FindStringSubmatch(res.Body)
	if data == nil {
		t.Fatal("no PNG of the code to save")
	}
	link := decodeQR(t, data[1])
	if !strings.HasPrefix(link, e.URL+"/go?t=") {
		t.Fatalf("the QR code holds %q", link)
	}
	if msgs, _ := e.Store.ListMessages(e.Op, store.MessageFilter{}); len(msgs) != 0 {
		t.Errorf("a QR code sent %d messages", len(msgs))
	}

	// Scanned on an iPhone: the registration page asks for the password.
	phone := e.Browser()
	req, _ := http.NewRequest(http.MethodGet, link, nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148")
	page, err := phone.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	token, _ := url.Parse(link)
	tests := []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"no secret", url.Values{"username": {"alice"}}, http.StatusBadRequest, "Give your password or your registration PIN"},
		{"wrong password", url.Values{"username": {"alice"}, "password": {"nope"}}, http.StatusUnauthorized, "wrong"},
		{"forged link", url.Values{"username": {"alice"}, "password": {"alice-password"}, "t": {"forged"}}, http.StatusUnauthorized, "not valid"},
		{"right password", url.Values{"username": {"alice"}, "password": {"alice-password"}, "platform": {"ios"}}, http.StatusOK, "Profile Downloaded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.form.Has("t") {
				tt.form.Set("t", token.Query().Get("t"))
			}
			res := e.PostForm(phone, "/go", tt.form)
			if res.Status != tt.status || !strings.Contains(html.UnescapeString(res.Body), tt.want) {
				t.Errorf("status %d, want %d with %q:\n%s", res.Status, tt.status, tt.want, res.Body)
			}
			if tt.status != http.StatusOK && !strings.Contains(res.Body, `value="`+tt.form.Get("t")+`"`) {
				t.Error("a refusal lost the link's token: the person would have to scan again")
			}
		})
	}
}

func decodeQR(t *testing.T, b64 string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(b64))
	if err != nil {
		t.Fatal(err)
	}
	return qrcodetest.DecodePNG(t, raw)
}

func TestGoSendsToTheAgent(t *testing.T) {
	e := servertest.New(t)
	if err := e.Service.SetSettings(e.Op, map[string]string{
		"registration.android_agent_url": "https://play.example/apps/details?id=agent",
		"registration.windows_agent_url": "https://downloads.example/agent.msi",
	}); err != nil {
		t.Fatal(err)
	}
	e.AddUser("alice", false, portico.RoleRegisterDevice)
	// The Android agent takes the registration's token from its store
	// link; the Windows agent asks the user to sign in again.
	tests := []struct{ platform, agent, note string }{
		{"android", "https://play.example/apps/details?id=agent", "When you open the agent for the first time it completes the registration."},
		{"windows", "https://downloads.example/agent.msi", "it asks you to sign in again, and that completes the registration"},
	}
	for _, tt := range tests {
		t.Run(tt.platform, func(t *testing.T) {
			res := e.PostForm(e.Browser(), "/go", url.Values{"username": {"alice"}, "password": {"alice-password"}, "platform": {tt.platform}})
			if res.Status != http.StatusOK || !strings.HasSuffix(res.Header.Get("Refresh"), "url="+tt.agent) ||
				!strings.Contains(res.Body, "Get the device agent") || !strings.Contains(res.Body, tt.note) {
				t.Errorf("status %d, Refresh %q:\n%s", res.Status, res.Header.Get("Refresh"), res.Body)
			}
		})
	}
}
