package e2e

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAppleSimulatorAgainstServe: `portico device sim --protocol apple`
// enrolls an iPhone into serve over its self-signed certificate, gets
// pushed through the stand-in, and answers the check-in that follows
// enrollment; browsers are asked only for certificates of the SCEP CA.
func TestAppleSimulatorAgainstServe(t *testing.T) {
	w := newAppleWorld(t)
	password := addUser(t, []string{"--data", w.data}, "grace", "register_device")
	grace := w.client()
	if code := signIn(t, grace, w.URL, "grace", password); code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", code)
	}
	if res, err := grace.PostForm(w.URL+"/register", url.Values{"how": {"invitation"}, "platform": {"ios"}}); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
	}
	// Before the admin uploads the push certificate, the iPhone is told why
	// it gets no profile.
	res, err := grace.PostForm(w.URL+"/go", url.Values{"username": {"grace"}, "password": {password}, "platform": {"ios"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if want := "Apple devices cannot be registered yet: the administrator has not uploaded the push certificate."; !strings.Contains(html.UnescapeString(string(page)), want) {
		t.Errorf("/go without a push certificate does not say %q:\n%s", want, page)
	}
	w.uploadPushCertificate(t)

	cmd := exec.Command(portico, "device", "sim", "--protocol", "apple", "--server", w.URL, "--ca", w.file,
		"--platform", "ios", "--user", "grace", "--password", password, "--every", "300ms")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
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
		for range lines {
		}
		if err := cmd.Wait(); err != nil && !t.Failed() {
			t.Errorf("the simulator exited with %v", err)
		}
	})
	enrolled := expectLine(t, lines, regexp.MustCompile(`^Enrolled .+ \(iPhone[0-9,]+, iOS [0-9.]+\) for grace as UDID [0-9A-F-]+\.$`))
	expectLine(t, lines, regexp.MustCompile(`^Polling every 300ms; stop with Ctrl-C\.$`))
	expectLine(t, lines, regexp.MustCompile(`\): DeviceInformation [0-9A-F-]{36}: Acknowledged\.$`))
	expectLine(t, lines, regexp.MustCompile(`\): SecurityInfo [0-9A-F-]{36}: Acknowledged\.$`))
	waitFor(t, "the push after enrollment", func() bool {
		for _, p := range w.apns.Pushes() {
			if p.Topic == appleTopic {
				return true
			}
		}
		return false
	})
	if _, home := get(t, grace, w.URL+"/"); !regexp.MustCompile(`status active`).MatchString(home) {
		t.Errorf("after %q the portal shows no active device:\n%s", enrolled, home)
	}

	// A browser is asked for a client certificate of the SCEP CA only.
	caPEM, err := os.ReadFile(filepath.Join(w.data, "apple", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(caPEM)
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(w.cert)
	var asked [][]byte
	conn, err := tls.Dial("tcp", w.URL[len("https://"):], &tls.Config{RootCAs: roots, ServerName: "localhost",
		GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			asked = cri.AcceptableCAs
			return &tls.Certificate{}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if len(asked) != 1 || string(asked[0]) != string(ca.RawSubject) {
		t.Errorf("the server asks for client certificates of %d CAs, want the SCEP CA alone", len(asked))
	}
}
