package main

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/portico-mdm/portico/internal/applesim/applesimtest"
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

// TestDeviceSimAppleEnrollsAndAnswers runs the simulator against a server
// that answers the registration page with an enrollment profile: each
// device enrolls, polls once and prints the commands it handled.
func TestDeviceSimAppleEnrollsAndAnswers(t *testing.T) {
	s := applesimtest.New(t)
	s.Username, s.Password = "ann", "ann-password"
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.TLSCertificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	ids := s.Send(map[string]any{"RequestType": "SecurityInfo"}, map[string]any{"RequestType": "DeviceLock", "PIN": "123456"})
	code, stdout, stderr := runCLI(t, nil, "device", "sim", "--protocol", "apple", "--server", s.URL, "--ca", ca,
		"--platform", "macos", "--user", "ann", "--password", "ann-password", "--count", "2", "--every", "0", "--not-now", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^Enrolled .+'s MacBook Air \(Mac14,2, macOS 14\.[0-9.]+\) for ann as UDID [0-9A-F-]{36}\.$`),
		regexp.MustCompile(`(?m): SecurityInfo ` + ids[0] + `: NotNow\.$`),
		regexp.MustCompile(`(?m): DeviceLock ` + ids[1] + `: Acknowledged\.$`),
	} {
		if !want.MatchString(stdout) {
			t.Errorf("the output does not match %s:\n%s", want, stdout)
		}
	}
	if len(s.Checkins) != 4 {
		t.Errorf("%d check-ins, want Authenticate and TokenUpdate from each of the two devices", len(s.Checkins))
	}
}
