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
			var loc sim.Location
			if err := json.Unmarshal(res.Data, &loc); err != nil {
				t.Fatalf("locate answered %s: %v", res.Data, err)
			}
			if loc.Latitude < -90 || loc.Latitude > 90 || loc.Longitude < -180 || loc.Longitude > 180 ||
				(loc.Latitude == 0 && loc.Longitude == 0) || time.Since(loc.LocatedAt) > time.Minute || loc.AccuracyM <= 0 {
				t.Errorf("location %+v", loc)
			}
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
