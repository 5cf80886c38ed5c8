package admin_test

import (
	"crypto/tls"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/outbox/outboxtest"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/store"
)

func TestSendTestMail(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	root := e.SignIn("root")
	srv := outboxtest.NewSMTPServer(t, tls.Certificate{}, "none")

	page := e.Get(root, "/admin/settings/mail").Body
	if !strings.Contains(page, `action="/admin/settings/mail/test#test"`) || !strings.Contains(page, `value="root@example.com"`) {
		t.Fatalf("the mail page has no test form addressed to the admin:\n%s", page)
	}
	send := func(to string) servertest.Response {
		return e.PostForm(root, "/admin/settings/mail/test", url.Values{"to": {to}})
	}
	if res := send("ops@example.com"); res.Status != http.StatusConflict || !strings.Contains(res.Body, "No SMTP server is set up") {
		t.Errorf("without a server: status %d:\n%s", res.Status, res.Body)
	}
	save := url.Values{"mail.host": {"127.0.0.1"}, "mail.port": {srv.Port}, "mail.security": {"none"},
		"mail.username": {"mailer"}, "mail.password": {"wrong-pw"}, "mail.from": {"mdm@example.com"}}
	if res := e.PostForm(root, "/admin/settings/mail", save); res.Status != http.StatusSeeOther {
		t.Fatalf("saving: status %d:\n%s", res.Status, res.Body)
	}
	res := send("ops@example.com")
	if body := html.UnescapeString(res.Body); res.Status != http.StatusBadGateway || !strings.Contains(body, "The test message was not sent:") || !strings.Contains(body, "AUTH failed") {
		t.Errorf("a wrong password: status %d, want 502 with the server's refusal:\n%s", res.Status, body)
	}
	if res := e.PostForm(root, "/admin/settings/mail", url.Values{"mail.password": {"s3cret"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("saving: status %d", res.Status)
	}
	if res := send("not an address"); res.Status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(res.Body), `"not an address" is not an email address`) {
		t.Errorf("a bad address: status %d", res.Status)
	}
	res = send("ops@example.com")
	if res.Status != http.StatusOK || !strings.Contains(res.Body, "The mail server took the test message for ops@example.com.") {
		t.Fatalf("status %d:\n%s", res.Status, res.Body)
	}
	// Delivered during the request: nothing waits in the outbox.
	got := srv.Mails()
	if len(got) != 1 || strings.Join(got[0].To, ",") != "ops@example.com" || got[0].User != "mailer" {
		t.Errorf("the server received %+v", got)
	}
	if msgs, err := e.Service.Messages(e.Op, store.MessageFilter{}); err != nil || len(msgs) != 0 {
		t.Errorf("the outbox holds %d messages, %v", len(msgs), err)
	}
	entries, err := e.Service.AuditLog(e.Op, store.AuditFilter{Action: "settings.test_mail"})
	if err != nil {
		t.Fatal(err)
	}
	var results []string
	for _, en := range entries {
		results = append(results, en.Actor+" "+en.Target+" "+en.Result)
	}
	want := []string{"root ops@example.com ok", "root ops@example.com failed"}
	if strings.Join(results, "|") != strings.Join(want, "|") {
		t.Errorf("audited %q, want %q", results, want)
	}
}

func TestSendTestSMS(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	root := e.SignIn("root")
	gw := outboxtest.NewSMSGateway(t)
	if err := e.Service.SetSettings(e.Op, map[string]string{"branding.name": "ACME Devices"}); err != nil {
		t.Fatal(err)
	}
	if res := e.PostForm(root, "/admin/settings/sms", url.Values{"sms.url": {gw.URL + "/send"}, "sms.auth_value": {"Bearer k3y"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("saving: status %d:\n%s", res.Status, res.Body)
	}
	send := func(to string) servertest.Response {
		return e.PostForm(root, "/admin/settings/sms/test", url.Values{"to": {to}})
	}
	res := send("+44 20 7946 0000")
	if res.Status != http.StatusOK || !strings.Contains(html.UnescapeString(res.Body), "The SMS gateway took the test message for +44 20 7946 0000.") {
		t.Fatalf("status %d:\n%s", res.Status, res.Body)
	}
	reqs := gw.Requests()
	if len(reqs) != 1 || !strings.Contains(reqs[0].Body, `"to": "+44 20 7946 0000"`) || !strings.Contains(reqs[0].Body, "Test message from ACME Devices: SMS delivery works.") || reqs[0].Header.Get("Authorization") != "Bearer k3y" {
		t.Errorf("the gateway received %+v", reqs)
	}
	gw.Answer(http.StatusInternalServerError)
	res = send("+44 20 7946 0000")
	if res.Status != http.StatusBadGateway || !strings.Contains(html.UnescapeString(res.Body), "the gateway answered 500 Internal Server Error: request was:") {
		t.Errorf("a failing gateway, with its answer on the page: status %d:\n%s", res.Status, res.Body)
	}
	// The gateway's answer echoes the message; the audit log keeps its
	// status only.
	failed, err := e.Service.AuditLog(e.Op, store.AuditFilter{Action: "settings.test_sms", Result: portico.ResultFailed})
	if err != nil || len(failed) != 1 || failed[0].Detail != "the gateway answered 500 Internal Server Error" {
		t.Errorf("the failure audited as %+v, %v", failed, err)
	}
	if res := send("call me"); res.Status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(res.Body), "is not a phone number") {
		t.Errorf("a bad number: status %d", res.Status)
	}
	if res := e.PostForm(root, "/admin/settings/helpdesk/test", url.Values{"to": {"+44 20 7946 0000"}}); res.Status != http.StatusNotFound {
		t.Errorf("a page with no test message: status %d", res.Status)
	}
	alice := e.AddUser("alice", false)
	if res := e.PostForm(e.SignIn(alice.Username), "/admin/settings/sms/test", url.Values{"to": {"+44 20 7946 0000"}}); res.Status != http.StatusForbidden {
		t.Errorf("a user who is not an admin: status %d", res.Status)
	}
	if n := len(gw.Requests()); n != 2 {
		t.Errorf("the gateway received %d requests, want 2", n)
	}
}

// TestSettingsChangesAreAudited: each change is one entry with its old
// and new value; a secret's value is in none of them.
func TestSettingsChangesAreAudited(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	root := e.SignIn("root")
	form := url.Values{"mail.host": {"smtp.example.com"}, "mail.port": {"465"}, "mail.security": {"tls"}, "mail.password": {"Sup3r-secret"}, "mail.from_name": {"Portico"}}
	if res := e.PostForm(root, "/admin/settings/mail", form); res.Status != http.StatusSeeOther {
		t.Fatalf("saving: status %d:\n%s", res.Status, res.Body)
	}
	if res := e.PostForm(root, "/admin/settings/mail", url.Values{"mail.port": {"587"}, "mail.password": {""}}); res.Status != http.StatusSeeOther {
		t.Fatalf("saving: status %d:\n%s", res.Status, res.Body)
	}
	rows := readCSV(t, e.Get(root, "/admin/audit/export?action=settings"))
	var got []string
	for _, r := range rows[1:] {
		got = append(got, strings.Join(r[2:5], " ")+" "+r[8])
	}
	want := []string{
		`root settings.change mail.port "465" → "587"`,
		`root settings.change mail.security "starttls" → "tls"`,
		`root settings.change mail.port "587" → "465"`,
		`root settings.change mail.password secret changed`,
		`root settings.change mail.host "" → "smtp.example.com"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audited:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if all := e.Get(root, "/admin/audit/export").Body; strings.Contains(all, "Sup3r-secret") {
		t.Error("the audit log holds the password")
	}
}

// TestSettingsAreSharedByInstances changes a setting through a second
// service on the same database, as another instance would: the first
// server's next page reflects it, since nothing keeps settings in memory.
func TestSettingsAreSharedByInstances(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	e.AddUser("alice", false, portico.RoleRegisterDevice, portico.RoleRequestPIN)
	other := service.New(service.Config{Store: e.Store, Passwords: secret.Cheap, Clock: e.Clock})
	alice := e.SignIn("alice")
	set := func(key, value string) {
		t.Helper()
		if err := other.SetSettings(e.Op, map[string]string{key: value}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"Desk One", "Desk Two"} {
		set("helpdesk.name", name)
		if body := e.Get(alice, "/").Body; !strings.Contains(body, name) {
			t.Errorf("the portal does not show the helpdesk %q set by another instance", name)
		}
	}
	for _, on := range []bool{true, false, true} {
		set("registration.pin_enabled", strconv.FormatBool(on))
		if offered := strings.Contains(e.Get(alice, "/register").Body, `value="pin"`); offered != on {
			t.Errorf("with PIN registration switched to %t by another instance, the portal offers it: %t", on, offered)
		}
	}
}

// TestSettingGroupsAreComplete names what each settings page must hold, so
// that none loses a setting admins rely on.
func TestSettingGroupsAreComplete(t *testing.T) {
	want := map[string][]string{
		"registration": {"registration.pin_enabled", "registration.qr_enabled", "registration.invitation_lifetime", "registration.pin_lifetime",
			"registration.default_ownership", "registration.user_may_change_ownership", "registration.android_agent_url", "registration.windows_agent_url", "registration.instructions.ios"},
		"privacy":      {"privacy.location_company", "privacy.location_employee"},
		"products":     {"products.secure_apps", "products.secure_docs", "products.secure_web"},
		"secure_apps":  {"secure_apps.passcode_required", "secure_apps.passcode_recovery", "secure_apps.applies_to"},
		"derived":      {"derived.provider", "derived.url", "derived.secret"},
		"certificates": {"certificates.signing", "certificates.encryption", "email.server", "email.username"},
		"mail":         {"mail.host", "mail.port", "mail.security", "mail.username", "mail.password", "mail.from"},
		"sms":          {"sms.url", "sms.method", "sms.body", "sms.auth_header", "sms.auth_value"},
		"helpdesk":     {"helpdesk.name", "helpdesk.phone", "helpdesk.email", "helpdesk.hours"},
		"passwords":    {"password.min_length"},
		"security":     {"session.lifetime", "session.idle_timeout", "login.max_failures", "login.lockout"},
	}
	for group, keys := range want {
		if _, err := portico.LookupSettingGroup(group); err != nil {
			t.Errorf("no settings page %s", group)
			continue
		}
		for _, key := range keys {
			if s, err := portico.LookupSetting(key); err != nil || s.Group != group {
				t.Errorf("%s is not on the %s page: %+v, %v", key, group, s, err)
			}
		}
	}
}
