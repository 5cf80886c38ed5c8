// Package apns sends the pushes that wake Apple devices under management
// (SPEC APPLE-1): an HTTP/2 POST to Apple's push service, authenticated with
// the MDM push certificate as TLS client certificate, that tells the device
// to connect to its MDM server. The push carries no command; the device
// fetches its commands itself.
package apns

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Production is Apple's push service. MDM push certificates issued by
// Apple's push certificates portal work only there, never in the sandbox.
const Production = "https://api.push.apple.com"

// expiration is how long Apple keeps trying to reach a device that is
// offline. A device that comes back later polls when it reconnects anyway,
// and a newer push for it replaces this one.
const expiration = 24 * time.Hour

// maxAnswer bounds what is read of Apple's answer; its error bodies are a
// few dozen bytes.
const maxAnswer = 4096

// Config is what a Client is built from.
type Config struct {
	// Certificate is the MDM push certificate with its private key.
	Certificate tls.Certificate
	// Topic is the UID in the certificate's subject, com.apple.mgmt.….
	Topic string
	// BaseURL is Production unless a test says otherwise.
	BaseURL string
	// RootCAs verifies the push service's certificate; nil trusts the
	// system's.
	RootCAs *x509.CertPool
}

// Client sends pushes with one push certificate. It keeps its HTTP/2
// connection open between pushes, as Apple asks of providers: build one per
// certificate and share it.
type Client struct {
	topic string
	base  string
	http  *http.Client
}

// New returns a Client for the certificate.
func New(cfg Config) *Client {
	if cfg.BaseURL == "" {
		cfg.BaseURL = Production
	}
	transport := &http.Transport{
		TLSClientConfig: &tls.Config{
			Certificates: []tls.Certificate{cfg.Certificate},
			RootCAs:      cfg.RootCAs,
			MinVersion:   tls.VersionTLS12,
		},
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     time.Hour,
	}
	return &Client{
		topic: cfg.Topic, base: strings.TrimSuffix(cfg.BaseURL, "/"),
		http: &http.Client{Transport: transport},
	}
}

// Topic is the topic the client pushes on.
func (c *Client) Topic() string { return c.topic }

// Close closes the client's idle connections: its certificate was replaced.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Push asks Apple to wake the device of token, with the push magic the
// device sent in its TokenUpdate.
func (c *Client) Push(ctx context.Context, token []byte, pushMagic string) error {
	if len(token) == 0 {
		return &Error{Status: http.StatusBadRequest, Reason: "BadDeviceToken"}
	}
	body, err := json.Marshal(struct {
		MDM string `json:"mdm"`
	}{pushMagic})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/3/device/"+hex.EncodeToString(token), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("apns-push-type", "mdm")
	req.Header.Set("apns-topic", c.topic)
	req.Header.Set("apns-priority", "10")
	req.Header.Set("apns-expiration", strconv.FormatInt(time.Now().Add(expiration).Unix(), 10))
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("apns: %w", err)
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if res.StatusCode == http.StatusOK {
		return nil
	}
	e := &Error{Status: res.StatusCode}
	var reply struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(answer, &reply) == nil {
		e.Reason = reply.Reason
	}
	return e
}

// Kind is what can be done about a refused push.
type Kind int

const (
	// Retryable: Apple is busy or throttling; try again later.
	Retryable Kind = iota
	// InvalidToken: the device token is no longer (or never was) good for
	// this topic; pushing it again is pointless until the device sends a
	// new one.
	InvalidToken
	// Configuration: Apple refused the certificate, the topic or the
	// request itself; only an admin can fix it.
	Configuration
)

// invalidToken are Apple's reasons that condemn the device token.
var invalidToken = map[string]bool{
	"BadDeviceToken":         true,
	"DeviceTokenNotForTopic": true,
	"Unregistered":           true,
	"ExpiredToken":           true,
}

// Error is Apple's refusal of a push.
type Error struct {
	Status int
	// Reason is Apple's word for it, such as BadDeviceToken.
	Reason string
}

// Kind classifies the refusal.
func (e *Error) Kind() Kind {
	switch {
	case e.Status == http.StatusGone || invalidToken[e.Reason]:
		return InvalidToken
	case e.Status == http.StatusTooManyRequests || e.Status >= 500:
		return Retryable
	}
	return Configuration
}

// Permanent reports whether trying the same push again is pointless: the
// outbox gives up on it at once.
func (e *Error) Permanent() bool { return e.Kind() == InvalidToken }

func (e *Error) Error() string {
	reason := e.Reason
	if reason == "" {
		reason = http.StatusText(e.Status)
	}
	switch e.Kind() {
	case InvalidToken:
		return fmt.Sprintf("Apple refused the device token: %s (%d); the device must send a new one", reason, e.Status)
	case Configuration:
		return fmt.Sprintf("Apple refused the push: %s (%d); check the push certificate at /admin/apple/push", reason, e.Status)
	}
	return fmt.Sprintf("Apple's push service answered %s (%d); trying again later", reason, e.Status)
}

// IsInvalidToken reports whether err condemns the device token.
func IsInvalidToken(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind() == InvalidToken
}
