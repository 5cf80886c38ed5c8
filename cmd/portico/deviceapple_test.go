package main

import (
	"strings"
	"testing"

	"github.com/portico-mdm/portico/internal/server/servertest"
)

func TestDeviceSimApple(t *testing.T) {
	env := servertest.New(t)
	env.AddUser("ann", false)
	apple := []string{"device", "sim", "--protocol", "apple", "--server", env.URL, "--user", "ann"}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"an unknown protocol", []string{"device", "sim", "--protocol", "carrier-pigeon", "--user", "ann", "--password", "p"}, 2, `--protocol "carrier-pigeon" is neither agent nor apple`},
		{"an Android device", append(apple, "--platform", "android", "--password", "p"), 2, "--protocol apple simulates ios, ipados or macos devices, not android"},
		{"an agent's flag", append(apple, "--fail", "lock", "--password", "p"), 2, "--fail, --ignore, --recover-passcode and --device-token go with --protocol agent"},
		{"supervised agents", []string{"device", "sim", "--supervised", "--user", "ann", "--password", "p"}, 2, "--supervised and --not-now go with --protocol apple"},
		{"a negative NotNow count", append(apple, "--not-now", "-1", "--password", "p"), 2, "--not-now cannot be negative"},
		{"a CA file without certificates", append(apple, "--password", "p", "--ca", "deviceapple_test.go"), 2, "has no PEM certificate"},
		{"a wrong password", append(apple, "--platform", "macos", "--password", "wrong"), 1, "The user name or password is wrong."},
		// This branch's portal answers with instructions, not yet with a
		// profile; the simulator says so rather than enrolling.
		{"no profile from the server", append(apple, "--platform", "ipados", "--password", servertest.Password("ann")), 1, "not an enrollment profile (application/x-apple-aspen-config)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d with %q, want %d with %q", code, stderr, tt.code, tt.stderr)
			}
		})
	}
}
