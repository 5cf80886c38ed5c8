package apns_test

import (
	"encoding/hex"
	"errors"
	"net/http"
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
