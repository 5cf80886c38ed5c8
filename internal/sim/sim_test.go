package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/deviceapi/deviceapitest"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/sim"
)

func TestProfileIsValidAndRealistic(t *testing.T) {
	tests := []struct {
		platform      portico.Platform
		manufacturers []string
		model         *regexp.Regexp
		version       *regexp.Regexp
		// sim says whether the device has a carrier, a phone number and an
		// IMEI: always, never, or with its cellular model.
		sim string
	}{
		{portico.PlatformIOS, []string{"Apple"}, regexp.MustCompile(`^iPhone `), regexp.MustCompile(`^1[78]\.\d+\.\d+$`), "always"},
		{portico.PlatformIPadOS, []string{"Apple"}, regexp.MustCompile(`^iPad .* Wi-Fi( \+ Cellular)?$`), regexp.MustCompile(`^1[78]\.\d+\.\d+$`), "cellular"},
		{portico.PlatformAndroid, []string{"Google", "Samsung"}, regexp.MustCompile(`^(Pixel|Galaxy) `), regexp.MustCompile(`^1[345]\.0\.0$`), "always"},
		{portico.PlatformMacOS, []string{"Apple"}, regexp.MustCompile(`^MacBook (Pro|Air) \(`), regexp.MustCompile(`^1[345]\.\d+\.\d+$`), "never"},
		{portico.PlatformWindows, []string{"Dell", "Lenovo"}, regexp.MustCompile(`^(Latitude|XPS|Precision|ThinkPad) `), regexp.MustCompile(`^10\.0\.\d{5}$`), "never"},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tt := range tests {
		t.Run(string(tt.platform), func(t *testing.T) {
			cellular := 0
			for i := range 200 {
				d := sim.Profile(tt.platform, i, rng)
				if err := d.Validate(); err != nil {
					t.Fatalf("%+v: %v", d, err)
				}
				if d.Name == "" || d.Serial == "" {
					t.Errorf("%+v has no name or serial", d)
				}
				if !strings.Contains(strings.Join(tt.manufacturers, ","), d.Manufacturer) || d.Manufacturer == "" {
					t.Errorf("manufacturer %q, want one of %q", d.Manufacturer, tt.manufacturers)
				}
				if !tt.model.MatchString(d.Model) || !tt.version.MatchString(d.OSVersion) {
					t.Errorf("model %q, OS version %q", d.Model, d.OSVersion)
				}
				hasSIM := d.IMEI != "" && d.PhoneNumber != "" && d.Carrier != ""
				if !hasSIM && (d.IMEI != "" || d.PhoneNumber != "" || d.Carrier != "") {
					t.Errorf("%+v has part of a SIM", d)
				}
				if hasSIM {
					cellular++
					if !validIMEI(d.IMEI) {
						t.Errorf("IMEI %q is not 15 digits with a Luhn check digit", d.IMEI)
					}
				}
				switch want := tt.sim; {
				case want == "always" && !hasSIM, want == "never" && hasSIM:
					t.Errorf("%+v: SIM %v, want %s", d, hasSIM, want)
				case want == "cellular" && hasSIM != strings.HasSuffix(d.Model, "Cellular"):
					t.Errorf("%+v: SIM %v with model %q", d, hasSIM, d.Model)
				}
			}
			if tt.sim == "cellular" && (cellular == 0 || cellular == 200) {
				t.Errorf("%d of 200 have a SIM; want Wi-Fi and cellular models both", cellular)
			}
		})
	}
}

func validIMEI(s string) bool {
	if len(s) != 15 {
		return false
	}
	sum := 0
	for i, r := range s {
		if r < '0' || r > '9' {
			return false
		}
		n := int(r - '0')
		if i%2 == 1 {
			if n *= 2; n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return sum%10 == 0
}

func TestValidIMEI(t *testing.T) {
	// 490154203237518 is the example IMEI of 3GPP TS 23.003.
	if !validIMEI("490154203237518") || validIMEI("490154203237519") {
		t.Fatal("validIMEI is wrong")
	}
}

// server runs the real API behind a front that records the results devices
// report and can fail every request or refuse every token.
type server struct {
	*servertest.Env
	ts      *httptest.Server
	failing atomic.Bool
	revoked atomic.Bool
	// before, when set, sees each request first.
	before atomic.Pointer[func(*http.Request)]

	mu      sync.Mutex
	results map[string]portico.CommandResult
}

func newServer(t *testing.T) *server {
	s := &server{Env: servertest.New(t), results: map[string]portico.CommandResult{}}
	s.AddUser("alice", false)
	s.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := s.before.Load(); f != nil {
			(*f)(r)
		}
		if s.failing.Load() {
			http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
			return
		}
		if s.revoked.Load() && r.Header.Get("Authorization") != "" {
			r.Header.Set("Authorization", "Bearer revoked")
		}
		if strings.HasSuffix(r.URL.Path, "/result") {
			b, _ := io.ReadAll(r.Body)
			var res portico.CommandResult
			json.Unmarshal(b, &res)
			s.mu.Lock()
			s.results[r.URL.Path] = res
			s.mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		s.Server.ServeHTTP(w, r)
	}))
	t.Cleanup(s.ts.Close)
	return s
}

func (s *server) device(p portico.Platform, password string) *sim.Device {
	return sim.New(sim.Config{
		Server: s.ts.URL + "/", Platform: p, Username: "alice", Password: password,
		Details: sim.Profile(p, 0, rand.New(rand.NewPCG(3, 4))),
	})
}

func TestRegisterRefusedWithTheServersMessage(t *testing.T) {
	s := newServer(t)
	err := s.device(portico.PlatformAndroid, "wrong").Register(context.Background())
	if err == nil || err.Error() != "registering: The user name or password is wrong." {
		t.Fatalf("error %v", err)
	}
	var e *sim.Error
	if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || e.Code != portico.EUNAUTHENTICATED {
		t.Errorf("error %#v, want the server's 401", e)
	}

	s.failing.Store(true)
	err = s.device(portico.PlatformAndroid, servertest.Password("alice")).Register(context.Background())
	if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "503") {
		t.Errorf("error from a server without a JSON body: %v", err)
	}
}

func TestCheckinCarriesOutCommands(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	for _, p := range portico.Platforms {
		t.Run(string(p), func(t *testing.T) {
			d := s.device(p, servertest.Password("alice"))
			if _, err := d.Checkin(ctx); err == nil {
				t.Error("an unregistered device checked in")
			}
			if err := d.Register(ctx); err != nil {
				t.Fatal(err)
			}
			dev, err := s.Service.Device(s.Op, d.ID())
			if err != nil {
				t.Fatal(err)
			}
			if dev.Platform != p || dev.Details != d.Details() {
				t.Errorf("registered as %s with %+v, want %s with %+v", dev.Platform, dev.Details, p, d.Details())
			}

			var queued []*portico.Command
			for _, k := range []portico.CommandKind{portico.CommandLock, portico.CommandLocate, portico.CommandCheckin, portico.CommandUnlock, "selfdestruct"} {
				queued = append(queued, deviceapitest.Queue(t, s.Env, d.ID(), k))
			}
			done, err := d.Checkin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(done) != len(queued) {
				t.Fatalf("carried out %+v, want %d commands", done, len(queued))
			}
			for _, q := range queued {
				want := portico.CommandDone
				if q.Kind == "selfdestruct" {
					want = portico.CommandFailed
				}
				if got := deviceapitest.Status(t, s.Env, q); got != want {
					t.Errorf("%s command is %s, want %s", q.Kind, got, want)
				}
			}

			s.mu.Lock()
			res := s.results["/api/device/v1/commands/"+itoa(queued[1].ID)+"/result"]
			s.mu.Unlock()
			checkLocation(t, res.Data)
		})
	}
}

// A command queued while a checkin command is carried out arrives with the
// check-in it asks for.
func TestCheckinCommandChecksInAgain(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	d := s.device(portico.PlatformIOS, servertest.Password("alice"))
	if err := d.Register(ctx); err != nil {
		t.Fatal(err)
	}
	deviceapitest.Queue(t, s.Env, d.ID(), portico.CommandCheckin)
	var checkins atomic.Int32
	s.before.Store(new(func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/checkin") && checkins.Add(1) == 2 {
			deviceapitest.Queue(t, s.Env, d.ID(), portico.CommandLock)
		}
	}))
	done, err := d.Checkin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 2 || done[0].Kind != portico.CommandCheckin || done[1].Kind != portico.CommandLock || checkins.Load() != 2 {
		t.Errorf("carried out %+v in %d check-ins", done, checkins.Load())
	}
}

func TestRunRetriesUntilTheTokenIsRevoked(t *testing.T) {
	s := newServer(t)
	d := s.device(portico.PlatformWindows, servertest.Password("alice"))
	if err := d.Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.failing.Store(true)
	errc := make(chan error, 1)
	go func() { errc <- d.Run(context.Background(), 10*time.Millisecond) }()

	time.Sleep(50 * time.Millisecond)
	lock := deviceapitest.Queue(t, s.Env, d.ID(), portico.CommandLock)
	s.failing.Store(false) // the network is back: the next check-in collects the lock
	for deviceapitest.Status(t, s.Env, lock) != portico.CommandDone {
		select {
		case err := <-errc:
			t.Fatalf("Run ended on a transient failure: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}

	s.revoked.Store(true)
	select {
	case err := <-errc:
		var e *sim.Error
		if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || !strings.Contains(err.Error(), "wiped or retired") {
			t.Errorf("Run ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run goes on with a revoked token")
	}
}

func TestRunEndsWithItsContext(t *testing.T) {
	s := newServer(t)
	d := s.device(portico.PlatformMacOS, servertest.Password("alice"))
	if err := d.Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := d.Run(ctx, time.Hour); err != nil {
		t.Errorf("Run ended with %v, want nil", err)
	}
	if err := sim.New(sim.Config{Server: s.ts.URL}).Run(ctx, time.Second); err == nil {
		t.Error("an unregistered device runs")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// checkLocation checks that data is a location a phone could report now.
func checkLocation(t *testing.T, data json.RawMessage) portico.Location {
	t.Helper()
	var loc portico.Location
	if err := json.Unmarshal(data, &loc); err != nil {
		t.Fatalf("locate answered %s: %v", data, err)
	}
	if err := loc.Validate(); err != nil || (loc.Latitude == 0 && loc.Longitude == 0) || time.Since(loc.At) > time.Minute || loc.Accuracy <= 0 {
		t.Errorf("location %+v (%v)", loc, err)
	}
	return loc
}

// running is a simulated device in Run, checking in once an hour so that
// only wake-ups make it collect commands within a test.
type running struct {
	*sim.Device
	cancel context.CancelFunc
	ended  chan error
}

func (s *server) run(t *testing.T, cfg sim.Config) *running {
	t.Helper()
	cfg.Server, cfg.Username, cfg.Password = s.ts.URL, "alice", servertest.Password("alice")
	cfg.Platform, cfg.Details = portico.PlatformAndroid, sim.Profile(portico.PlatformAndroid, 0, rand.New(rand.NewPCG(5, 6)))
	d := sim.New(cfg)
	if err := d.Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Device: d, cancel: cancel, ended: make(chan error, 1)}
	go func() { r.ended <- d.Run(ctx, time.Hour) }()
	t.Cleanup(func() {
		cancel()
		<-r.ended
	})
	return r
}

// wakeUntil wakes the device until done holds, which must happen within a
// few seconds. It wakes more than once because the first wake-up may come
// before the device waits.
func (s *server) wakeUntil(t *testing.T, deviceID int64, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatal("the device did not act on its wake-up within 5 seconds")
		}
		s.Wake.Publish(context.Background(), deviceID)
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRunCarriesOutEveryCommandWhenWoken(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		kind         portico.CommandKind
		fail, ignore bool
		status       portico.CommandStatus
		message      string
		// stops says whether the agent is gone afterwards.
		stops bool
	}{
		{portico.CommandLock, false, false, portico.CommandDone, "Locked.", false},
		{portico.CommandUnlock, false, false, portico.CommandDone, "Passcode cleared.", false},
		{portico.CommandLocate, false, false, portico.CommandDone, "Located.", false},
		{portico.CommandCheckin, false, false, portico.CommandDone, "Checked in with fresh details.", false},
		{portico.CommandWipe, false, false, portico.CommandDone, "Erasing all content and settings.", true},
		{portico.CommandRetire, false, false, portico.CommandDone, "Unregistered: managed profiles, apps and certificates removed; personal data kept.", true},
		{portico.CommandLock, true, false, portico.CommandFailed, "Simulated failure: the user declined.", false},
		{portico.CommandLocate, true, false, portico.CommandFailed, "Simulated failure: the user declined.", false},
		{portico.CommandWipe, true, false, portico.CommandFailed, "Simulated failure: the user declined.", false},
		{portico.CommandUnlock, false, true, portico.CommandSent, "", false},
		{portico.CommandWipe, false, true, portico.CommandSent, "", false},
	}
	for _, tt := range tests {
		name := string(tt.kind)
		cfg := sim.Config{}
		switch {
		case tt.fail:
			name += ", failing"
			cfg.Fail = map[portico.CommandKind]bool{tt.kind: true}
		case tt.ignore:
			name += ", ignoring"
			cfg.Ignore = map[portico.CommandKind]bool{tt.kind: true}
		}
		t.Run(name, func(t *testing.T) {
			var out syncBuffer
			cfg.Out = &out
			d := s.run(t, cfg)
			queued := deviceapitest.Queue(t, s.Env, d.ID(), tt.kind)
			s.wakeUntil(t, d.ID(), func() bool { return deviceapitest.Status(t, s.Env, queued) != portico.CommandQueued })
			if tt.status != portico.CommandSent {
				s.wakeUntil(t, d.ID(), func() bool { return deviceapitest.Status(t, s.Env, queued) != portico.CommandSent })
			} else {
				time.Sleep(200 * time.Millisecond) // time to answer, if it would
			}
			c := deviceapitest.Command(t, s.Env, queued)
			if c.Status != tt.status || c.Result != tt.message {
				t.Errorf("the command is %s with %q, want %s with %q", c.Status, c.Result, tt.status, tt.message)
			}
			if tt.kind == portico.CommandLocate && tt.status == portico.CommandDone {
				s.mu.Lock()
				sent := s.results["/api/device/v1/commands/"+itoa(c.ID)+"/result"]
				s.mu.Unlock()
				checkLocation(t, sent.Data)
				// The store keeps the data once it has a place for it.
				if len(c.Data) > 0 {
					if loc, ok := c.Location(); !ok || loc != checkLocation(t, sent.Data) {
						t.Errorf("the stored location %s differs from the one sent, %s", c.Data, sent.Data)
					}
				}
			}

			select {
			case err := <-d.ended:
				if !tt.stops || err != nil {
					t.Errorf("Run ended with %v", err)
				}
				d.ended <- err // for the cleanup
			case <-time.After(200 * time.Millisecond):
				if tt.stops {
					t.Errorf("Run goes on after a %s", tt.kind)
				}
			}
			if d.Gone() != tt.stops {
				t.Errorf("Gone is %v", d.Gone())
			}
			wantSaid := string(tt.kind) + " command " + itoa(c.ID) + " " + string(tt.status)
			if tt.ignore {
				wantSaid = "ignores " + string(tt.kind) + " command " + itoa(c.ID)
			}
			if said := out.String(); !strings.Contains(said, wantSaid) || tt.stops != strings.Contains(said, "the agent stops") {
				t.Errorf("the device said %q, want %q", said, wantSaid)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer that the device's goroutine and the test
// may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestLocateMovesALittle(t *testing.T) {
	s := newServer(t)
	d := s.device(portico.PlatformIOS, servertest.Password("alice"))
	if err := d.Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	var fixes []portico.Location
	for range 3 {
		c := deviceapitest.Queue(t, s.Env, d.ID(), portico.CommandLocate)
		if _, err := d.Checkin(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		data := s.results["/api/device/v1/commands/"+itoa(c.ID)+"/result"].Data
		s.mu.Unlock()
		fixes = append(fixes, checkLocation(t, data))
	}
	for i := 1; i < len(fixes); i++ {
		dLat, dLon := fixes[i].Latitude-fixes[i-1].Latitude, fixes[i].Longitude-fixes[i-1].Longitude
		// 0.001 degrees is about 100 metres.
		if (dLat == 0 && dLon == 0) || dLat > 0.001 || dLat < -0.001 || dLon > 0.001 || dLon < -0.001 {
			t.Errorf("fix %d moved by %f, %f degrees; want a few metres", i, dLat, dLon)
		}
	}
}

// After a wipe the agent is gone: it neither runs nor checks in again.
func TestWipedDeviceIsGone(t *testing.T) {
	s := newServer(t)
	d := s.device(portico.PlatformIOS, servertest.Password("alice"))
	if err := d.Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	wipe := deviceapitest.Queue(t, s.Env, d.ID(), portico.CommandWipe)
	lock := deviceapitest.Queue(t, s.Env, d.ID(), portico.CommandLock)
	done, err := d.Checkin(context.Background())
	if err != nil || len(done) != 1 || done[0].ID != wipe.ID {
		t.Fatalf("carried out %+v (%v), want the wipe alone", done, err)
	}
	if s := deviceapitest.Status(t, s.Env, lock); s != portico.CommandSent {
		t.Errorf("the lock after the wipe is %s, want sent and never answered", s)
	}
	if _, err := d.Checkin(context.Background()); err == nil || !strings.Contains(err.Error(), "wiped") {
		t.Errorf("a wiped device checked in: %v", err)
	}
	if err := d.Run(context.Background(), time.Hour); err != nil {
		t.Errorf("Run of a wiped device: %v, want nil", err)
	}
}

func TestFailAndIgnoreAreValidated(t *testing.T) {
	tests := []struct {
		name, fail, ignore string
		err                string
	}{
		{"none", "", "", ""},
		{"some of each", "lock, wipe", "locate,retire,", ""},
		{"every kind", "lock,unlock,locate,wipe,retire,checkin", "", ""},
		{"an unknown kind", "lock,selfdestruct", "", `"selfdestruct" is not an action`},
		{"an unknown kind to ignore", "", "Lock", `"Lock" is not an action`},
		{"both", "lock,wipe", "wipe", "wipe commands cannot be both failed and ignored"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fail, errFail := sim.ParseKinds(tt.fail)
			ignore, errIgnore := sim.ParseKinds(tt.ignore)
			err := errors.Join(errFail, errIgnore)
			if err == nil {
				err = sim.Config{Fail: fail, Ignore: ignore}.Validate()
			}
			if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("error %v, want %q", err, tt.err)
			}
		})
	}
	err := sim.Config{Fail: map[portico.CommandKind]bool{"selfdestruct": true}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "the actions are lock, unlock") {
		t.Errorf("Validate let an unknown kind through: %v", err)
	}
}
