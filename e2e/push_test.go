package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// opensslPushCertificate makes with openssl a certificate shaped like an
// MDM push certificate (the topic as UID in the subject), valid for the
// days given, and returns its PEM files and a PKCS#12 export of both.
func opensslPushCertificate(t *testing.T, topic, days, password string) (cert, key, p12 string) {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is missing")
	}
	dir := t.TempDir()
	key, cert, p12 = filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "push.p12")
	for _, args := range [][]string{
		{"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", days, "-keyout", key, "-out", cert,
			"-subj", "/UID=" + topic + "/CN=APSP:" + topic[strings.LastIndex(topic, ".")+1:] + "/C=US"},
		{"pkcs12", "-export", "-inkey", key, "-in", cert, "-out", p12, "-passout", "pass:" + password},
	} {
		if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", args[0], err, out)
		}
	}
	return cert, key, p12
}

// TestBrowserApplePushCertificate is the push certificate's story on a
// phone-sized screen: a wrong password stores nothing; the PKCS#12 file
// shows its topic, and every admin page warns that it expires within 30
// days; the renewed one replaces it as PEM with the key apart once the
// admin confirms; deleting it asks first and says what it stops.
func TestBrowserApplePushCertificate(t *testing.T) {
	ctx := newBrowser(t)
	in := serve(t, "--data", filepath.Join(t.TempDir(), "data"))
	const topic = "com.apple.mgmt.External.3c1f4a52-8e0b-4d6c-9f27-5b8a1d0e6c43"
	_, _, p12 := opensslPushCertificate(t, topic, "20", "push-secret")
	renewedCert, renewedKey, _ := opensslPushCertificate(t, topic, "365", "unused")

	if err := browserSignIn(ctx, in.URL, "admin", in.AdminPassword, 390, 844); err != nil {
		t.Fatal(err)
	}
	text := func() string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text("body"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	fitsTheScreen := func(page string) {
		t.Helper()
		wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if wide {
			t.Errorf("%s is wider than a phone's screen", page)
		}
	}
	upload := func(password string) {
		t.Helper()
		err := chromedp.Do(ctx,
			chromedp.Navigate(in.URL+"/admin/apple/push"),
			chromedp.WaitVisible(`input[name="file"]`),
			chromedp.SetUploadFiles(`input[name="file"]`, []string{p12}),
			chromedp.SendKeys(`input[name="password"]`, password),
		)
		if err == nil {
			err = clickAndLoad(ctx, `button.primary`)
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(in.URL+"/admin/users"), chromedp.Click(`a[href="/admin/apple/push"]`), chromedp.WaitVisible(`input[name="file"]`)); err != nil {
		t.Fatal(err)
	}
	if s := text(); !strings.Contains(s, "No push certificate is uploaded") {
		t.Fatalf("the page does not say that none is uploaded:\n%s", s)
	}
	upload("not-the-password")
	if s := text(); !strings.Contains(s, "The password does not open this PKCS#12 file.") || !strings.Contains(s, "No push certificate is uploaded") {
		t.Fatalf("after a wrong password:\n%s", s)
	}
	upload("push-secret")
	s := text()
	for _, want := range []string{"The push certificate is stored", topic, "APSP:3c1f4a52", "expires soon", "The MDM push certificate expires on"} {
		if !strings.Contains(s, want) {
			t.Errorf("after the upload the page does not say %q:\n%s", want, s)
		}
	}
	screenshot(t, ctx, "admin-apple-push-phone")
	fitsTheScreen("the push certificate page")
	if err := chromedp.Do(ctx, chromedp.Navigate(in.URL+"/admin/devices"), chromedp.WaitVisible(`footer`)); err != nil {
		t.Fatal(err)
	}
	if s := text(); !strings.Contains(s, "The MDM push certificate expires on") {
		t.Errorf("the devices page does not warn:\n%s", s)
	}

	err := chromedp.Do(ctx,
		chromedp.Navigate(in.URL+"/admin/apple/push"),
		chromedp.WaitVisible(`input[name="file"]`),
		chromedp.SetUploadFiles(`input[name="file"]`, []string{renewedCert}),
		chromedp.SetUploadFiles(`input[name="key"]`, []string{renewedKey}),
		chromedp.Click(`input[name="replace"]`),
	)
	if err == nil {
		err = clickAndLoad(ctx, `button.primary`)
	}
	if err != nil {
		t.Fatal(err)
	}
	s = text()
	if !strings.Contains(s, "The push certificate is stored") || strings.Contains(s, "expires soon") || strings.Contains(s, "The MDM push certificate expires on") {
		t.Errorf("after renewing:\n%s", s)
	}

	if err := chromedp.Do(ctx, chromedp.Click(`details.confirm summary`), chromedp.WaitVisible(`button.danger`)); err != nil {
		t.Fatal(err)
	}
	if s := text(); !strings.Contains(s, "Deleting it stops all Apple management") {
		t.Errorf("the confirmation does not say what deleting stops:\n%s", s)
	}
	fitsTheScreen("the confirmation")
	if err := clickAndLoad(ctx, `button.danger`); err != nil {
		t.Fatal(err)
	}
	if s := text(); !strings.Contains(s, "The push certificate is deleted") || !strings.Contains(s, "No push certificate is uploaded") {
		t.Errorf("after deleting:\n%s", s)
	}
}
