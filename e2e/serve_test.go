package e2e

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var createdPassword = regexp.MustCompile(`Password \(shown once\): (\S+)`)

// addUser creates a user with `portico user add` in the store that the
// global flags name, and returns the password it printed.
func addUser(t *testing.T, global []string, name string, roles ...string) string {
	t.Helper()
	args := append(append([]string{}, global...), "user", "add", name, "--email", name+"@example.com", "--name", strings.ToUpper(name[:1])+name[1:]+" Example")
	for _, r := range roles {
		args = append(args, "--role", r)
	}
	m := createdPassword.FindStringSubmatch(run(t, "", args...))
	if m == nil {
		t.Fatalf("user add printed no password")
	}
	return m[1]
}

// TestFirstRun follows a new administrator: serve with no configuration,
// sign in with the printed password, create alice, register her simulated
// iPhone, and find it in her portal and nowhere else.
func TestFirstRun(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	in := serve(t, "--data", data)
	if in.AdminPassword == "" {
		t.Fatal("serve printed no first administrator password")
	}
	if _, err := os.Stat(filepath.Join(data, "portico.db")); err != nil {
		t.Fatalf("no SQLite file in the data directory: %v", err)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, _ := get(t, http.DefaultClient, in.URL+path); code != http.StatusOK {
			t.Errorf("%s: status %d", path, code)
		}
	}

	admin := browserClient()
	if code := signIn(t, admin, in.URL, "admin", in.AdminPassword); code != http.StatusSeeOther {
		t.Fatalf("admin sign-in: status %d", code)
	}
	if code, body := get(t, admin, in.URL+"/admin/users"); code != http.StatusOK || !strings.Contains(body, "admin") {
		t.Fatalf("admin users page: status %d", code)
	}

	alicePassword := addUser(t, []string{"--data", data}, "alice", "lock")
	bobPassword := addUser(t, []string{"--data", data}, "bob")
	out := run(t, "", "device", "sim", "--server", in.URL, "--platform", "ios",
		"--user", "alice", "--password", alicePassword, "--every", "0")
	if !strings.Contains(out, "Registered") {
		t.Fatalf("device sim: %s", out)
	}

	alice := browserClient()
	if code := signIn(t, alice, in.URL, "alice", alicePassword); code != http.StatusSeeOther {
		t.Fatalf("alice sign-in: status %d", code)
	}
	code, home := get(t, alice, in.URL+"/")
	if code != http.StatusOK || !strings.Contains(home, "iPhone") || !strings.Contains(home, "iOS 1") {
		t.Fatalf("alice's home (status %d) does not show her iPhone:\n%s", code, home)
	}

	bob := browserClient()
	signIn(t, bob, in.URL, "bob", bobPassword)
	if _, home := get(t, bob, in.URL+"/"); strings.Contains(home, "iPhone") {
		t.Error("bob's home shows alice's iPhone")
	}
	if code, _ := get(t, bob, in.URL+"/admin/users"); code != http.StatusForbidden {
		t.Errorf("bob on the admin portal: status %d, want 403", code)
	}
	if code, _ := get(t, browserClient(), in.URL+"/"); code != http.StatusSeeOther {
		t.Errorf("home without a session: status %d, want a redirect to sign in", code)
	}
}

// TestSettingsAndRolesWhileServing changes settings and roles from the
// command line while serve runs, and sees the portal follow.
func TestSettingsAndRolesWhileServing(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	in := serve(t, "--data", data)
	run(t, "", "--data", data, "settings", "set", "helpdesk.phone=+1 555 0100", "helpdesk.name=Service Desk")
	if out := run(t, "", "--data", data, "settings", "get", "helpdesk.phone"); strings.TrimSpace(out) != "helpdesk.phone=+1 555 0100" {
		t.Errorf("settings get: %q", out)
	}
	_, login := get(t, http.DefaultClient, in.URL+"/login")
	login = html.UnescapeString(login)
	if !strings.Contains(login, "Service Desk") || !strings.Contains(login, "+1 555 0100") {
		t.Error("the sign-in page does not show the helpdesk contact set from the command line")
	}
	addUser(t, []string{"--data", data}, "carol")
	run(t, "", "--data", data, "user", "roles", "carol", "--grant", "wipe", "--grant", "lock")
	if out := run(t, "", "--data", data, "user", "roles", "carol", "--revoke", "lock"); !strings.Contains(out, "wipe") || strings.Contains(out, "lock") {
		t.Errorf("user roles: %q", out)
	}
}

// TestBackupRestore backs up a running server and restores the backup into
// a new data directory, where the same users can sign in.
func TestBackupRestore(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	in := serve(t, "--data", data)
	password := addUser(t, []string{"--data", data}, "dave")
	backup := filepath.Join(dir, "backup.tar.gz")
	run(t, "", "--data", data, "backup", backup)
	in.stop(t)

	restored := filepath.Join(dir, "restored")
	run(t, "", "--data", restored, "restore", backup)
	again := serve(t, "--data", restored)
	if again.AdminPassword != "" {
		t.Error("the restored store made a new first administrator")
	}
	if code := signIn(t, browserClient(), again.URL, "dave", password); code != http.StatusSeeOther {
		t.Errorf("dave's sign-in on the restored store: status %d", code)
	}
}

// TestServeOnTheNetworkSpeaksHTTPS starts serve on a non-loopback address
// without a certificate: it makes a self-signed one, says so, and serves
// HTTPS with HSTS and Secure cookies.
func TestServeOnTheNetworkSpeaksHTTPS(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	in := serveAt(t, "0.0.0.0:0", "--data", data)
	if !strings.HasPrefix(in.URL, "https://") {
		t.Fatalf("serve on 0.0.0.0 runs at %s, want https", in.URL)
	}
	if _, err := os.Stat(filepath.Join(data, "tls", "cert.pem")); err != nil {
		t.Fatalf("no self-signed certificate in the data directory: %v", err)
	}
	c := browserClient()
	c.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	res, err := c.PostForm(in.URL+"/login", url.Values{"username": {"admin"}, "password": {in.AdminPassword}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in over HTTPS: status %d", res.StatusCode)
	}
	if res.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS header over TLS")
	}
	if cookies := res.Cookies(); len(cookies) != 1 || !cookies[0].Secure {
		t.Errorf("the session cookie is not Secure over TLS: %+v", cookies)
	}

	// The simulator trusts the self-signed certificate it is given, as an
	// agent configured with it would.
	password := addUser(t, []string{"--data", data}, "frank")
	sim := []string{"device", "sim", "--server", in.URL, "--platform", "android", "--user", "frank", "--password", password, "--every", "0"}
	if out := run(t, "", append(sim, "--ca", filepath.Join(data, "tls", "cert.pem"))...); !strings.Contains(out, "Registered") {
		t.Errorf("device sim with --ca: %q", out)
	}
}

// TestServeBehindATLSProxy starts serve on loopback, as behind a proxy that
// terminates TLS: the https base URL alone must make cookies Secure and
// send HSTS, for browsers reach it over HTTPS.
func TestServeBehindATLSProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	in := serveWith(t, addr, []string{"--base-url", "https://mdm.example.test"}, "--data", filepath.Join(t.TempDir(), "data"))
	if in.URL != "https://mdm.example.test" {
		t.Errorf("serve runs at %s, want its base URL", in.URL)
	}
	res, err := browserClient().PostForm("http://"+addr+"/login", url.Values{"username": {"admin"}, "password": {in.AdminPassword}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in through the proxy: status %d", res.StatusCode)
	}
	if res.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS header behind a TLS proxy")
	}
	if cookies := res.Cookies(); len(cookies) != 1 || !cookies[0].Secure {
		t.Errorf("the session cookie is not Secure behind a TLS proxy: %+v", cookies)
	}
}

// TestSIGTERMFinishesRequestsInFlight sends SIGTERM while a device's
// check-in is half uploaded: serve stops taking connections, yet answers
// the check-in in full before it exits cleanly.
func TestSIGTERMFinishesRequestsInFlight(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	in := serve(t, "--data", data)
	password := addUser(t, []string{"--data", data}, "grace")
	reg, err := http.Post(in.URL+"/api/device/v1/register", "application/json", strings.NewReader(
		`{"username":"grace","password":"`+password+`","platform":"ios","device":{"name":"Grace's iPhone","os_version":"17.4.1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var device struct {
		Token string `json:"device_token"`
	}
	err = json.NewDecoder(reg.Body).Decode(&device)
	reg.Body.Close()
	if err != nil || reg.StatusCode != http.StatusCreated {
		t.Fatalf("registering: status %d, %v", reg.StatusCode, err)
	}

	host := strings.TrimPrefix(in.URL, "http://")
	conn, err := net.DialTimeout("tcp", host, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(90 * time.Second))
	body := `{"device":{"name":"Grace's iPhone","os_version":"17.5.1"}}`
	// "Expect: 100-continue" makes the server say when its handler starts
	// reading the body: only then is the request surely in flight, and not
	// still waiting in the listener's backlog, which closing the listener
	// would reset.
	if _, err := fmt.Fprintf(conn, "POST /api/device/v1/checkin HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", host, device.Token, len(body)); err != nil {
		t.Fatal(err)
	}
	answers := bufio.NewReader(conn)
	if cont, err := http.ReadResponse(answers, nil); err != nil || cont.StatusCode != http.StatusContinue {
		t.Fatalf("no 100 Continue before the body: %v", err)
	}
	if _, err := io.WriteString(conn, body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}

	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Shutdown has begun once serve refuses new connections.
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.DialTimeout("tcp", host, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("serve still takes connections 30s after SIGTERM")
		}
		time.Sleep(50 * time.Millisecond)
	}

	if _, err := io.WriteString(conn, body[len(body)/2:]); err != nil {
		t.Fatalf("sending the rest of the check-in: %v", err)
	}
	res, err := http.ReadResponse(answers, nil)
	if err != nil {
		t.Fatalf("reading the answer to the check-in: %v", err)
	}
	answer, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || !strings.Contains(string(answer), `"commands":[`) {
		t.Errorf("the check-in in flight got status %d, %q, %v; want 200 with its commands", res.StatusCode, answer, err)
	}
	select {
	case err := <-in.exited:
		if err != nil {
			t.Errorf("serve exited with %v:\n%s", err, in.stderr)
		}
	case <-time.After(60 * time.Second):
		t.Error("serve did not exit within 60s of answering the last request")
	}
}
