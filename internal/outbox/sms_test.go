package outbox_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/outbox"
	"github.com/portico-mdm/portico/internal/outbox/outboxtest"
)

// TestSMS sends an SMS whose text has quotes, a line break, a backslash,
// non-ASCII characters and a placeholder of its own through each kind of
// gateway, and reads back what the gateway received.
func TestSMS(t *testing.T) {
	to := "+41 79 000 00 00"
	text := newSMS(to).Text
	tests := []struct {
		name     string
		settings map[string]string
		check    func(t *testing.T, r outboxtest.SMSRequest)
	}{
		{"json", map[string]string{"sms.auth_value": "Bearer key-123"}, func(t *testing.T, r outboxtest.SMSRequest) {
			var got struct{ To, Text string }
			if err := json.Unmarshal([]byte(r.Body), &got); err != nil {
				t.Fatalf("the body is not JSON: %v\n%s", err, r.Body)
			}
			if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" ||
				r.Header.Get("Authorization") != "Bearer key-123" || got.To != to || got.Text != text {
				t.Errorf("received %s %q with %v, want a JSON POST with the number, the text and the key", r.Method, r.Body, r.Header)
			}
		}},
		{"form", map[string]string{"sms.content_type": "form", "sms.body": "from=Portico&to={to}&msg={text}",
			"sms.auth_header": "X-Api-Key", "sms.auth_value": "key-456"}, func(t *testing.T, r outboxtest.SMSRequest) {
			got, err := url.ParseQuery(r.Body)
			if err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
				r.Header.Get("X-Api-Key") != "key-456" || r.Header.Get("Authorization") != "" ||
				got.Get("from") != "Portico" || got.Get("to") != to || got.Get("msg") != text {
				t.Errorf("received %q (%v) with %v, want a form with the number, the text and the key", r.Body, err, r.Header)
			}
		}},
		{"get", map[string]string{"sms.method": "GET", "sms.body": "to={to}&text={text}"}, func(t *testing.T, r outboxtest.SMSRequest) {
			if r.Method != http.MethodGet || r.Query.Get("account") != "7" || r.Query.Get("to") != to || r.Query.Get("text") != text || r.Body != "" {
				t.Errorf("received %s %v %q, want a GET with the gateway's own query, the number and the text", r.Method, r.Query, r.Body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			gw := outboxtest.NewSMSGateway(t)
			e.set(map[string]string{"sms.url": gw.URL + "/send?account=7"})
			e.set(tt.settings)
			m := e.enqueue(newSMS(to))
			e.runOnce()
			e.wantSent(m.ID)
			reqs := gw.Requests()
			if len(reqs) != 1 {
				t.Fatalf("the gateway received %d requests, want 1", len(reqs))
			}
			tt.check(t, reqs[0])
			e.wantSecretsKept("key-123", "key-456")
		})
	}
}

// TestSMSGatewayRefuses retries after any refusal, keeps the gateway's
// answer for admins but out of the log, and sends once the gateway takes
// the message.
func TestSMSGatewayRefuses(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusBadRequest} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			e := newEnv(t)
			gw := outboxtest.NewSMSGateway(t)
			e.set(map[string]string{"sms.url": gw.URL})
			gw.Answer(status)
			m := e.enqueue(newSMS("+41790000000"))
			e.runOnce()
			got := e.wantRetry(m.ID, 1, http.StatusText(status))
			if !strings.Contains(got.LastError, "request was:") {
				t.Errorf("the error %q lacks the gateway's answer", got.LastError)
			}
			e.wantSecretsKept()

			e.clock.Advance(outbox.Backoff(1) - 1)
			e.runOnce()
			if n := len(gw.Requests()); n != 1 {
				t.Fatalf("tried again before the back-off: %d requests", n)
			}
			gw.Answer(http.StatusAccepted)
			e.clock.Advance(1)
			e.runOnce()
			if got := e.message(m.ID); got.Status != portico.MessageSent || got.Attempts != 2 || len(gw.Requests()) != 2 {
				t.Errorf("after the back-off: %s after %d tries, %d requests; want sent on the second", got.Status, got.Attempts, len(gw.Requests()))
			}
		})
	}
}

func TestSMSGivesUp(t *testing.T) {
	e := newEnv(t)
	gw := outboxtest.NewSMSGateway(t)
	e.set(map[string]string{"sms.url": gw.URL})
	gw.Answer(http.StatusInternalServerError)
	m := e.enqueue(newSMS("+41790000000"))
	for attempt := 1; ; attempt++ {
		e.runOnce()
		got := e.message(m.ID)
		if got.Status == portico.MessageFailed {
			if got.Attempts != 10 || !strings.Contains(got.LastError, "500") || !got.NextAttemptAt.IsZero() {
				t.Errorf("failed after %d tries with %q, next %v; want 10 tries, the last error, no next try", got.Attempts, got.LastError, got.NextAttemptAt)
			}
			break
		}
		if attempt > 10 {
			t.Fatalf("still %s after %d tries", got.Status, got.Attempts)
		}
		e.clock.Advance(got.NextAttemptAt.Sub(e.clock.Now()))
	}
	e.clock.Advance(24 * time.Hour)
	e.runOnce()
	if n := len(gw.Requests()); n != 10 {
		t.Errorf("the gateway received %d requests, want 10", n)
	}
}

// TestSMSMisconfigured records why a try could not even start, without the
// API key the gateway's URL carries.
func TestSMSMisconfigured(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]string
		want     string
	}{
		{"unquoted JSON placeholder", map[string]string{"sms.body": `{"to": {to}, "text": "{text}"}`}, "does not make JSON"},
		{"nobody listens", map[string]string{"sms.url": "http://127.0.0.1:" + freePort(t) + "/send?apikey=SECRETKEY"}, "reaching the gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			gw := outboxtest.NewSMSGateway(t)
			e.set(map[string]string{"sms.url": gw.URL})
			e.set(tt.settings)
			m := e.enqueue(newSMS("+41790000000"))
			e.runOnce()
			got := e.wantRetry(m.ID, 1, tt.want)
			if strings.Contains(got.LastError, "SECRETKEY") {
				t.Errorf("the error names the API key: %q", got.LastError)
			}
			e.wantSecretsKept("SECRETKEY")
		})
	}
}
