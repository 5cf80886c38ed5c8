// Package e2e tests the whole program the way people use it: it builds the
// portico binary, starts `portico serve` on port 0 with a fresh data
// directory, drives it with the command line, HTTP and a real browser.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

var portico string // the binary under test

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "portico-e2e-")
	if err != nil {
		panic(err)
	}
	portico = filepath.Join(dir, "portico")
	build := exec.Command("go", "build", "-race", "-o", portico, "../cmd/portico")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building portico:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// instance is one running `portico serve`.
type instance struct {
	URL string
	// AdminPassword is the first administrator's own password, chosen in
	// place of the one serve printed (FirstPassword) when serve created it.
	AdminPassword, FirstPassword string
	cmd                          *exec.Cmd
	stderr                       *bytes.Buffer
	exited                       chan error
}

var (
	runningAt     = regexp.MustCompile(`Portico is running at (\S+)`)
	adminPassword = regexp.MustCompile(`Sign in as "admin" with the password (\S+)`)
)

// serve starts `portico serve` on a free loopback port with the given global
// flags (--data or --db) and stops it with SIGTERM when the test ends.
func serve(t *testing.T, global ...string) *instance {
	t.Helper()
	return serveAt(t, "127.0.0.1:0", global...)
}

// serveAt is serve on the given address.
func serveAt(t *testing.T, addr string, global ...string) *instance {
	t.Helper()
	return serveWith(t, addr, nil, global...)
}

// sharedSecretKey is the sealing key of the instances that share a
// PostgreSQL database (32 bytes, base64).
const sharedSecretKey = "cG9ydGljby10ZXN0LWtleS0wMTIzNDU2Nzg5YWJjZGU="

// serveWith is serveAt with flags of serve's own. With --base-url, URL is
// the base URL, not the address serve listens on.
func serveWith(t *testing.T, addr string, flags []string, global ...string) *instance {
	t.Helper()
	args := append(append(append([]string{}, global...), "serve", "--addr", addr), flags...)
	cmd := exec.Command(portico, args...)
	if slices.Contains(global, "--db") {
		// Instances sharing one database share the key its secrets are
		// sealed with; each has a data directory of its own here.
		cmd.Env = append(os.Environ(), "PORTICO_SECRET_KEY="+sharedSecretKey)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan error, 1)}
	cmd.Stderr = in.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { in.exited <- cmd.Wait() }()
	t.Cleanup(func() { in.stop(t) })

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(60 * time.Second)
	for in.URL == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited before listening:\n%s", in.stderr)
			}
			if m := adminPassword.FindStringSubmatch(line); m != nil {
				in.AdminPassword = m[1]
			}
			if m := runningAt.FindStringSubmatch(line); m != nil {
				in.URL = strings.TrimSuffix(m[1], "/")
			}
		case <-deadline:
			t.Fatalf("serve did not print its URL in time:\n%s", in.stderr)
		}
	}
	go func() {
		for range lines { // keep serve from blocking on a full pipe
		}
	}()
	in.FirstPassword = in.AdminPassword
	if in.AdminPassword != "" && servedHere(in.URL) {
		// With a base URL of a proxy the test does not run, the test keeps
		// the printed password.
		in.AdminPassword = chooseFirstPassword(t, in.URL, in.FirstPassword)
	}
	return in
}

// servedHere says whether serve answers at u itself, over HTTP or HTTPS,
// rather than behind a proxy named by its base URL.
func servedHere(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Hostname() == "127.0.0.1" || p.Hostname() == "localhost" || p.Hostname() == "::1")
}

// chooseFirstPassword signs the first administrator in with the printed
// password, which opens nothing but the page to choose another, chooses
// one there and returns it.
func chooseFirstPassword(t *testing.T, base, printed string) string {
	t.Helper()
	c := browserClient()
	// Over HTTPS, serve answers with the self-signed certificate it made
	// for its first run.
	c.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	if code := signIn(t, c, base, "admin", printed); code != http.StatusSeeOther {
		t.Fatalf("first sign-in with the printed password: status %d", code)
	}
	for _, path := range []string{"/", "/admin/users"} {
		res, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/change-password" {
			t.Fatalf("first sign-in, %s: status %d to %q, want the page to choose a password", path, res.StatusCode, res.Header.Get("Location"))
		}
	}
	chosen := printed + "-own-7"
	res, err := c.PostForm(base+"/change-password", url.Values{"password": {chosen}, "repeat": {chosen}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("choosing the first administrator's password: status %d", res.StatusCode)
	}
	if code, _ := get(t, c, base+"/admin/users"); code != http.StatusOK {
		t.Fatalf("admin users page after choosing a password: status %d", code)
	}
	return chosen
}

// stop asks serve to shut down gracefully and expects a clean exit.
func (in *instance) stop(t *testing.T) {
	if in.cmd.ProcessState != nil {
		return
	}
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-in.exited:
		if err != nil && !t.Failed() {
			t.Errorf("serve exited with %v:\n%s", err, in.stderr)
		}
	case <-time.After(40 * time.Second):
		in.cmd.Process.Kill()
		t.Errorf("serve did not stop within 40s of SIGTERM")
	}
}

// run runs a portico command to completion and returns its standard output.
func run(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, portico, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("portico %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// runFails runs a portico command that must fail, and returns what it said.
func runFails(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, portico, args...).CombinedOutput()
	if err == nil {
		t.Fatalf("portico %s succeeded, want a refusal:\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}

// browserClient is an HTTP client that keeps cookies and shows redirects.
func browserClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// signIn signs in through the sign-in form and reports the response status.
func signIn(t *testing.T, c *http.Client, base, user, password string) int {
	t.Helper()
	res, err := c.PostForm(base+"/login", url.Values{"username": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
