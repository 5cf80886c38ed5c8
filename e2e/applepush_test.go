package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	domain "github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/apns/apnstest"
	"github.com/portico-mdm/portico/internal/applesim"
)

const appleTopic = "com.apple.mgmt.External.7d2c9e41-5b3a-4f80-a6d1-0c8e2f4b9a17"

// appleWorld is serve on the network, as on a first run, with its
// self-signed certificate, pushing to a loopback stand-in for Apple's push
// service.
type appleWorld struct {
	*instance
	data string
	apns *apnstest.Server
	// cert is the server's self-signed certificate, file its PEM file.
	cert *x509.Certificate
	file string
}

func newAppleWorld(t *testing.T) *appleWorld {
	t.Helper()
	srv := apnstest.New(t)
	dir := t.TempDir()
	apnsCA := filepath.Join(dir, "apns-ca.pem")
	if err := os.WriteFile(apnsCA, srv.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	in := serveWith(t, "0.0.0.0:0", []string{"--apns-url", srv.URL, "--apns-ca", apnsCA}, "--data", data)
	file := filepath.Join(data, "tls", "cert.pem")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s holds no certificate", file)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return &appleWorld{instance: in, data: data, apns: srv, cert: cert, file: file}
}

// client is a browser-like client that trusts the server's certificate.
func (w *appleWorld) client() *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(w.cert)
	c := browserClient()
	c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	return c
}

// pushCertificateFile writes a push certificate of appleTopic with its key
// as one PEM file, as an admin uploads it.
func pushCertificateFile(t *testing.T) string {
	t.Helper()
	now := time.Now()
	c := apnstest.NewCertificate(t, appleTopic, now.Add(-time.Hour), now.Add(365*24*time.Hour))
	file := filepath.Join(t.TempDir(), "push.pem")
	if err := os.WriteFile(file, append(append([]byte{}, c.CertPEM...), c.KeyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// uploadPushCertificate uploads a push certificate as the admin does, with
// the admin page's form.
func (w *appleWorld) uploadPushCertificate(t *testing.T) {
	t.Helper()
	admin := w.client()
	if code := signIn(t, admin, w.URL, "admin", w.AdminPassword); code != http.StatusSeeOther {
		t.Fatalf("admin sign-in: %d", code)
	}
	file, err := os.ReadFile(pushCertificateFile(t))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	form := multipart.NewWriter(&body)
	part, _ := form.CreateFormFile("file", "push.pem")
	part.Write(file)
	form.Close()
	req, _ := http.NewRequest(http.MethodPost, w.URL+"/admin/apple/push", &body)
	req.Header.Set("Content-Type", form.FormDataContentType())
	res, err := admin.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("uploading the push certificate: %d", res.StatusCode)
	}
}

// newAppleDevice is a simulated device of the platform that trusts the
// server's certificate.
func (w *appleWorld) newAppleDevice(t *testing.T, p domain.Platform, i int) *applesim.Device {
	t.Helper()
	m, err := applesim.NewModel(p, i, rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i))))
	if err != nil {
		t.Fatal(err)
	}
	return applesim.New(applesim.Config{Model: m, Roots: []*x509.Certificate{w.cert}, Supervised: true})
}

// pushRouter delivers the stand-in's pushes to the simulated devices they
// are for, matched by token, as Apple's service does; it counts them per
// device. A push that arrives before its device is known (the one that
// follows TokenUpdate, while the device finishes installing its profile)
// is kept for it.
type pushRouter struct {
	mu      sync.Mutex
	devices map[string]*applesim.Device
	early   map[string]bool
	count   map[string]int
}

func newPushRouter(srv *apnstest.Server) *pushRouter {
	r := &pushRouter{devices: map[string]*applesim.Device{}, early: map[string]bool{}, count: map[string]int{}}
	srv.OnPush(func(p apnstest.Push) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.count[p.Token]++
		if d := r.devices[p.Token]; d != nil {
			d.Wake()
		} else {
			r.early[p.Token] = true
		}
	})
	return r
}

// add routes pushes to d, which polls only when pushed, until the test
// ends.
func (r *pushRouter) add(t *testing.T, d *applesim.Device) {
	token := hex.EncodeToString(d.PushToken())
	r.mu.Lock()
	r.devices[token] = d
	if r.early[token] {
		delete(r.early, token)
		d.Wake()
	}
	r.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(ctx, 0)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// pushes is how many pushes reached d.
func (r *pushRouter) pushes(d *applesim.Device) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count[hex.EncodeToString(d.PushToken())]
}

// waitFor checks cond until it holds, for at most 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 seconds for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// received waits until d received its n-th command of the type, and
// returns it.
func received(t *testing.T, d *applesim.Device, requestType string, n int) applesim.Received {
	t.Helper()
	var got applesim.Received
	waitFor(t, "the device to receive "+requestType, func() bool {
		seen := 0
		for _, r := range d.Received() {
			if r.RequestType == requestType {
				if seen++; seen == n {
					got = r
					return true
				}
			}
		}
		return false
	})
	return got
}
