package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/store"
)

// runCLI runs a command in-process with env as its whole environment.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}
	code = c.run(context.Background(), args)
	return code, out.String(), errb.String()
}

// TestFlagsFromEnvironment checks the promise of the usage text: every flag
// also reads PORTICO_<FLAG>, the command line wins, and a value that does not
// parse is refused naming its variable.
func TestFlagsFromEnvironment(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stderr string
	}{
		{"sim: a count that is not a number", map[string]string{"PORTICO_COUNT": "many"}, []string{"device", "sim"}, 2, `PORTICO_COUNT="many" is not a whole number`},
		{"sim: an interval that is not a duration", map[string]string{"PORTICO_EVERY": "soon"}, []string{"device", "sim"}, 2, `PORTICO_EVERY="soon" is not a duration`},
		{"sim: the count from the environment", map[string]string{"PORTICO_COUNT": "0", "PORTICO_USER": "alice", "PORTICO_PASSWORD": "p"}, []string{"device", "sim"}, 2, "--count is from 1 to 100000"},
		{"sim: a negative interval from the environment", map[string]string{"PORTICO_EVERY": "-1s", "PORTICO_USER": "alice", "PORTICO_PASSWORD": "p"}, []string{"device", "sim"}, 2, "--every cannot be negative"},
		{"sim: the platform from the environment", map[string]string{"PORTICO_PLATFORM": "blackberry"}, []string{"device", "sim"}, 2, `--platform: "blackberry" is not a platform`},
		{"sim: the command line wins", map[string]string{"PORTICO_PLATFORM": "blackberry"}, []string{"device", "sim", "--platform", "ios"}, 2, "--user and one of --password and --pin are required"},
		{"sim: a kind to fail that does not exist", map[string]string{"PORTICO_USER": "alice", "PORTICO_PASSWORD": "p"}, []string{"device", "sim", "--fail", "lock,selfdestruct"}, 2, `--fail: "selfdestruct" is not an action`},
		{"sim: a kind to ignore from the environment", map[string]string{"PORTICO_USER": "alice", "PORTICO_PASSWORD": "p", "PORTICO_IGNORE": "explode"}, []string{"device", "sim"}, 2, `--ignore: "explode" is not an action`},
		{"sim: a kind both failed and ignored", map[string]string{"PORTICO_USER": "alice", "PORTICO_PASSWORD": "p", "PORTICO_FAIL": "wipe"}, []string{"device", "sim", "--ignore", "locate,wipe"}, 2, "wipe commands cannot be both failed and ignored"},
		{"bench: devices that are not a number", map[string]string{"PORTICO_DEVICES": "ten"}, []string{"bench", "checkins"}, 2, `PORTICO_DEVICES="ten" is not a whole number`},
		{"bench: a duration that is not one", map[string]string{"PORTICO_DURATION": "30"}, []string{"bench", "checkins"}, 2, `PORTICO_DURATION="30" is not a duration`},
		{"bench: the concurrency from the environment", map[string]string{"PORTICO_CONCURRENCY": "0"}, []string{"bench", "checkins"}, 2, "must be positive"},
		{"bench: the duration from the environment", map[string]string{"PORTICO_DURATION": "-1s"}, []string{"bench", "checkins"}, 2, "must be positive"},
		{"serve: an APNs stand-in that is not https", map[string]string{"PORTICO_APNS_URL": "http://127.0.0.1:1"}, []string{"serve"}, 2, `--apns-url "http://127.0.0.1:1" is not an https:// URL`},
		{"serve: APNs roots that are no PEM", map[string]string{"PORTICO_APNS_CA": "cli_test.go"}, []string{"serve"}, 2, "--apns-ca cli_test.go has no PEM certificate"},
		{"serve: a SCEP CA without its key", map[string]string{"PORTICO_SCEP_CA_CERT": "ca.pem"}, []string{"serve"}, 2, "--scep-ca-cert and --scep-ca-key go together"},
		{"serve: a profile signing certificate without its key", map[string]string{"PORTICO_PROFILE_SIGNING_CERT": "sign.pem"}, []string{"serve"}, 2, "--profile-signing-cert and --profile-signing-key go together"},
		{"user add: an admin flag that is not a boolean", map[string]string{"PORTICO_ADMIN": "maybe"}, []string{"user", "add", "carol"}, 2, `PORTICO_ADMIN="maybe" is not true or false`},
		{"user add: roles from the environment", map[string]string{"PORTICO_ROLE": "lock, flying"}, []string{"user", "add", "carol"}, 1, `"flying"`},
		{"user roles: grants from the environment", map[string]string{"PORTICO_GRANT": "swimming"}, []string{"user", "roles", "carol"}, 1, `"swimming"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.env, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d with %q, want %d with %q", code, stderr, tt.code, tt.stderr)
			}
		})
	}
}

func TestUserAddFromEnvironment(t *testing.T) {
	data := t.TempDir()
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		roles []portico.Role
		email string
	}{
		{"everything from the environment", map[string]string{
			"PORTICO_DATA": data, "PORTICO_EMAIL": "carol@example.com", "PORTICO_NAME": "Carol Example",
			"PORTICO_PHONE": "+1 415 555 0100", "PORTICO_ROLE": "lock,wipe",
		}, []string{"user", "add", "carol"}, []portico.Role{portico.RoleLock, portico.RoleWipe}, "carol@example.com"},
		{"the command line replaces the environment's roles", map[string]string{
			"PORTICO_DATA": data, "PORTICO_EMAIL": "dave@example.com", "PORTICO_ROLE": "lock,wipe",
		}, []string{"user", "add", "dave", "--role", "locate"}, []portico.Role{portico.RoleLocate}, "dave@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, stderr := runCLI(t, tt.env, tt.args...); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			ctx, svc, closeStore, err := (&cli{getenv: func(string) string { return "" }}).operator(context.Background(), globals{data: data})
			if err != nil {
				t.Fatal(err)
			}
			defer closeStore()
			u, err := svc.UserByUsername(ctx, tt.args[2])
			if err != nil {
				t.Fatal(err)
			}
			if u.Email != tt.email || roleNames(u.Roles) != roleNames(tt.roles) {
				t.Errorf("created %+v, want email %s and roles %v", u, tt.email, tt.roles)
			}
		})
	}
}

// TestDeviceSimOverTLS runs the simulator against a server whose
// certificate no system trusts, as serve's self-signed one on a first run.
func TestDeviceSimOverTLS(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false)
	ts := httptest.NewTLSServer(e.Server)
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"PORTICO_SERVER": ts.URL, "PORTICO_USER": "alice", "PORTICO_PASSWORD": servertest.Password("alice"),
		"PORTICO_PLATFORM": "android", "PORTICO_EVERY": "0",
	}
	withCA := maps.Clone(env)
	withCA["PORTICO_CA"], withCA["PORTICO_COUNT"] = ca, "2"
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		code       int
		registered int
		stderr     string
	}{
		{"without the certificate", env, nil, 1, 0, "certificate"},
		{"with --ca", env, []string{"--ca", ca}, 0, 1, ""},
		{"with PORTICO_CA and PORTICO_COUNT", withCA, nil, 0, 2, ""},
		{"with a file that holds no certificate", env, []string{"--ca", notPEM}, 2, 0, "has no PEM certificate"},
		{"with a file that is not there", env, []string{"--ca", filepath.Join(dir, "missing.pem")}, 1, 0, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := androids(t, e)
			code, _, stderr := runCLI(t, tt.env, append([]string{"device", "sim"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d with %q, want %d with %q", code, stderr, tt.code, tt.stderr)
			}
			if got := androids(t, e) - before; got != tt.registered {
				t.Errorf("%d android devices registered, want %d", got, tt.registered)
			}
		})
	}
}

func androids(t *testing.T, e *servertest.Env) int {
	t.Helper()
	devices, err := e.Service.AllDevices(e.Op, store.DeviceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range devices {
		if d.Platform == portico.PlatformAndroid {
			n++
		}
	}
	return n
}

// TestStoreFileIsPrivate: the SQLite file holds the hashes of every secret,
// so only the user that runs Portico may read it.
func TestStoreFileIsPrivate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	db, err := globals{data: data}.open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, name := range []string{dbFile, dbFile + "-wal"} {
		info, err := os.Stat(filepath.Join(data, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %o, want 600", name, perm)
		}
	}
}
