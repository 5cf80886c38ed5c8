// Package sim simulates device agents over the device API (SPEC AGENT-2):
// each Device registers like an agent app, checks in with its details and
// carries out the commands it receives, so that the portal's actions
// complete end to end without a phone in hand. It serves tests, demos and
// load tests.
package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
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
	// timeout over http.DefaultTransport.
	Client *http.Client
}

// Device is one simulated device. It is not safe for concurrent use: like
// an agent, it does one thing at a time.
type Device struct {
	cfg   Config
	id    int64
	token string
	// home is where locate finds the device, give or take a few metres.
	home [2]float64
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
	home := cities[rand.IntN(len(cities))]
	home[0] += (rand.Float64() - 0.5) / 10
	home[1] += (rand.Float64() - 0.5) / 10
	return &Device{cfg: cfg, token: cfg.DeviceToken, home: home}
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
// receives and reports each one's result. It returns the commands it
// carried out; a checkin command brings in those queued meanwhile, too.
func (d *Device) Checkin(ctx context.Context) ([]deviceapi.Command, error) {
	if d.token == "" {
		return nil, errors.New("checking in: the device has not registered")
	}
	cmds, err := d.checkin(ctx)
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(cmds); i++ {
		c := cmds[i]
		msg, known := doneMessages[c.Kind]
		res := portico.CommandResult{Status: portico.CommandDone, Message: msg}
		if !known {
			// A kind newer than the agent fails at once rather than waiting
			// for an answer that never comes.
			res = portico.CommandResult{Status: portico.CommandFailed, Message: fmt.Sprintf("This agent cannot carry out %q commands.", c.Kind)}
		}
		switch c.Kind {
		case portico.CommandCheckin:
			more, err := d.checkin(ctx)
			if err != nil {
				return cmds[:i], err
			}
			cmds = append(cmds, more...)
		case portico.CommandLocate:
			res.Data = d.locate()
		}
		path := "/commands/" + strconv.FormatInt(c.ID, 10) + "/result"
		if err := d.post(ctx, path, http.StatusOK, res, nil); err != nil {
			return cmds[:i], fmt.Errorf("reporting the result of command %d: %w", c.ID, err)
		}
	}
	return cmds, nil
}

var doneMessages = map[portico.CommandKind]string{
	portico.CommandLock:    "The device is locked.",
	portico.CommandUnlock:  "The passcode is cleared.",
	portico.CommandLocate:  "The device is located.",
	portico.CommandWipe:    "The device is erasing all content and settings.",
	portico.CommandRetire:  "Management is removed; personal data stays.",
	portico.CommandCheckin: "The device checked in with fresh details.",
}

func (d *Device) checkin(ctx context.Context) ([]deviceapi.Command, error) {
	var res deviceapi.CheckinResponse
	if err := d.post(ctx, "/checkin", http.StatusOK, deviceapi.CheckinRequest{Device: d.cfg.Details}, &res); err != nil {
		return nil, fmt.Errorf("checking in: %w", err)
	}
	return res.Commands, nil
}

// Location is what a device answers to a locate command.
type Location struct {
	Latitude  float64   `json:"latitude"`
	Longitude float64   `json:"longitude"`
	AccuracyM int       `json:"accuracy_m"`
	LocatedAt time.Time `json:"located_at"`
}

func (d *Device) locate() json.RawMessage {
	b, _ := json.Marshal(Location{
		Latitude:  d.home[0] + (rand.Float64()-0.5)/500,
		Longitude: d.home[1] + (rand.Float64()-0.5)/500,
		AccuracyM: 5 + rand.IntN(60),
		LocatedAt: time.Now().UTC().Truncate(time.Second),
	})
	return b
}

// Run checks in every interval, give or take a tenth, until ctx ends, when
// it returns nil. Failures are retried at the next check-in, as an agent
// would on a flaky network, except a refused token: the device was wiped or
// retired, and Run ends with an error that says so.
func (d *Device) Run(ctx context.Context, every time.Duration) error {
	if d.token == "" {
		return errors.New("the device has not registered")
	}
	for {
		_, err := d.Checkin(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var refused *Error
		if errors.As(err, &refused) && refused.Status == http.StatusUnauthorized {
			return fmt.Errorf("device %d (%s) stopped: the server no longer accepts its token, so it was wiped or retired: %w", d.id, d.cfg.Details.Name, err)
		}
		t := time.NewTimer(every + rand.N(every/10+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
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
