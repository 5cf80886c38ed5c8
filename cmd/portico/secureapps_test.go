package main

import (
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/server/servertest"
)

func TestDeviceSimRecoverPasscode(t *testing.T) {
	e := servertest.New(t)
	if err := e.Service.SetSettings(e.Op, map[string]string{
		"products.secure_apps": "true", "secure_apps.passcode_required": "true", "secure_apps.passcode_recovery": "true",
	}); err != nil {
		t.Fatal(err)
	}
	e.AddUser("alice", false)
	_, token := e.RegisterDevice("alice", portico.PlatformIOS, portico.DeviceDetails{Name: "Alice's iPhone"})
	env := map[string]string{"PORTICO_SERVER": e.URL, "PORTICO_USER": "alice", "PORTICO_PLATFORM": "ios"}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"registers with the password, then recovers with it", []string{"--password", servertest.Password("alice")}, 0, "Recovered the secure apps passcode for alice", ""},
		{"a device registered earlier", []string{"--device-token", token, "--password", servertest.Password("alice")}, 0, "Recovered", ""},
		{"a wrong password", []string{"--device-token", token, "--password", "wrong"}, 1, "", "password is wrong"},
		{"a PIN on a password device", []string{"--device-token", token, "--pin", "12345678"}, 1, "", "give your password, not a PIN"},
		{"a registration PIN cannot recover", []string{"--pin", "12345678"}, 2, "", "one-time PIN from the portal"},
		{"one device only", []string{"--password", "p", "--count", "2"}, 2, "", "--count 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, env, append([]string{"device", "sim", "--recover-passcode"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
		})
	}
	code, _, stderr := runCLI(t, env, "device", "sim", "--password", "p", "--device-token", token)
	if code != 2 || !strings.Contains(stderr, "--device-token goes with --recover-passcode") {
		t.Errorf("--device-token alone: exit %d: %s", code, stderr)
	}
}
