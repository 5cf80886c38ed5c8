package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// opensslIdentity makes a self-signed certificate with openssl and exports
// it with its key as a PKCS#12 file, as a user's own tools would.
func opensslIdentity(t *testing.T, name, password string) string {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl is missing: run the tests with scripts/test, which installs it")
		}
		t.Skip("openssl is missing")
	}
	dir := t.TempDir()
	key, cert, p12 := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, name+".p12")
	for _, args := range [][]string{
		{"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365", "-keyout", key, "-out", cert,
			"-subj", "/CN=Alice Example/emailAddress=alice@example.com"},
		{"pkcs12", "-export", "-inkey", key, "-in", cert, "-out", p12, "-passout", "pass:" + password},
	} {
		if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", args[0], err, out)
		}
	}
	return p12
}

// TestBrowserMyCertificates is the certificates story in a real browser:
// a wrong password stores nothing and says so; alice's signing certificate,
// made with openssl, shows its issuer and expiry and reaches both her
// devices in the email configuration; after Clear private key, the next
// push (her encryption certificate's) carries the signing certificate
// without its key; Delete removes it.
func TestBrowserMyCertificates(t *testing.T) {
	ctx := newBrowser(t)
	data := filepath.Join(t.TempDir(), "data")
	in := serve(t, "--data", data)
	run(t, "", "--data", data, "settings", "set", "certificates.signing=Email signing certificate",
		"certificates.encryption=Email encryption certificate", "email.server=mail.example.com")
	password := addUser(t, []string{"--data", data}, "alice", "manage_certificates")
	signing := opensslIdentity(t, "signing", "p12-secret")
	encryption := opensslIdentity(t, "encryption", "other-secret")
	var outs []<-chan string
	for _, platform := range []string{"ios", "android"} {
		_, lines := startSim(t, "device", "sim", "--server", in.URL, "--user", "alice", "--password", password, "--platform", platform, "--every", "1h")
		outs = append(outs, lines)
	}

	upload := func(typ, file, p12Password string) {
		t.Helper()
		err := chromedp.Do(ctx,
			chromedp.Navigate(in.URL+"/certificates"),
			chromedp.WaitVisible(`input[type="file"]`),
			chromedp.SetValue(`select[name="type"]`, typ),
			chromedp.SetUploadFiles(`input[type="file"]`, []string{file}),
			chromedp.SendKeys(`input[name="password"]`, p12Password),
		)
		if err == nil {
			err = clickAndLoad(ctx, `button.primary`)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := browserSignIn(ctx, in.URL, "alice", password, 1100, 900); err != nil {
		t.Fatal(err)
	}

	upload("signing", signing, "not-the-password")
	page, _ := chromedp.Run(ctx, chromedp.Text("main"))
	if !strings.Contains(page, "The password does not open this PKCS#12 file") || !strings.Contains(page, "You have uploaded no certificates yet") {
		t.Fatalf("a wrong password did not say so, or stored something:\n%s", page)
	}

	upload("signing", signing, "p12-secret")
	page, _ = chromedp.Run(ctx, chromedp.Text("main"))
	for _, want := range []string{"Email signing certificate", "Alice Example", "alice@example.com", "to your 2 devices"} {
		if !strings.Contains(page, want) {
			t.Errorf("after uploading, the page lacks %q:\n%s", want, page)
		}
	}
	if !regexp.MustCompile(`\d{1,2} \w{3} 20\d\d`).MatchString(page) {
		t.Error("no expiry date")
	}
	for _, lines := range outs {
		expectLine(t, lines, regexp.MustCompile(`configure command \d+ done: Installed the email account alice@example.com on mail.example.com with the signing identity with its private key`))
	}
	if err := chromedp.Do(ctx, chromedp.WaitNotPresent(`#pushes .status.queued, #pushes .status.sent`)); err != nil {
		t.Fatalf("the pushes never showed as done: %v", err)
	}
	screenshot(t, ctx, "certificates")

	err := chromedp.Do(ctx, chromedp.Click(`details.confirm summary`))
	if err == nil {
		err = clickAndLoad(ctx, `form[action$="/clear-key"] button`)
	}
	if err != nil {
		t.Fatal(err)
	}
	if page, _ := chromedp.Run(ctx, chromedp.Text("main")); !strings.Contains(page, "no private key") || !strings.Contains(page, "nothing was sent") {
		t.Errorf("after clearing the key:\n%s", page)
	}
	upload("encryption", encryption, "other-secret")
	for _, lines := range outs {
		expectLine(t, lines, regexp.MustCompile(`configure command \d+ done: .*signing certificate without a private key`))
	}

	err = chromedp.Do(ctx,
		chromedp.Navigate(in.URL+"/certificates"),
		chromedp.Click(`tbody tr:first-child details.confirm:last-of-type summary`),
	)
	if err == nil {
		err = clickAndLoad(ctx, `tbody tr:first-child form[action$="/delete"] button`)
	}
	if err != nil {
		t.Fatal(err)
	}
	if page, _ := chromedp.Run(ctx, chromedp.Text("table.list")); strings.Contains(page, "Email signing certificate") || !strings.Contains(page, "Email encryption certificate") {
		t.Errorf("after deleting the signing certificate the list shows:\n%s", page)
	}
}
