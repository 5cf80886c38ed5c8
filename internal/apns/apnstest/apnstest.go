// Package apnstest is a stand-in for Apple's push service on the loopback
// interface, for tests: an HTTP/2 TLS server that demands a client
// certificate and checks each push as Apple does — path, headers, the
// topic against the certificate, the exact body — records what it accepts,
// and refuses on request.
package apnstest

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Push is a push the server accepted.
type Push struct {
	Token     string // hex
	Topic     string
	PushMagic string
}

// Server is the stand-in. Its URL is the client's base URL; its RootCAs
// verify it, as does CertPEM, its certificate, for a client in another
// process.
type Server struct {
	URL     string
	RootCAs *x509.CertPool
	CertPEM []byte

	mu       sync.Mutex
	pushes   []Push
	rejected map[string]refusal
	failures []int
	hook     func(Push)
	conns    int
}

// uidOID is the subject attribute that names a push certificate's topic.
var uidOID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}

// New starts a server that demands a client certificate, of any issuer
// (Apple's are issued by Apple; here a test makes its own), and stops it
// when the test ends.
func New(t testing.TB) *Server {
	s := &Server{rejected: map[string]refusal{}}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	ts.EnableHTTP2 = true
	ts.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
		}
	}
	ts.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	s.RootCAs = x509.NewCertPool()
	s.RootCAs.AddCert(ts.Certificate())
	s.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	return s
}

// Pushes returns the pushes accepted so far.
func (s *Server) Pushes() []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Push(nil), s.pushes...)
}

type refusal struct {
	status int
	reason string
}

// Connections counts the connections clients opened: a client that keeps
// its connection opens one for many pushes.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Unregister makes the token (hex) invalid: pushes to it get 410
// Unregistered, as when the profile was removed.
func (s *Server) Unregister(token string) {
	s.Reject(token, http.StatusGone, "Unregistered")
}

// Reject refuses every push to the token (hex) with Apple's status and
// reason, such as 400 BadDeviceToken or 403 BadCertificate.
func (s *Server) Reject(token string, status int, reason string) {
	s.mu.Lock()
	s.rejected[strings.ToLower(token)] = refusal{status, reason}
	s.mu.Unlock()
}

// FailNext makes the next pushes fail with these statuses, one each: 500,
// 503 or 429 as Apple answers when busy.
func (s *Server) FailNext(status ...int) {
	s.mu.Lock()
	s.failures = append(s.failures, status...)
	s.mu.Unlock()
}

// OnPush calls fn for every push accepted, after it is recorded: a test
// wakes its simulated device there.
func (s *Server) OnPush(fn func(Push)) {
	s.mu.Lock()
	s.hook = fn
	s.mu.Unlock()
}

func refuse(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"reason":%q}`, reason)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 2 {
		refuse(w, http.StatusBadRequest, "BadRequest: HTTP/2 only")
		return
	}
	token, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
	switch {
	case r.Method != http.MethodPost:
		refuse(w, http.StatusMethodNotAllowed, "MethodNotAllowed")
		return
	case !ok:
		refuse(w, http.StatusNotFound, "BadPath")
		return
	}
	if b, err := hex.DecodeString(token); err != nil || len(b) == 0 {
		refuse(w, http.StatusBadRequest, "BadDeviceToken")
		return
	}
	topic := r.Header.Get("apns-topic")
	switch {
	case r.Header.Get("apns-push-type") != "mdm":
		refuse(w, http.StatusBadRequest, "InvalidPushType")
		return
	case topic == "":
		refuse(w, http.StatusBadRequest, "MissingTopic")
		return
	case topic != certificateTopic(r.TLS.PeerCertificates[0].Subject):
		refuse(w, http.StatusBadRequest, "TopicDisallowed")
		return
	case r.Header.Get("apns-priority") != "" && r.Header.Get("apns-priority") != "10" && r.Header.Get("apns-priority") != "5":
		refuse(w, http.StatusBadRequest, "BadPriority")
		return
	case !validExpiration(r.Header.Get("apns-expiration")):
		refuse(w, http.StatusBadRequest, "BadExpirationDate")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4097))
	if err != nil || len(body) > 4096 {
		refuse(w, http.StatusRequestEntityTooLarge, "PayloadTooLarge")
		return
	}
	var payload struct {
		MDM string `json:"mdm"`
	}
	if err := json.Unmarshal(body, &payload); err != nil || payload.MDM == "" {
		refuse(w, http.StatusBadRequest, "PayloadEmpty")
		return
	}
	if want, _ := json.Marshal(payload); string(want) != string(body) {
		refuse(w, http.StatusBadRequest, "BadPayload: the body is {\"mdm\":…} and nothing else")
		return
	}
	s.mu.Lock()
	if len(s.failures) > 0 {
		status := s.failures[0]
		s.failures = s.failures[1:]
		s.mu.Unlock()
		reason := "InternalServerError"
		switch status {
		case http.StatusTooManyRequests:
			reason = "TooManyRequests"
		case http.StatusServiceUnavailable:
			reason = "ServiceUnavailable"
		}
		refuse(w, status, reason)
		return
	}
	if r, ok := s.rejected[strings.ToLower(token)]; ok {
		s.mu.Unlock()
		refuse(w, r.status, r.reason)
		return
	}
	p := Push{Token: strings.ToLower(token), Topic: topic, PushMagic: payload.MDM}
	s.pushes = append(s.pushes, p)
	hook := s.hook
	s.mu.Unlock()
	w.Header().Set("apns-id", "00000000-0000-0000-0000-000000000000")
	w.WriteHeader(http.StatusOK)
	// The client has its answer before the hook runs, as from Apple,
	// whose pushes arrive after it answered.
	w.(http.Flusher).Flush()
	if hook != nil {
		hook(p)
	}
}

// validExpiration is an absent expiration or a UNIX time.
func validExpiration(s string) bool {
	if s == "" {
		return true
	}
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

func certificateTopic(subject pkix.Name) string {
	for _, a := range subject.Names {
		if a.Type.Equal(uidOID) {
			if s, ok := a.Value.(string); ok {
				return s
			}
		}
	}
	return ""
}
