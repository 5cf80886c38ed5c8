// Package outboxtest has the real peers that mail and SMS are delivered
// to in tests: an SMTP server and an SMS gateway on loopback.
package outboxtest

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail is a mail the SMTP server took.
type Mail struct {
	From string
	To   []string
	User string // who signed in, if anyone
	TLS  bool
	Data []byte
}

// SMTPServer is a real SMTP server on loopback that signs in "mailer" with
// the password "s3cret" and keeps what it receives.
type SMTPServer struct {
	Port string
	// HangUpAfterData makes the server drop the connection as soon as it
	// has taken a message, before the client can say goodbye: a client that
	// then sends the message again delivers it twice.
	HangUpAfterData bool
	mu              sync.Mutex
	got             []Mail
}

// NewSMTPServer starts a server that stops with the test. serverTLS says
// how it speaks: "starttls" offers STARTTLS, "tls" is encrypted from the
// start, "none" never encrypts (cert is not used then).
func NewSMTPServer(t testing.TB, cert tls.Certificate, serverTLS string) *SMTPServer {
	s := &SMTPServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c}, nil
	}))
	srv.Domain = "127.0.0.1"
	srv.AllowInsecureAuth = serverTLS == "none"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	switch serverTLS {
	case "starttls":
		srv.TLSConfig = cfg
	case "tls":
		ln = tls.NewListener(ln, cfg)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, s.Port, _ = net.SplitHostPort(ln.Addr().String())
	return s
}

// Mails returns what the server received so far.
func (s *SMTPServer) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.got...)
}

// WaitMail waits until a mail arrives that match accepts, and returns it.
func (s *SMTPServer) WaitMail(t testing.TB, timeout time.Duration, match func(Mail) bool) Mail {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, m := range s.Mails() {
			if match(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching mail arrived within %s (%d arrived)", timeout, len(s.Mails()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type session struct {
	srv  *SMTPServer
	conn *smtp.Conn
	user string
	mail Mail
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != "mailer" || password != "s3cret" {
			return errors.New("wrong user name or password")
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	_, isTLS := s.conn.TLSConnectionState()
	s.mail = Mail{From: from, User: s.user, TLS: isTLS}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.mail.To = append(s.mail.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mail.Data = data
	s.srv.mu.Lock()
	s.srv.got = append(s.srv.got, s.mail)
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset() {
	if s.mail.Data != nil && s.srv.HangUpAfterData {
		// The network connection, not go-smtp's, whose Close waits for
		// this very handler.
		s.conn.Conn().Close()
	}
	s.mail = Mail{}
}
func (s *session) Logout() error { return nil }
