package admin_test

import (
	"html"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/server/servertest"
)

func enqueue(t *testing.T, e *servertest.Env, m *portico.Message) *portico.Message {
	t.Helper()
	m.CreatedAt = e.Clock.Now()
	if err := e.Store.EnqueueMessage(e.Op, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOutbox(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	root := e.SignIn("root")
	invitation := enqueue(t, e, &portico.Message{Channel: portico.ChannelMail, To: "alice@example.com", Subject: "Register your phone",
		Text: "Hello Alice,\n\nopen https://mdm.example.com/go?t=abc <and> enter the PIN 864209.\n"})
	sms := enqueue(t, e, &portico.Message{Channel: portico.ChannelSMS, To: "+41790000000", Text: "PIN 864209"})
	claimed, err := e.Store.ClaimMessages(e.Op, []portico.Channel{portico.ChannelSMS}, e.Clock.Now(), time.Minute, 1)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claiming: %v, %v", claimed, err)
	}
	if err := e.Store.MarkMessageSent(e.Op, claimed[0], e.Clock.Now()); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		path    string
		status  int
		want    []string
		notWant []string
	}{
		{"all", "/admin/outbox", http.StatusOK,
			[]string{"Register your phone", "alice@example.com", "+41790000000", "pending", "sent",
				"No mail server is configured", "No SMS gateway is configured", `href="/admin/outbox/` + strconv.FormatInt(invitation.ID, 10)}, nil},
		{"pending", "/admin/outbox?status=pending", http.StatusOK, []string{"alice@example.com"}, []string{"+41790000000"}},
		{"sent", "/admin/outbox?status=sent", http.StatusOK, []string{"+41790000000"}, []string{"alice@example.com"}},
		{"failed", "/admin/outbox?status=failed", http.StatusOK, []string{"No messages failed."}, []string{"alice@example.com"}},
		{"a bad status", "/admin/outbox?status=lost", http.StatusBadRequest, []string{`"lost" is not a message status`}, nil},
		{"a message", "/admin/outbox/" + strconv.FormatInt(invitation.ID, 10), http.StatusOK,
			[]string{"Mail to alice@example.com", "Register your phone", "not tried yet",
				`<pre class="message">Hello Alice,` + "\n\nopen https://mdm.example.com/go?t=abc &lt;and&gt; enter the PIN 864209.\n</pre>"}, nil},
		{"a sent SMS keeps no PIN", "/admin/outbox/" + strconv.FormatInt(sms.ID, 10), http.StatusOK, []string{"SMS to +41790000000", portico.DeliveredText, "Sent"}, []string{"864209"}},
		{"no such message", "/admin/outbox/" + strconv.FormatInt(sms.ID+100, 10), http.StatusNotFound, []string{"There is no message"}, nil},
		{"not a number", "/admin/outbox/abc", http.StatusNotFound, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.Get(root, tt.path)
			if res.Status != tt.status {
				t.Fatalf("status %d, want %d:\n%s", res.Status, tt.status, res.Body)
			}
			body := res.Body
			for _, want := range tt.want {
				if !strings.Contains(body, want) && !strings.Contains(html.UnescapeString(body), want) {
					t.Errorf("the page lacks %q", want)
				}
			}
			for _, s := range tt.notWant {
				if strings.Contains(body, s) {
					t.Errorf("the page shows %q", s)
				}
			}
		})
	}

	e.AddUser("alice", false, portico.Roles...)
	alice := e.SignIn("alice")
	for _, path := range []string{"/admin/outbox", "/admin/outbox/" + strconv.FormatInt(invitation.ID, 10)} {
		if res := e.Get(alice, path); res.Status != http.StatusForbidden || strings.Contains(res.Body, "864209") {
			t.Errorf("%s as a user who is not an admin: status %d", path, res.Status)
		}
		if res := e.Get(e.Browser(), path); res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
			t.Errorf("%s signed out: status %d to %q", path, res.Status, res.Header.Get("Location"))
		}
	}
}

func TestOutboxSaysWhichGatewaysAreMissing(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	root := e.SignIn("root")
	if err := e.Service.SetSettings(e.Op, map[string]string{"mail.host": "smtp.example.com"}); err != nil {
		t.Fatal(err)
	}
	body := e.Get(root, "/admin/outbox").Body
	if strings.Contains(body, "No mail server") || !strings.Contains(body, "No SMS gateway is configured") {
		t.Errorf("with a mail server only, the outbox says:\n%s", body)
	}
}
