package service_test

import (
	"context"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

func TestOnlyAdminsReadTheOutbox(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser(t, "alice", false, portico.Roles...)
	root := e.addUser(t, "root", true)
	m := &portico.Message{Channel: portico.ChannelSMS, To: "+41790000000", Text: "PIN 123456", CreatedAt: e.clock.Now()}
	if err := e.db.EnqueueMessage(e.op, m); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func(ctx context.Context) (*portico.Message, error)
	}{
		{"list", func(ctx context.Context) (*portico.Message, error) {
			ms, err := e.svc.Messages(ctx, store.MessageFilter{Channel: portico.ChannelSMS})
			if len(ms) != 1 {
				return nil, err
			}
			return ms[0], err
		}},
		{"one", func(ctx context.Context) (*portico.Message, error) { return e.svc.Message(ctx, m.ID) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.call(as(alice))
			wantCode(t, err, portico.EFORBIDDEN)
			_, err = tt.call(context.Background())
			wantCode(t, err, portico.EUNAUTHENTICATED)
			if got, err := tt.call(as(root)); err != nil || got == nil || got.Text != m.Text {
				t.Errorf("as an admin: %+v, %v", got, err)
			}
		})
	}
	_, err := e.svc.Message(as(root), m.ID+1)
	wantCode(t, err, portico.ENOTFOUND)
}

// TestMailAndSMSSettingsAreChecked refuses each bad value with a message
// that says what is wrong, and stores nothing.
func TestMailAndSMSSettingsAreChecked(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		key, value, want string
	}{
		{"mail.host", "smtp example.com", "not a host name"},
		{"mail.host", "-smtp.example.com", "not a host name"},
		{"mail.port", "0", "from 1 to 65535"},
		{"mail.port", "65536", "from 1 to 65535"},
		{"mail.security", "ssl", "not one of starttls, tls, none"},
		{"mail.username", "a\r\nb", "one line"},
		{"mail.password", "pw\nRCPT TO:<x@example.com>", "one line"},
		{"mail.from", "mdm", "not an email address"},
		{"sms.url", "ftp://sms.example.com/", "web address"},
		{"sms.url", "sms.example.com/send", "web address"},
		{"sms.method", "PUT", "not one of POST, GET"},
		{"sms.content_type", "xml", "not one of json, form"},
		{"sms.body", `{"text": "{text}"}`, "must contain {to} and {text}"},
		{"sms.auth_header", "Authorization:", "not a header name"},
		{"sms.auth_value", "Bearer x\r\nX-Evil: 1", "one line"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			err := e.svc.SetSettings(e.op, map[string]string{tt.key: tt.value, "mail.from_name": "Changed"})
			wantCode(t, err, portico.EINVALID)
			if !strings.Contains(portico.ErrorMessage(err), tt.want) {
				t.Errorf("message %q does not say %q", portico.ErrorMessage(err), tt.want)
			}
		})
	}
	if v, _ := e.db.SettingValues(e.op); len(v) != 0 {
		t.Errorf("refused changes stored %v", v)
	}
	good := map[string]string{
		"mail.host": "smtp.example.com", "mail.port": "465", "mail.security": "tls", "mail.username": "mdm@example.com",
		"mail.password": "s3cret", "mail.from": "mdm@example.com", "sms.url": "https://api.example.com/v1/sms?account=7",
		"sms.method": "GET", "sms.content_type": "form", "sms.body": "to={to}&text={text}",
		"sms.auth_header": "X-Api-Key", "sms.auth_value": "Bearer abc",
	}
	if err := e.svc.SetSettings(e.op, good); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "::1", "mail", "smtp.example.com."} {
		if err := e.svc.SetSettings(e.op, map[string]string{"mail.host": host}); err != nil {
			t.Errorf("mail.host %q: %v", host, err)
		}
	}
}
