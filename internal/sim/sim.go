// Package sim simulates device agents over the device API (SPEC AGENT-2):
// each Device registers like an agent app, checks in with its details and
// carries out the commands it receives, so that the portal's actions
// complete end to end without a phone in hand. Between check-ins it waits
// on the API's long poll, so that an action reaches it within a second. It
// can be told to fail or ignore commands of some kinds, so that failures
// and expiry can be tried. It serves tests, demos and load tests.
package sim

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/portico-mdm/portico/internal/certfile"
	"github.com/portico-mdm/portico/internal/service"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/deviceapi"
)

// Config describes one simulated device.
type Config struct {
	// Server is Portico's base URL, such as http://127.0.0.1:8080.
	Server   string
	Platform portico.Platform
	Username string
	Password string
	// PIN is a registration PIN, given instead of the password.
	PIN string
	// Token is the token of the registration link the device was opened
	// with, naming the registration it completes.
	Token   string
	Details portico.DeviceDetails
	// DeviceToken is the token of a device registered earlier, such as one
	// seeded for a load test; such a device checks in without registering.
	DeviceToken string
	// Client makes the requests; nil means a client with a 30-second
	// timeout over http.DefaultTransport. Waits stay under its timeout.
	Client *http.Client
	// Fail holds the kinds of command the device answers with a failure,
	// as when its user declines; Ignore those it never answers, so that
	// they expire on the server.
	Fail, Ignore map[portico.CommandKind]bool
	// Out, when set, hears what the device does: each command it carries
	// out, and why it stops.
	Out io.Writer
}

// Validate refuses kinds of command that do not exist and a kind both
// failed and ignored.
func (c Config) Validate() error {
	for _, set := range []map[portico.CommandKind]bool{c.Fail, c.Ignore} {
		for k := range set {
			if _, err := portico.ParseCommandKind(string(k)); err != nil {
				return errors.New(portico.ErrorMessage(err))
			}
		}
	}
	for k := range c.Fail {
		if c.Ignore[k] {
			return fmt.Errorf("%s commands cannot be both failed and ignored", k)
		}
	}
	return nil
}

// ParseKinds reads a comma-separated list of command kinds, such as
// "lock,wipe", into a set for Config.Fail or Config.Ignore.
func ParseKinds(list string) (map[portico.CommandKind]bool, error) {
	set := map[portico.CommandKind]bool{}
	for name := range strings.SplitSeq(list, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		k, err := portico.ParseCommandKind(name)
		if err != nil {
			return nil, errors.New(portico.ErrorMessage(err))
		}
		set[k] = true
	}
	return set, nil
}

// Device is one simulated device. It is not safe for concurrent use: like
// an agent, it does one thing at a time.
type Device struct {
	cfg   Config
	id    int64
	token string
	// at is where locate finds the device: in a city, a few metres from
	// the last fix.
	at [2]float64
	// gone says what ended the device's agent, wiped or retired; empty
	// while it runs.
	gone string
}

// Error is the server's refusal of a request, with the message it gave.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

var cities = [][2]float64{
	{52.5200, 13.4050},   // Berlin
	{51.5074, -0.1278},   // London
	{40.7128, -74.0060},  // New York
	{37.7749, -122.4194}, // San Francisco
	{-33.8688, 151.2093}, // Sydney
	{35.6762, 139.6503},  // Tokyo
}

// New returns a device that has yet to register, unless cfg carries a
// device token.
func New(cfg Config) *Device {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	cfg.Server = strings.TrimSuffix(cfg.Server, "/")
	at := cities[rand.IntN(len(cities))]
	at[0] += (rand.Float64() - 0.5) / 10
	at[1] += (rand.Float64() - 0.5) / 10
	return &Device{cfg: cfg, token: cfg.DeviceToken, at: at}
}

// Details are what the device reports at each check-in.
func (d *Device) Details() portico.DeviceDetails { return d.cfg.Details }

// ID is the server's number for the device once it registered, else 0.
func (d *Device) ID() int64 { return d.id }

// Register registers the device for its user and keeps the token the
// server issues.
func (d *Device) Register(ctx context.Context) error {
	var res deviceapi.RegisterResponse
	err := d.post(ctx, "/register", http.StatusCreated, deviceapi.RegisterRequest{
		Username: d.cfg.Username, Password: d.cfg.Password, PIN: d.cfg.PIN, Token: d.cfg.Token,
		Platform: d.cfg.Platform, Device: d.cfg.Details,
	}, &res)
	if err != nil {
		return fmt.Errorf("registering: %w", err)
	}
	d.id, d.token = res.DeviceID, res.DeviceToken
	return nil
}

// Checkin reports the device's details, carries out every command it
// receives and reports each one's result, except those it ignores. It
// returns the commands it carried out; a checkin command brings in those
// queued meanwhile, too. A wipe or retire it carries out is its last: the
// agent is gone, and later check-ins fail.
func (d *Device) Checkin(ctx context.Context) ([]deviceapi.Command, error) {
	if d.token == "" {
		return nil, errors.New("checking in: the device has not registered")
	}
	if d.gone != "" {
		return nil, fmt.Errorf("checking in: the device was %s and its agent is gone", d.gone)
	}
	cmds, err := d.checkin(ctx)
	if err != nil {
		return nil, err
	}
	var done []deviceapi.Command
	for i := 0; i < len(cmds); i++ {
		c := cmds[i]
		if d.cfg.Ignore[c.Kind] {
			d.say("ignores %s command %d, as told", c.Kind, c.ID)
			continue
		}
		res := d.result(c)
		if c.Kind == portico.CommandCheckin && res.Status == portico.CommandDone {
			more, err := d.checkin(ctx)
			if err != nil {
				return done, err
			}
			cmds = append(cmds, more...)
		}
		path := "/commands/" + strconv.FormatInt(c.ID, 10) + "/result"
		if err := d.post(ctx, path, http.StatusOK, res, nil); err != nil {
			return done, fmt.Errorf("reporting the result of command %d: %w", c.ID, err)
		}
		done = append(done, c)
		d.say("%s command %d %s: %s", c.Kind, c.ID, res.Status, strings.TrimSuffix(res.Message, "."))
		if res.Status == portico.CommandDone && slices.Contains([]portico.CommandKind{portico.CommandWipe, portico.CommandRetire}, c.Kind) {
			d.gone = c.Kind.DoneLabel()
			return done, nil
		}
	}
	return done, nil
}

// Gone says whether the device was wiped or retired, which ended its agent.
func (d *Device) Gone() bool { return d.gone != "" }

// result is the device's answer to a command.
func (d *Device) result(c deviceapi.Command) portico.CommandResult {
	k := c.Kind
	msg, known := doneMessages[k]
	switch {
	case !known:
		// A kind newer than the agent fails at once rather than waiting
		// for an answer that never comes.
		return portico.CommandResult{Status: portico.CommandFailed, Message: fmt.Sprintf("This agent cannot carry out %q commands.", k)}
	case d.cfg.Fail[k]:
		return portico.CommandResult{Status: portico.CommandFailed, Message: "Simulated failure: the user declined."}
	case k == portico.CommandLocate:
		return portico.CommandResult{Status: portico.CommandDone, Message: msg, Data: d.locate()}
	case k == portico.CommandConfigure:
		return configure(c.Payload)
	}
	return portico.CommandResult{Status: portico.CommandDone, Message: msg}
}

// configure installs an email account configuration as a device would:
// it opens each identity's PKCS#12 with its password, and says what it
// installed, so that a test can see whether a private key came with it.
func configure(payload json.RawMessage) portico.CommandResult {
	var conf service.EmailConfiguration
	if err := json.Unmarshal(payload, &conf); err != nil || conf.Type != "email" {
		return portico.CommandResult{Status: portico.CommandFailed, Message: "This agent cannot read the configuration."}
	}
	var parts []string
	for _, id := range conf.Identities {
		p12, err := base64.StdEncoding.DecodeString(id.PKCS12)
		if err == nil {
			var opened *certfile.Identity
			if opened, err = certfile.Decode(p12, id.Password); err == nil {
				what := string(id.Purpose) + " identity with its private key"
				if opened.Key == nil {
					what = string(id.Purpose) + " certificate without a private key"
				}
				parts = append(parts, what)
				continue
			}
		}
		return portico.CommandResult{Status: portico.CommandFailed, Message: "The " + string(id.Purpose) + " certificate could not be opened."}
	}
	msg := fmt.Sprintf("Installed the email account %s on %s", conf.Username, conf.Server)
	if len(parts) > 0 {
		msg += " with the " + strings.Join(parts, " and the ")
	}
	return portico.CommandResult{Status: portico.CommandDone, Message: msg + "."}
}

var doneMessages = map[portico.CommandKind]string{
	portico.CommandLock:    "Locked.",
	portico.CommandUnlock:  "Passcode cleared.",
	portico.CommandLocate:  "Located.",
	portico.CommandWipe:    "Erasing all content and settings.",
	portico.CommandRetire:  "Unregistered: managed profiles, apps and certificates removed; personal data kept.",
	portico.CommandCheckin: "Checked in with fresh details.",
	// configure's message says what was installed.
	portico.CommandConfigure: "",
}

func (d *Device) checkin(ctx context.Context) ([]deviceapi.Command, error) {
	var res deviceapi.CheckinResponse
	if err := d.post(ctx, "/checkin", http.StatusOK, deviceapi.CheckinRequest{Device: d.cfg.Details}, &res); err != nil {
		return nil, fmt.Errorf("checking in: %w", err)
	}
	return res.Commands, nil
}

// locate returns the device's position, a few metres from the last one
// as a phone on a desk drifts between fixes.
func (d *Device) locate() json.RawMessage {
	d.at[0] += (rand.Float64() - 0.5) / 5000
	d.at[1] += (rand.Float64() - 0.5) / 5000
	b, _ := json.Marshal(portico.Location{
		Latitude:  d.at[0],
		Longitude: d.at[1],
		Accuracy:  float64(5 + rand.IntN(60)),
		At:        time.Now().UTC().Truncate(time.Second),
	})
	return b
}

// Wait waits on the server until the device is woken, because a command
// waits for it, or until the timeout passes; it says whether it was woken.
// The timeout is rounded down to whole seconds, at least one.
func (d *Device) Wait(ctx context.Context, timeout time.Duration) (bool, error) {
	var res deviceapi.WaitResponse
	req := deviceapi.WaitRequest{TimeoutSeconds: max(1, int(timeout/time.Second))}
	if err := d.post(ctx, "/wait", http.StatusOK, req, &res); err != nil {
		return false, fmt.Errorf("waiting: %w", err)
	}
	return res.Wake, nil
}

// Run checks in every interval, give or take a tenth, and whenever the
// server wakes it meanwhile, until ctx ends, when it returns nil. It also
// returns nil once it carried out a wipe or a retire, after saying so, as
// the agent is then gone. Failures are retried at the next check-in, as an
// agent would on a flaky network, except a refused token: the device was
// wiped or retired without its agent knowing, and Run ends with an error
// that says so.
func (d *Device) Run(ctx context.Context, every time.Duration) error {
	if d.token == "" {
		return errors.New("the device has not registered")
	}
	if err := d.cfg.Validate(); err != nil {
		return err
	}
	for {
		_, err := d.Checkin(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if d.gone != "" {
			d.say("%s: the agent stops", d.gone)
			return nil
		}
		var refused *Error
		if errors.As(err, &refused) && refused.Status == http.StatusUnauthorized {
			return fmt.Errorf("device %d (%s) stopped: the server no longer accepts its token, so it was wiped or retired: %w", d.id, d.cfg.Details.Name, err)
		}
		if !d.waitUntil(ctx, time.Now().Add(every+rand.N(every/10+1))) {
			return nil
		}
	}
}

// waitUntil waits on the server until the device is woken or the next
// check-in is due; it returns false when ctx ends first. When the server
// cannot be waited on (the network is down, or the server has no long
// poll) the device just sleeps until its check-in.
func (d *Device) waitUntil(ctx context.Context, next time.Time) bool {
	for {
		left := time.Until(next)
		if left < time.Second {
			return sleep(ctx, left)
		}
		woken, err := d.Wait(ctx, min(left, d.longestWait()))
		var refused *Error
		switch {
		case ctx.Err() != nil:
			return false
		case woken, errors.As(err, &refused) && refused.Status == http.StatusUnauthorized:
			return true // a refused token ends the device at its check-in
		case err != nil:
			return sleep(ctx, time.Until(next))
		}
	}
}

// longestWait keeps a wait well under the client's timeout, which counts
// the whole request.
func (d *Device) longestWait() time.Duration {
	longest := 120 * time.Second
	if t := d.cfg.Client.Timeout; t > 0 {
		longest = min(longest, t*3/4)
	}
	return longest
}

// sleep sleeps for d unless ctx ends first, and says whether it did not.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// say tells Out what the device did.
func (d *Device) say(format string, args ...any) {
	if d.cfg.Out == nil {
		return
	}
	who := d.cfg.Details.Name
	if d.id != 0 { // a device seeded with its token does not know its id
		who = fmt.Sprintf("%s (device %d)", who, d.id)
	}
	fmt.Fprintf(d.cfg.Out, "%s: %s.\n", who, fmt.Sprintf(format, args...))
}

// post sends in as JSON to the API path with the device's token, if it has
// one, and decodes the answer into out unless out is nil. An answer with
// another status than want is an *Error.
func (d *Device) post(ctx context.Context, path string, want int, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.cfg.Server+deviceapi.Prefix+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if d.token != "" {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
	res, err := d.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	// Reading to the end lets the connection be reused.
	defer func() {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}()
	if res.StatusCode != want {
		return responseError(res)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("the server's answer is not the JSON expected: %w", err)
	}
	return nil
}

func responseError(res *http.Response) *Error {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	e := &Error{Status: res.StatusCode}
	if json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&body) == nil && body.Error.Message != "" {
		e.Code, e.Message = body.Error.Code, body.Error.Message
	} else {
		e.Message = "The server answered " + res.Status + "."
	}
	return e
}
