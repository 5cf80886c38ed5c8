package e2e

import (
	"bufio"
	"database/sql"
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
	serve(t, "--db", dbURL, "--data", filepath.Join(dir, "a"))
	second := serve(t, "--db", dbURL, "--data", filepath.Join(dir, "b"))
	password := addUser(t, []string{"--db", dbURL}, "erin")

	device, lines := startSim(t, "device", "sim", "--server", second.URL, "--platform", "android",
		"--user", "erin", "--password", password, "--every", "1h")
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	for _, kind := range []string{"lock", "locate"} {
		var id int64
		err := db.QueryRow(`INSERT INTO commands (device_id, kind, status, created_by, created_at)
			VALUES ($1, $2, 'queued', 'e2e', now()) RETURNING id`, device, kind).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		// Notify until the device answers: the first notification may come
		// while the device is between two waits. Without wake-ups the device
		// would collect the command only at its next wait's end, 22 seconds
		// later at the soonest.
		start := time.Now()
		var status string
		for status != "done" {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("the %s command is %q after %s: the device was not woken", kind, status, time.Since(start))
			}
			if _, err := db.Exec("SELECT pg_notify('portico_wake', $1)", strconv.FormatInt(device, 10)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			if err := db.QueryRow("SELECT status FROM commands WHERE id = $1", id).Scan(&status); err != nil {
				t.Fatal(err)
			}
		}
		expectLine(t, lines, regexp.MustCompile(kind+" command "+strconv.FormatInt(id, 10)+" done"))
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
