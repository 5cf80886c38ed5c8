package apns_test

import (
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico/internal/apns"
	"github.com/portico-mdm/portico/internal/apns/apnstest"
)

const topic = "com.apple.mgmt.External.2b8e1e6b-4f2c-4f54-9d1c-3b6a2b0f4b1e"

func client(t *testing.T, srv *apnstest.Server, cert *apnstest.Certificate, topic string) *apns.Client {
	t.Helper()
	c := apns.New(apns.Config{Certificate: cert.TLS(), Topic: topic, BaseURL: srv.URL, RootCAs: srv.RootCAs})
	t.Cleanup(c.Close)
	return c
}

func TestPush(t *testing.T) {
	srv := apnstest.New(t)
	cert := apnstest.NewCertificate(t, topic, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	c := client(t, srv, cert, topic)
	token := []byte{0xde, 0xad, 0xbe, 0xef, 0x01}
	woken := make(chan apnstest.Push, 3)
	srv.OnPush(func(p apnstest.Push) { woken <- p })
	for range 3 {
		if err := c.Push(t.Context(), token, `magic "quoted" \ value`); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Connections(); n != 1 {
		t.Errorf("three pushes took %d connections, want 1", n)
	}
	want := apnstest.Push{Token: hex.EncodeToString(token), Topic: topic, PushMagic: `magic "quoted" \ value`}
	got := srv.Pushes()
	if len(got) != 3 || got[0] != want || got[2] != want {
		t.Errorf("pushes = %+v, want thrice %+v", got, want)
	}
	for range 3 {
		select {
		case p := <-woken:
			if p != want {
				t.Errorf("the hook saw %+v, want %+v", p, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the hook did not see the push")
		}
	}
}

func TestPushRefused(t *testing.T) {
	srv := apnstest.New(t)
	cert := apnstest.NewCertificate(t, topic, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	tests := []struct {
		name      string
		prepare   func(token string)
		topic     string
		status    int
		kind      apns.Kind
		permanent bool
	}{
		{"unregistered", func(tok string) { srv.Unregister(tok) }, topic, http.StatusGone, apns.InvalidToken, true},
		{"bad token", func(tok string) { srv.Reject(tok, http.StatusBadRequest, "BadDeviceToken") }, topic, http.StatusBadRequest, apns.InvalidToken, true},
		{"token of another topic", func(tok string) { srv.Reject(tok, http.StatusBadRequest, "DeviceTokenNotForTopic") }, topic, http.StatusBadRequest, apns.InvalidToken, true},
		{"busy", func(string) { srv.FailNext(http.StatusInternalServerError) }, topic, http.StatusInternalServerError, apns.Retryable, false},
		{"unavailable", func(string) { srv.FailNext(http.StatusServiceUnavailable) }, topic, http.StatusServiceUnavailable, apns.Retryable, false},
		{"throttled", func(string) { srv.FailNext(http.StatusTooManyRequests) }, topic, http.StatusTooManyRequests, apns.Retryable, false},
		{"bad certificate", func(tok string) { srv.Reject(tok, http.StatusForbidden, "BadCertificate") }, topic, http.StatusForbidden, apns.Configuration, false},
		{"sandbox certificate", func(tok string) { srv.Reject(tok, http.StatusForbidden, "BadCertificateEnvironment") }, topic, http.StatusForbidden, apns.Configuration, false},
		{"wrong topic", func(string) {}, "com.apple.mgmt.other", http.StatusBadRequest, apns.Configuration, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := []byte{byte(i + 1), 0xaa}
			tt.prepare(hex.EncodeToString(token))
			err := client(t, srv, cert, tt.topic).Push(t.Context(), token, "magic")
			var e *apns.Error
			if !errors.As(err, &e) {
				t.Fatalf("Push = %v, want an *apns.Error", err)
			}
			if e.Status != tt.status || e.Kind() != tt.kind || e.Permanent() != tt.permanent || apns.IsInvalidToken(err) != tt.permanent {
				t.Errorf("Push = %+v (kind %v, permanent %v), want status %d, kind %v, permanent %v", e, e.Kind(), e.Permanent(), tt.status, tt.kind, tt.permanent)
			}
			if e.Reason == "" {
				t.Error("the reason was not decoded")
			}
		})
	}
	if n := len(srv.Pushes()); n != 0 {
		t.Errorf("%d refused pushes were recorded", n)
	}
}

func TestPushWithoutCertificate(t *testing.T) {
	srv := apnstest.New(t)
	c := apns.New(apns.Config{Topic: topic, BaseURL: srv.URL, RootCAs: srv.RootCAs})
	defer c.Close()
	err := c.Push(t.Context(), []byte{1, 2, 3}, "magic")
	var e *apns.Error
	if err == nil || errors.As(err, &e) {
		t.Fatalf("Push without a client certificate = %v, want the handshake refused", err)
	}
	if n := len(srv.Pushes()); n != 0 {
		t.Errorf("%d pushes were recorded", n)
	}
}

// TestStandInIsStrict shows that the stand-in refuses what Apple refuses,
// so that a client it accepts sends what Apple accepts.
func TestStandInIsStrict(t *testing.T) {
	srv := apnstest.New(t)
	cert := apnstest.NewCertificate(t, topic, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	transport := &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert.TLS()}, RootCAs: srv.RootCAs}, ForceAttemptHTTP2: true}
	defer transport.CloseIdleConnections()
	good := http.Header{"Apns-Push-Type": {"mdm"}, "Apns-Topic": {topic}}
	tests := []struct {
		name   string
		method string
		path   string
		header http.Header
		body   string
		reason string
	}{
		{"GET", http.MethodGet, "/3/device/abcd", good, `{"mdm":"m"}`, "MethodNotAllowed"},
		{"no token", http.MethodPost, "/3/device/", good, `{"mdm":"m"}`, "BadDeviceToken"},
		{"token not in hex", http.MethodPost, "/3/device/xyz", good, `{"mdm":"m"}`, "BadDeviceToken"},
		{"alert push", http.MethodPost, "/3/device/abcd", http.Header{"Apns-Push-Type": {"alert"}, "Apns-Topic": {topic}}, `{"mdm":"m"}`, "InvalidPushType"},
		{"no topic", http.MethodPost, "/3/device/abcd", http.Header{"Apns-Push-Type": {"mdm"}}, `{"mdm":"m"}`, "MissingTopic"},
		{"aps in the body", http.MethodPost, "/3/device/abcd", good, `{"mdm":"m","aps":{}}`, "BadPayload"},
		{"spaces in the body", http.MethodPost, "/3/device/abcd", good, `{ "mdm": "m" }`, "BadPayload"},
		{"no push magic", http.MethodPost, "/3/device/abcd", good, `{}`, "PayloadEmpty"},
		{"bad expiration", http.MethodPost, "/3/device/abcd", http.Header{"Apns-Push-Type": {"mdm"}, "Apns-Topic": {topic}, "Apns-Expiration": {"tomorrow"}}, `{"mdm":"m"}`, "BadExpirationDate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.header
			res, err := transport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			answer, _ := io.ReadAll(res.Body)
			if res.StatusCode == http.StatusOK || !strings.Contains(string(answer), tt.reason) {
				t.Errorf("%d %s, want a refusal for %s", res.StatusCode, answer, tt.reason)
			}
		})
	}
	if n := len(srv.Pushes()); n != 0 {
		t.Errorf("%d refused pushes were recorded", n)
	}
}
