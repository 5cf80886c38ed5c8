package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TestBrowserTwoStepSignIn sets up two-step sign-in in a real browser on a
// phone-sized screen, reading the key off the page as a person would type
// it into an app; then signs in with password and code, and with a
// recovery code, which works once.
func TestBrowserTwoStepSignIn(t *testing.T) {
	ctx := newBrowser(t)
	data := filepath.Join(t.TempDir(), "data")
	in := serve(t, "--data", data)
	password := addUser(t, []string{"--data", data}, "alice", "lock")

	if err := browserSignIn(ctx, in.URL, "alice", password, 390, 844); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(in.URL+"/account/two-factor"), chromedp.WaitVisible(`footer`)); err != nil {
		t.Fatal(err)
	}
	if err := clickAndLoad(ctx, `form[action="/account/two-factor/start"] button`); err != nil {
		t.Fatal(err)
	}
	secret, err := chromedp.Run(ctx, chromedp.Text(`#totp-secret`))
	if err != nil {
		t.Fatal(err)
	}
	if qr, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelectorAll(".qr-code svg").length === 1`)); err != nil || !qr {
		t.Fatalf("no QR code on the set-up page: %v", err)
	}
	screenshot(t, ctx, "two-factor-setup-phone")
	if err := chromedp.Do(ctx, chromedp.SendKeys(`form[action="/account/two-factor/confirm"] input[name="code"]`, totpAt(t, secret, time.Now()))); err != nil {
		t.Fatal(err)
	}
	if err := clickAndLoad(ctx, `form[action="/account/two-factor/confirm"] button`); err != nil {
		t.Fatal(err)
	}
	codes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".recovery-codes code")].map(e => e.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes on the page, want 10", len(codes))
	}
	screenshot(t, ctx, "two-factor-codes-phone")

	// The code that switched it on is spent; the next step's code is
	// within the accepted skew, so the test need not wait for it.
	signInWithCode := func(code string) (string, error) {
		t.Helper()
		if err := browserSignOut(ctx); err != nil {
			t.Fatal(err)
		}
		if err := browserSignIn(ctx, in.URL, "alice", password, 390, 844); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.WaitVisible(`input[name="code"]`), chromedp.SendKeys(`input[name="code"]`, code)); err != nil {
			t.Fatal(err)
		}
		if err := clickAndLoad(ctx, `form[action="/login/code"] button`); err != nil {
			t.Fatal(err)
		}
		return chromedp.Run(ctx, chromedp.Text("main"))
	}
	for _, tc := range []struct {
		name, code, want string
	}{
		{"password and code", totpAt(t, secret, time.Now().Add(30*time.Second)), "Your devices"},
		{"a recovery code", codes[0], "Your devices"},
		{"the recovery code again", codes[0], "The code is wrong"},
	} {
		page, err := signInWithCode(tc.code)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(page, tc.want) {
			t.Errorf("%s: the page does not say %q:\n%s", tc.name, tc.want, page)
		}
	}

	// The operator switches it off at the command line: the password alone
	// signs in again.
	if out := run(t, "", "--data", data, "user", "reset-2fa", "alice"); !strings.Contains(out, "alice is off") {
		t.Errorf("reset-2fa printed %q", out)
	}
	if err := browserSignIn(ctx, in.URL, "alice", password, 390, 844); err != nil {
		t.Fatal(err)
	}
	if page, err := chromedp.Run(ctx, chromedp.Text("main")); err != nil || !strings.Contains(page, "Your devices") {
		t.Errorf("sign-in after the reset: %v\n%s", err, page)
	}
}

// TestAdminAllowListRefusesAdminPortal closes the admin portal to every
// network but one the test is not in, from the command line: the admin
// portal refuses the admin, the user portal still serves them.
func TestAdminAllowListRefusesAdminPortal(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	in := serve(t, "--data", data)
	run(t, "", "--data", data, "settings", "set", "access.admin_networks=192.0.2.0/24")
	c := browserClient()
	if status := signIn(t, c, in.URL, "admin", in.AdminPassword); status != http.StatusSeeOther {
		t.Fatalf("sign-in: status %d", status)
	}
	if status, body := get(t, c, in.URL+"/admin/users"); status != http.StatusForbidden || !strings.Contains(body, "Access from your network is not allowed") {
		t.Errorf("admin portal: status %d", status)
	}
	if status, _ := get(t, c, in.URL+"/"); status != http.StatusOK {
		t.Errorf("user portal: status %d", status)
	}
	// The command line is the way back in.
	run(t, "", "--data", data, "settings", "set", "access.admin_networks=")
	if status, _ := get(t, c, in.URL+"/admin/users"); status != http.StatusOK {
		t.Errorf("admin portal after clearing the list: status %d", status)
	}
}

// browserSignOut signs out through the welcome menu.
func browserSignOut(ctx context.Context) error {
	return chromedp.Do(ctx,
		chromedp.Click(`details.welcome summary`),
		chromedp.WaitVisible(`nav.menu button`),
		chromedp.Click(`nav.menu button`),
		chromedp.WaitVisible(`input[name="username"]`),
	)
}

func totpAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(strings.TrimSpace(secret), at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}
