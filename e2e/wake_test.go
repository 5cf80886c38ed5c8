package e2e

import (
	"bufio"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

var registeredAs = regexp.MustCompile(`as device (\d+)\.`)

// TestWakeAcrossInstances runs two serve processes on one PostgreSQL and a
// simulated device that checks in only hourly and long-polls the second
// instance between check-ins: a command queued for it reaches it within
// seconds, woken through PostgreSQL (SPEC ACT-7).
//
// The portal cannot queue actions yet, so the test does what the first
// instance will do for it: insert the command into the commands table and
// notify portico_wake. The version driven through the first instance's
// portal comes with the actions UI.
func TestWakeAcrossInstances(t *testing.T) {
	dbURL := postgresURL(t)
	dir := t.TempDir()
	first := serve(t, "--db", dbURL, "--data", filepath.Join(dir, "a"))
	second := serve(t, "--db", dbURL, "--data", filepath.Join(dir, "b"))
	run(t, "", "--db", dbURL, "settings", "set", "registration.default_ownership=company")
	password := addUser(t, []string{"--db", dbURL}, "erin", "lock", "locate")

	// The device long-polls the second instance and would otherwise check
	// in only hourly.
	device, lines := startSim(t, "device", "sim", "--server", second.URL, "--platform", "android",
		"--user", "erin", "--password", password, "--every", "1h")
	erin := browserClient()
	if code := signIn(t, erin, first.URL, "erin", password); code != http.StatusSeeOther {
		t.Fatalf("erin's sign-in on the first instance: status %d", code)
	}
	for _, kind := range []string{"lock", "locate"} {
		start := time.Now()
		res, err := erin.PostForm(first.URL+"/devices/"+strconv.FormatInt(device, 10)+"/actions", url.Values{"kind": {kind}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s on the first instance: status %d", kind, res.StatusCode)
		}
		expectLine(t, lines, regexp.MustCompile(kind+` command \d+ done`))
		// Without a wake-up the device would collect it at the end of its
		// wait, 22 seconds later at the soonest.
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("the %s took %s to reach a device waiting on the other instance", kind, took)
		}
	}
}

// expectLine reads lines until one matches re, for at most 30 seconds.
func expectLine(t *testing.T, lines <-chan string, re *regexp.Regexp) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the simulator exited before printing %s", re)
			}
			if re.MatchString(line) {
				return line
			}
		case <-timeout:
			t.Fatalf("the simulator did not print %s within 30 seconds", re)
		}
	}
}

// startSim starts a long-running `portico device sim` that registers one
// device, and returns the device's id and the lines the simulator prints
// after. The simulator is stopped like Ctrl-C when the test ends.
func startSim(t *testing.T, args ...string) (int64, <-chan string) {
	t.Helper()
	cmd := exec.Command(portico, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		kill := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
		defer kill.Stop()
		for range lines { // the pipe is read to its end before Wait closes it
		}
		if err := cmd.Wait(); err != nil && !t.Failed() {
			t.Errorf("the simulator exited with %v", err)
		}
	})
	m := registeredAs.FindStringSubmatch(expectLine(t, lines, registeredAs))
	id, _ := strconv.ParseInt(m[1], 10, 64)
	return id, lines
}
