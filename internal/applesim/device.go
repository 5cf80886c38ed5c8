// Package applesim simulates an iPhone, iPad or Mac speaking Apple's MDM
// protocol: it installs an enrollment profile (signed or not), gets its
// identity by SCEP, checks in (Authenticate, TokenUpdate, CheckOut), and,
// when woken as a push would wake it, polls the server for commands and
// answers each as the real device does, per Apple's schema and device
// captures. It records every command it receives, so that tests can check
// what a server sent. It serves tests and demos; it is not shipped to
// devices.
package applesim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Config describes one simulated device.
type Config struct {
	Model Model
	// Roots are trusted for TLS besides the system's roots and the
	// profile's com.apple.security.root payloads, such as the certificate
	// of a test server.
	Roots []*x509.Certificate
	// Supervised devices accept lost mode; a device enrolled through a
	// profile by its user is not supervised.
	Supervised bool
	// AllowHTTP accepts http:// MDM URLs, which a device refuses, so that
	// the simulator can speak to a plain-HTTP test server.
	AllowHTTP bool
	// Out, when set, hears one line per command handled and why the
	// device stops.
	Out io.Writer
}

// Received is a command the device received, as the server sent it, and
// the Status it answered.
type Received struct {
	CommandUUID string
	RequestType string
	// Command is the Command dictionary, RequestType included.
	Command map[string]any
	At      time.Time
	Status  string
}

// Keys are the command's keys besides RequestType, sorted.
func (r Received) Keys() []string {
	var keys []string
	for k := range r.Command {
		if k != "RequestType" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// Device is one simulated device. Its methods are safe for concurrent use;
// polls run one at a time, as a device holds one connection to its server.
type Device struct {
	cfg   Config
	model Model

	poll sync.Mutex // held through Install, Poll and Unenroll

	// Set by Install.
	profile   *Profile
	mdm       MDMPayload
	key       *rsa.PrivateKey
	cert      *x509.Certificate
	mdmClient *http.Client

	pushToken   []byte
	pushMagic   string
	unlockToken []byte

	wake chan struct{}

	mu sync.Mutex // guards what follows
	// installed are the profiles InstallProfile put on the device, in
	// order.
	installed []*Profile
	received  []Received
	notNow    int
	// unsent is a result the server did not take (not 200), sent again at
	// the next poll instead of Idle.
	unsent   []byte
	lostMode bool
	// passcode: an iPhone or iPad has one until ClearPasscode.
	passcode bool
	// gone says why the device stopped talking to the server (erased,
	// unenrolled); empty while it is managed.
	gone string
}

// New returns a device that has yet to install its enrollment profile.
func New(cfg Config) *Device {
	return &Device{cfg: cfg, model: cfg.Model, wake: make(chan struct{}, 1), passcode: true}
}

// Model is what the device reports about itself.
func (d *Device) Model() Model { return d.model }

// UDID is the device's UDID.
func (d *Device) UDID() string { return d.model.UDID }

// PushToken, PushMagic and UnlockToken are what the device sent in
// TokenUpdate.
func (d *Device) PushToken() []byte   { return d.pushToken }
func (d *Device) PushMagic() string   { return d.pushMagic }
func (d *Device) UnlockToken() []byte { return d.unlockToken }

// Identity is the certificate SCEP issued to the device.
func (d *Device) Identity() *x509.Certificate { return d.cert }

// Profile is the enrollment profile the device installed.
func (d *Device) Profile() *Profile { return d.profile }

// Install installs an enrollment profile as a device does: it checks it,
// trusts its root certificates, gets its identity from the SCEP payload,
// then sends Authenticate and TokenUpdate. client fetches SCEP as the
// profile installer does; nil means one that trusts the Config's roots.
func (d *Device) Install(ctx context.Context, data []byte, client *http.Client) error {
	d.poll.Lock()
	defer d.poll.Unlock()
	if d.profile != nil {
		return fmt.Errorf("the device is already enrolled with %s", d.profile.Identifier)
	}
	p, err := ParseProfile(data)
	if err != nil {
		return fmt.Errorf("installing the profile: %w", err)
	}
	if err := p.checkEnrollment(d.cfg.AllowHTTP); err != nil {
		return fmt.Errorf("installing the profile: %w", err)
	}
	scepPayload, _ := p.identity()
	roots := d.trust(p.Roots)
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second, Transport: transport(&tls.Config{RootCAs: roots})}
	}
	key, cert, err := enrollSCEP(ctx, client, scepPayload)
	if err != nil {
		return fmt.Errorf("installing the profile: %w", err)
	}
	d.profile, d.mdm, d.key, d.cert = p, *p.MDM, key, cert
	d.mdmClient = &http.Client{Timeout: 60 * time.Second, Transport: transport(&tls.Config{
		RootCAs:      roots,
		Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}},
	})}
	if err := d.newPushIdentity(); err != nil {
		return err
	}
	if err := d.checkin(ctx, "Authenticate", d.authenticateMessage()); err != nil {
		d.profile = nil
		return fmt.Errorf("installing the profile: %w", err)
	}
	if err := d.checkin(ctx, "TokenUpdate", d.tokenUpdateMessage()); err != nil {
		d.profile = nil
		return fmt.Errorf("installing the profile: %w", err)
	}
	d.say("enrolled with %s (%s)", p.Identifier, d.mdm.ServerURL)
	return nil
}

// Enroll registers the device as its user does: it opens the registration
// page with the user's password or PIN (FetchProfile), then installs the
// enrollment profile the server answers with. client opens the page;
// nil means one that trusts the Config's roots.
func (d *Device) Enroll(ctx context.Context, client *http.Client, r Registration) error {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second, Transport: transport(&tls.Config{RootCAs: d.trust(nil)})}
	}
	profile, err := FetchProfile(ctx, client, d.model, r)
	if err != nil {
		return err
	}
	return d.Install(ctx, profile, nil)
}

// trust is the system's roots with the Config's and the profile's.
func (d *Device) trust(profileRoots []*x509.Certificate) *x509.CertPool {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	for _, c := range append(append([]*x509.Certificate{}, d.cfg.Roots...), profileRoots...) {
		pool.AddCert(c)
	}
	return pool
}

func transport(tc *tls.Config) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	tc.MinVersion = tls.VersionTLS12
	t.TLSClientConfig = tc
	return t
}

// Wake is a push: the device polls at once, or as soon as the poll under
// way ends. Pushes coalesce, as APNs's do.
func (d *Device) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run polls whenever the device is woken and, with every above zero, every
// that often, until ctx ends or the device is gone (erased, unenrolled or
// refused by the server). It returns nil then; an error only for a device
// that never enrolled.
func (d *Device) Run(ctx context.Context, every time.Duration) error {
	d.poll.Lock()
	enrolled := d.profile != nil
	d.poll.Unlock()
	if !enrolled {
		return fmt.Errorf("the device has not installed an enrollment profile")
	}
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-tick:
		}
		if _, err := d.Poll(ctx); err != nil && ctx.Err() == nil {
			d.say("polling failed: %v", err)
		}
		if why := d.Gone(); why != "" {
			d.say("%s: the device stops", why)
			return nil
		}
	}
}

// Poll asks the server for commands until it has none (an empty 200),
// answering each, and returns what it received in this poll. A 401 makes
// the device remove its enrollment, as a real one does.
func (d *Device) Poll(ctx context.Context) ([]Received, error) {
	d.poll.Lock()
	defer d.poll.Unlock()
	if d.profile == nil {
		return nil, fmt.Errorf("the device has not installed an enrollment profile")
	}
	if why := d.Gone(); why != "" {
		return nil, fmt.Errorf("the device is %s and no longer talks to the server", why)
	}
	body := d.takeUnsent()
	if body == nil {
		var err error
		if body, err = d.idle(); err != nil {
			return nil, err
		}
	}
	var got []Received
	for {
		status, reply, err := d.put(ctx, d.mdm.ServerURL, commandType, body)
		if err != nil {
			d.keepUnsent(body)
			return got, err
		}
		if status == http.StatusUnauthorized {
			d.setGone("unenrolled by the server (401)")
			return got, &StatusError{Status: status, Request: "a command poll"}
		}
		if status != http.StatusOK {
			d.keepUnsent(body)
			return got, &StatusError{Status: status, Request: "a command poll"}
		}
		if len(reply) == 0 {
			return got, nil
		}
		var after func(context.Context)
		var rec Received
		body, rec, after = d.answer(reply)
		got = append(got, rec)
		if after != nil {
			// The result goes out first; then the device acts and stops.
			status, _, err := d.put(ctx, d.mdm.ServerURL, commandType, body)
			if err == nil && status != http.StatusOK {
				err = &StatusError{Status: status, Request: "a command result"}
			}
			after(ctx)
			return got, err
		}
	}
}

func (d *Device) idle() ([]byte, error) {
	return marshal(map[string]any{"UDID": d.model.UDID, "Status": "Idle"})
}

func (d *Device) takeUnsent() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.unsent
	d.unsent = nil
	return b
}

// keepUnsent keeps a result the server did not take, to send again; an
// Idle needs no keeping.
func (d *Device) keepUnsent(body []byte) {
	if isIdle(body) {
		return
	}
	d.mu.Lock()
	d.unsent = body
	d.mu.Unlock()
}

// Unenroll is the user removing the enrollment profile in Settings: the
// device sends CheckOut when the MDM payload asks for it, and stops.
func (d *Device) Unenroll(ctx context.Context) error {
	d.poll.Lock()
	defer d.poll.Unlock()
	if d.profile == nil {
		return fmt.Errorf("the device has no enrollment profile to remove")
	}
	return d.removeEnrollment(ctx)
}

func (d *Device) removeEnrollment(ctx context.Context) error {
	d.setGone("unenrolled")
	if !d.mdm.CheckOutWhenRemoved {
		return nil
	}
	return d.checkin(ctx, "CheckOut", checkOut{MessageType: "CheckOut", Topic: d.mdm.Topic, UDID: d.model.UDID})
}

// AnswerNotNow makes the device answer NotNow to the next n commands, as
// a locked device does, so that the server has to send them again.
func (d *Device) AnswerNotNow(n int) {
	d.mu.Lock()
	d.notNow = n
	d.mu.Unlock()
}

// Received is every command the device received, oldest first.
func (d *Device) Received() []Received {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Received(nil), d.received...)
}

// Installed are the identifiers of the profiles installed through
// InstallProfile, in order.
func (d *Device) Installed() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ids []string
	for _, p := range d.installed {
		ids = append(ids, p.Identifier)
	}
	return ids
}

// LostMode says whether the device is in MDM lost mode.
func (d *Device) LostMode() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lostMode
}

// Gone says why the device stopped talking to the server; empty while it
// is managed.
func (d *Device) Gone() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gone
}

func (d *Device) setGone(why string) {
	d.mu.Lock()
	d.gone = why
	d.mu.Unlock()
}

func (d *Device) say(format string, args ...any) {
	if d.cfg.Out == nil {
		return
	}
	fmt.Fprintf(d.cfg.Out, "%s (%s %s): %s.\n", d.model.DeviceName, d.model.ProductName, d.model.UDID, fmt.Sprintf(format, args...))
}

// newUUID is a random UUID in the upper case Apple devices use.
func newUUID() string {
	var seed [32]byte
	rand.Read(seed[:])
	return strings.ToUpper(uuid(mrand.New(mrand.NewChaCha8(seed))))
}
