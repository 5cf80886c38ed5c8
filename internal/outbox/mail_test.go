package outbox_test

import (
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/outbox/outboxtest"
)

// TestMail sends a mail through each kind of connection and reads back the
// envelope, the headers and the body that the server received.
func TestMail(t *testing.T) {
	tests := []struct {
		name      string
		serverTLS string
		settings  map[string]string
		wantUser  string
	}{
		{"plain", "none", map[string]string{"mail.security": "none"}, ""},
		{"plain with a password on loopback", "none", map[string]string{"mail.security": "none", "mail.username": "mailer", "mail.password": "s3cret"}, "mailer"},
		{"starttls", "starttls", map[string]string{"mail.security": "starttls", "mail.username": "mailer", "mail.password": "s3cret"}, "mailer"},
		{"tls", "tls", map[string]string{"mail.security": "tls", "mail.username": "mailer", "mail.password": "s3cret"}, "mailer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			srv := outboxtest.NewSMTPServer(t, e.cert, tt.serverTLS)
			e.set(map[string]string{"mail.host": "127.0.0.1", "mail.port": srv.Port, "mail.from": "mdm@example.com", "mail.from_name": "Portico MDM"})
			e.set(tt.settings)
			m := e.enqueue(newMail("alice@example.com"))
			e.runOnce()
			e.wantSent(m.ID)
			got := srv.Mails()
			if len(got) != 1 {
				t.Fatalf("the server received %d mails, want 1", len(got))
			}
			r := got[0]
			if r.From != "mdm@example.com" || strings.Join(r.To, ",") != "alice@example.com" || r.User != tt.wantUser || r.TLS != (tt.serverTLS != "none") {
				t.Errorf("envelope from %q to %q, signed in as %q, TLS %t", r.From, r.To, r.User, r.TLS)
			}
			wantMail(t, r.Data, m)
			e.wantSecretsKept("s3cret")
		})
	}
}

// wantMail parses a received mail and checks its headers and text.
func wantMail(t *testing.T, data []byte, m *portico.Message) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("the mail does not parse: %v\n%s", err, data)
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != m.Subject {
		t.Errorf("Subject = %q (%v), want %q", subject, err, m.Subject)
	}
	from, err := msg.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Portico MDM" || from[0].Address != "mdm@example.com" {
		t.Errorf("From = %q", msg.Header.Get("From"))
	}
	if to := msg.Header.Get("To"); !strings.Contains(to, "alice@example.com") {
		t.Errorf("To = %q", to)
	}
	for _, h := range []string{"Date", "Message-Id"} {
		if msg.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "text/plain" || !strings.EqualFold(params["charset"], "utf-8") {
		t.Errorf("Content-Type = %q", msg.Header.Get("Content-Type"))
	}
	body := msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(string(text), "\r\n", "\n"); got != m.Text {
		t.Errorf("body = %q, want %q", got, m.Text)
	}
}

// TestMailSenderName: whatever the portal is called, mail goes out under
// that name, as the recipient's program reads it.
func TestMailSenderName(t *testing.T) {
	for _, name := range []string{`ACME\`, `ACME "Devices"`, `"Quoted"`, `O'Brien & Söhne, Gerät`, `Mobilité <IT>`, `a\"b`, `日本の会社`} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			srv := outboxtest.NewSMTPServer(t, e.cert, "none")
			e.set(map[string]string{"mail.host": "127.0.0.1", "mail.port": srv.Port, "mail.from": "mdm@example.com",
				"mail.security": "none", "mail.from_name": name})
			m := e.enqueue(newMail("alice@example.com"))
			e.runOnce()
			e.wantSent(m.ID)
			got := srv.Mails()
			if len(got) != 1 {
				t.Fatalf("the server received %d mails, want 1", len(got))
			}
			msg, err := mail.ReadMessage(strings.NewReader(string(got[0].Data)))
			if err != nil {
				t.Fatal(err)
			}
			from, err := msg.Header.AddressList("From")
			if err != nil || len(from) != 1 || from[0].Name != name || from[0].Address != "mdm@example.com" || got[0].From != "mdm@example.com" {
				t.Errorf("From = %q (%v), envelope from %q; want %q <mdm@example.com>", msg.Header.Get("From"), err, got[0].From, name)
			}
		})
	}
}

// TestMailTakenIsSentOnce: a server that took the message and hung up
// before the goodbye has it; trying again would deliver it twice.
func TestMailTakenIsSentOnce(t *testing.T) {
	e := newEnv(t)
	srv := outboxtest.NewSMTPServer(t, e.cert, "none")
	srv.HangUpAfterData = true
	e.set(map[string]string{"mail.host": "127.0.0.1", "mail.port": srv.Port, "mail.from": "mdm@example.com", "mail.security": "none"})
	m := e.enqueue(newMail("alice@example.com"))
	e.runOnce()
	e.wantSent(m.ID)
	e.runOnce()
	if n := len(srv.Mails()); n != 1 {
		t.Errorf("the server received %d copies, want 1", n)
	}
}

// TestMailRefused retries when the server cannot be used as set, and says
// why; a password is never sent where it could be read.
func TestMailRefused(t *testing.T) {
	tests := []struct {
		name      string
		serverTLS string
		settings  map[string]string
		want      string
	}{
		{"wrong password", "starttls", map[string]string{"mail.username": "mailer", "mail.password": "wrong-pw"}, "AUTH failed"},
		{"no STARTTLS on the server", "none", map[string]string{"mail.security": "starttls"}, "STARTTLS"},
		{"no sender", "none", map[string]string{"mail.security": "none", "mail.from": ""}, "no sender address"},
		{"nobody listens", "none", map[string]string{"mail.security": "none", "mail.port": "closed"}, "dial"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			srv := outboxtest.NewSMTPServer(t, e.cert, tt.serverTLS)
			e.set(map[string]string{"mail.host": "127.0.0.1", "mail.port": srv.Port, "mail.from": "mdm@example.com"})
			if tt.settings["mail.port"] == "closed" {
				tt.settings["mail.port"] = freePort(t)
			}
			e.set(tt.settings)
			m := e.enqueue(newMail("alice@example.com"))
			e.runOnce()
			e.wantRetry(m.ID, 1, tt.want)
			if n := len(srv.Mails()); n != 0 {
				t.Errorf("the server received %d mails", n)
			}
			e.wantSecretsKept("wrong-pw")
		})
	}
}
