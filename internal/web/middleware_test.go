package web_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portico-mdm/portico/internal/web"
)

func TestSourceAddress(t *testing.T) {
	proxies, err := web.ParseTrustedProxies("10.0.0.0/8, 192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, peer, forwarded, want string
	}{
		{"direct", "203.0.113.9:5000", "", "203.0.113.9"},
		{"forged header from an untrusted peer", "203.0.113.9:5000", "198.51.100.1", "203.0.113.9"},
		{"through a trusted proxy", "10.1.2.3:443", "198.51.100.1", "198.51.100.1"},
		{"through two trusted proxies", "10.1.2.3:443", "198.51.100.1, 192.0.2.7", "198.51.100.1"},
		{"a client's own forged hop is ignored", "10.1.2.3:443", "1.1.1.1, 198.51.100.1", "198.51.100.1"},
		{"garbage in the header", "10.1.2.3:443", "not-an-address", "10.1.2.3"},
		{"trusted proxy without a header", "192.0.2.7:80", "", "192.0.2.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			if tt.forwarded != "" {
				r.Header.Set("X-Forwarded-For", tt.forwarded)
			}
			if got := proxies.SourceAddress(r); got != tt.want {
				t.Errorf("SourceAddress = %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := web.ParseTrustedProxies("10.0.0.0/33"); err == nil {
		t.Error("a bad CIDR was accepted")
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/devices/3": "/devices/3", "": "/", "//evil.example/": "/", "/\\evil.example": "/",
		"https://evil.example/": "/", "devices": "/", "/admin/users?x=1": "/admin/users?x=1",
	} {
		if got := web.LocalPath(in); got != want {
			t.Errorf("LocalPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAccessLogStatus: the log says the status the client got, also when
// the handler wrote nothing (an empty 200).
func TestAccessLogStatus(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    int
	}{
		{"nothing written", func(http.ResponseWriter, *http.Request) {}, http.StatusOK},
		{"a body", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }, http.StatusOK},
		{"a refusal", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) }, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			h := web.AccessLog(slog.New(slog.NewJSONHandler(&out, nil)))(tt.handler)
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPut, "/mdm/checkin", nil))
			var line struct{ Status int }
			if err := json.Unmarshal(out.Bytes(), &line); err != nil || line.Status != tt.want {
				t.Errorf("logged %s, want status %d", out.Bytes(), tt.want)
			}
		})
	}
}
