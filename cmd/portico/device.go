package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/applesim"
	"github.com/portico-mdm/portico/internal/sim"
)

func (c *cli) device(ctx context.Context, g globals, args []string) error {
	if len(args) == 0 || args[0] != "sim" {
		return usageError("say `device sim --server URL --platform ios --user U --password P`")
	}
	fs := c.flags("device sim")
	var server, platform, user, password, pin, token, ca, fail, ignore, deviceToken, protocol string
	var count, notNow int
	var recoverPasscode, supervised bool
	var every time.Duration
	env := envDefaults{c: c}
	fs.StringVar(&protocol, "protocol", c.env("protocol", "agent"), "agent: the device API, as Portico's agent app speaks it; apple: Apple's MDM protocol, as an iPhone, iPad or Mac speaks it (PORTICO_PROTOCOL)")
	fs.BoolVar(&supervised, "supervised", false, "with --protocol apple: the devices are supervised, so that lost mode works")
	fs.IntVar(&notNow, "not-now", 0, "with --protocol apple: each device answers NotNow to its first N commands, so that the server must send them again")
	fs.StringVar(&server, "server", c.env("server", "http://127.0.0.1:8080"), "Portico's URL (PORTICO_SERVER)")
	fs.StringVar(&ca, "ca", c.env("ca", ""), "PEM file of the certificates to trust for an https:// --server, such as serve's self-signed tls/cert.pem (PORTICO_CA)")
	fs.StringVar(&platform, "platform", c.env("platform", "ios"), "ios, ipados, android, macos or windows (PORTICO_PLATFORM)")
	fs.StringVar(&user, "user", c.env("user", ""), "user name to register the devices for (PORTICO_USER)")
	fs.StringVar(&password, "password", c.env("password", ""), "the user's password (PORTICO_PASSWORD)")
	fs.StringVar(&pin, "pin", c.env("pin", ""), "a registration PIN from the portal, instead of the password (PORTICO_PIN)")
	fs.StringVar(&token, "token", c.env("token", ""), "the token of a registration link (the t= of /go?t=…), or the whole link (PORTICO_TOKEN)")
	fs.IntVar(&count, "count", env.int("count", 1), "how many devices to simulate (PORTICO_COUNT)")
	fs.DurationVar(&every, "every", env.duration("every", 30*time.Second), "check-in interval; meanwhile the devices wait to be woken; 0 registers, checks in once and exits (PORTICO_EVERY)")
	fs.StringVar(&fail, "fail", c.env("fail", ""), "comma-separated command kinds to answer with a failure, such as lock,wipe (PORTICO_FAIL)")
	fs.StringVar(&ignore, "ignore", c.env("ignore", ""), "comma-separated command kinds never to answer, so that they expire (PORTICO_IGNORE)")
	fs.BoolVar(&recoverPasscode, "recover-passcode", false, "recover the secure apps passcode with --password, or with --pin as the one-time PIN from the portal, print the answer and exit")
	fs.StringVar(&deviceToken, "device-token", c.env("device-token", ""), "with --recover-passcode: the token of a device registered earlier, used instead of registering one (PORTICO_DEVICE_TOKEN)")
	if env.err != nil {
		return env.err
	}
	if _, err := parse(fs, args[1:]); err != nil {
		return err
	}
	p, err := portico.ParsePlatform(platform)
	if err != nil {
		return usageError("--platform: " + portico.ErrorMessage(err))
	}
	if user == "" || (password == "") == (pin == "") {
		return usageError("--user and one of --password and --pin are required")
	}
	if token, err = registrationToken(token); err != nil {
		return err
	}
	if token != "" && count != 1 {
		return usageError("a registration link registers one device: --token goes with --count 1")
	}
	if count < 1 || count > 100000 {
		return usageError("--count is from 1 to 100000")
	}
	if every < 0 {
		return usageError("--every cannot be negative")
	}
	switch protocol {
	case "apple":
		if fail != "" || ignore != "" || recoverPasscode || deviceToken != "" {
			return usageError("--fail, --ignore, --recover-passcode and --device-token go with --protocol agent")
		}
		if notNow < 0 {
			return usageError("--not-now cannot be negative")
		}
		reg := applesim.Registration{Server: server, Username: user, Password: password, PIN: pin, Token: token}
		return c.appleSim(ctx, p, reg, ca, count, every, supervised, notNow)
	case "agent":
		if supervised || notNow != 0 {
			return usageError("--supervised and --not-now go with --protocol apple")
		}
	default:
		return usageError(fmt.Sprintf("--protocol %q is neither agent nor apple", protocol))
	}
	base := sim.Config{
		Server: server, Platform: p, Username: user, Password: password, PIN: pin, Token: token,
		// The devices run at once; each line they say must stay whole.
		Out: &lockedWriter{w: c.stdout},
	}
	if base.Fail, err = sim.ParseKinds(fail); err != nil {
		return usageError("--fail: " + err.Error())
	}
	if base.Ignore, err = sim.ParseKinds(ignore); err != nil {
		return usageError("--ignore: " + err.Error())
	}
	if err := base.Validate(); err != nil {
		return usageError(err.Error())
	}
	if base.Client, err = trusting(ca); err != nil {
		return err
	}
	if deviceToken != "" && !recoverPasscode {
		return usageError("--device-token goes with --recover-passcode")
	}
	if recoverPasscode {
		return c.recoverPasscode(ctx, base, deviceToken, count)
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	devices := make([]*sim.Device, count)
	for i := range devices {
		cfg := base
		cfg.Details = sim.Profile(p, i, rng)
		d := sim.New(cfg)
		if err := d.Register(ctx); err != nil {
			return fmt.Errorf("registering device %d of %d: %w", i+1, count, err)
		}
		fmt.Fprintf(c.stdout, "Registered %s (%s) for %s as device %d.\n", d.Details().Name, d.Details().Model, user, d.ID())
		devices[i] = d
	}
	if every == 0 {
		for _, d := range devices {
			if _, err := d.Checkin(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	fmt.Fprintf(c.stdout, "Checking in every %s; stop with Ctrl-C.\n", every)
	var wg sync.WaitGroup
	errs := make([]error, len(devices))
	for i, d := range devices {
		wg.Go(func() { errs[i] = d.Run(ctx, every) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// lockedWriter writes one whole Write at a time.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// trusting returns a client that trusts the certificates in the PEM file,
// so that the simulator can speak to the self-signed HTTPS of a first run;
// with no file it returns nil, the simulator's default client.
func trusting(caFile string) (*http.Client, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, usageError(fmt.Sprintf("--ca %s has no PEM certificate", caFile))
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: transport, Timeout: 30 * time.Second}, nil
}

// registrationToken accepts the token of a registration link or the whole
// link, as a person would copy it.
func registrationToken(s string) (string, error) {
	if !strings.Contains(s, "?") {
		return s, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Query().Get("t") == "" {
		return "", usageError(fmt.Sprintf("--token %q is neither a token nor a registration link with ?t=", s))
	}
	return u.Query().Get("t"), nil
}
