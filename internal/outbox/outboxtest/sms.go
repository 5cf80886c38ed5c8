package outboxtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// SMSRequest is what the gateway received.
type SMSRequest struct {
	Method string
	Header http.Header
	Query  url.Values
	Body   string
}

// SMSGateway is an SMS gateway on loopback that records what it receives
// and answers with the status it is told, echoing the request as some do.
type SMSGateway struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []SMSRequest
	status int
}

// NewSMSGateway starts a gateway that answers 200 and stops with the test.
func NewSMSGateway(t testing.TB) *SMSGateway {
	gw := &SMSGateway{status: http.StatusOK}
	gw.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		gw.mu.Lock()
		gw.reqs = append(gw.reqs, SMSRequest{r.Method, r.Header, r.URL.Query(), string(body)})
		status := gw.status
		gw.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, "request was: "+string(body)+" "+r.URL.RawQuery)
	}))
	t.Cleanup(gw.Close)
	return gw
}

// Answer makes the gateway answer with status from now on.
func (gw *SMSGateway) Answer(status int) { gw.mu.Lock(); gw.status = status; gw.mu.Unlock() }

// Requests returns what the gateway received so far.
func (gw *SMSGateway) Requests() []SMSRequest {
	gw.mu.Lock()
	defer gw.mu.Unlock()
	return append([]SMSRequest(nil), gw.reqs...)
}

// WaitRequest waits until a request arrives that match accepts.
func (gw *SMSGateway) WaitRequest(t testing.TB, timeout time.Duration, match func(SMSRequest) bool) SMSRequest {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, r := range gw.Requests() {
			if match(r) {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching SMS arrived within %s (%d arrived)", timeout, len(gw.Requests()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
