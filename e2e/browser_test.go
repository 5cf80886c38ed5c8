package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// newBrowser starts a headless Chromium for the test. scripts/test finds or
// installs one and names it in PORTICO_TEST_BROWSER; under CI a missing
// browser fails the test instead of skipping it.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("PORTICO_TEST_BROWSER")
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PORTICO_TEST_BROWSER is not set: run the tests with scripts/test")
		}
		t.Skip("no browser: set PORTICO_TEST_BROWSER or run scripts/test, which installs Chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		// serve on the network speaks HTTPS with its self-signed
		// certificate, which a person accepts once in the browser.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	// The first run starts the browser, which lives as long as the context of
	// that run: only the steps after it get a deadline.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// browserSignIn signs in through the sign-in page, on a screen of the
// given size.
func browserSignIn(ctx context.Context, base, user, password string, width, height int64) error {
	return chromedp.Do(ctx,
		chromedp.EmulateViewport(width, height),
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(`input[name="username"]`),
		chromedp.SendKeys(`input[name="username"]`, user),
		chromedp.SendKeys(`input[name="password"]`, password),
		chromedp.Submit(`input[name="password"]`),
		chromedp.WaitNotPresent(`input[name="password"]`),
	)
}

// clickAndLoad clicks what submits a form and waits until the page it
// leads to has replaced this one: waiting for an element alone could find
// it still on the page being left.
func clickAndLoad(ctx context.Context, sel string) error {
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.body.dataset.leaving = "yes", true`)); err != nil {
		return err
	}
	return chromedp.Do(ctx, chromedp.Click(sel), chromedp.WaitNotPresent(`body[data-leaving]`), chromedp.WaitVisible(`footer`))
}

// screenshot keeps a picture of the page when PORTICO_SCREENSHOTS names a
// directory, for people reviewing how pages look.
func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("PORTICO_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Error(err)
	}
}

// TestBrowserSignInShowsSimulatedDevice is the first-run story in a real
// browser, on a phone-sized screen: alice signs in and sees the iPhone the
// simulator registered for her, with its details.
func TestBrowserSignInShowsSimulatedDevice(t *testing.T) {
	ctx := newBrowser(t)
	data := filepath.Join(t.TempDir(), "data")
	in := serve(t, "--data", data)
	password := addUser(t, []string{"--data", data}, "alice", "lock", "wipe")
	run(t, "", "device", "sim", "--server", in.URL, "--platform", "ios", "--user", "alice", "--password", password, "--every", "0")

	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(in.URL+"/"),
		chromedp.WaitVisible(`input[name="username"]`),
	)
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "login-phone")
	err = chromedp.Do(ctx,
		chromedp.SendKeys(`input[name="username"]`, "alice"),
		chromedp.SendKeys(`input[name="password"]`, password),
		chromedp.Submit(`input[name="password"]`),
		chromedp.WaitNotPresent(`input[name="password"]`),
	)
	if err != nil {
		t.Fatal(err)
	}
	page, err := chromedp.Run(ctx, chromedp.Text("body"))
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "home-phone")
	for _, want := range []string{"Alice Example", "iPhone", "iOS 1", "Apple", "Active"} {
		if !strings.Contains(page, want) {
			t.Errorf("alice's home page does not show %q:\n%s", want, page)
		}
	}
}

// TestBrowserWelcomeMenuAndAdmin signs out through the welcome menu, then
// walks the admin portal at a desktop size as the first administrator.
func TestBrowserWelcomeMenuAndAdmin(t *testing.T) {
	ctx := newBrowser(t)
	data := filepath.Join(t.TempDir(), "data")
	in := serve(t, "--data", data)
	password := addUser(t, []string{"--data", data}, "alice", "lock")
	run(t, "", "device", "sim", "--server", in.URL, "--platform", "android", "--user", "alice", "--password", password, "--every", "0")

	if err := browserSignIn(ctx, in.URL, "alice", password, 390, 844); err != nil {
		t.Fatal(err)
	}
	err := chromedp.Do(ctx,
		chromedp.Click(`details.welcome summary`),
		chromedp.WaitVisible(`nav.menu button`),
	)
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "welcome-menu-phone")
	if err := chromedp.Do(ctx,
		chromedp.Click(`nav.menu button`),
		chromedp.WaitVisible(`input[name="username"]`),
	); err != nil {
		t.Fatal(err)
	}
	notice, err := chromedp.Run(ctx, chromedp.Text(`.flash`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notice, "signed out") {
		t.Errorf("after signing out the page says %q", notice)
	}

	if err := browserSignIn(ctx, in.URL, "admin", in.AdminPassword, 1280, 900); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(in.URL+"/admin/users")); err != nil {
		t.Fatal(err)
	}
	users, err := chromedp.Run(ctx, chromedp.Text("main"))
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "admin-users")
	if err := chromedp.Do(ctx, chromedp.Navigate(in.URL+"/admin/devices")); err != nil {
		t.Fatal(err)
	}
	devices, err := chromedp.Run(ctx, chromedp.Text("main"))
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "admin-devices")
	if !strings.Contains(users, "alice") || !strings.Contains(users, "Lock") {
		t.Errorf("the users page does not list alice with her role:\n%s", users)
	}
	if !strings.Contains(devices, "Android") || !strings.Contains(devices, "alice") {
		t.Errorf("the devices page does not list alice's Android device:\n%s", devices)
	}
}

// TestBrowserRegistrationWithAPIN walks the PIN path in a real browser on a
// phone-sized screen: the welcome menu, the PIN shown once, the pending
// card, and the card turning active once the simulated iPhone registers.
func TestBrowserRegistrationWithAPIN(t *testing.T) {
	ctx := newBrowser(t)
	d := newDelivery(t)
	if err := browserSignIn(ctx, d.URL, "alice", d.alicePassword, 390, 844); err != nil {
		t.Fatal(err)
	}
	err := chromedp.Do(ctx,
		chromedp.Click(`details.welcome summary`),
		chromedp.Click(`a[href="/register?how=pin"]`),
		chromedp.WaitVisible(`button[value="pin"]`),
	)
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "register-phone")
	if err := chromedp.Do(ctx, chromedp.Click(`button[value="pin"]`), chromedp.WaitVisible(`.pin`)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "pin-phone")
	pin, err := chromedp.Run(ctx, chromedp.Text(`.pin`))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(d.URL+"/"), chromedp.WaitVisible(`.card`)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "pending-phone")
	if card, _ := chromedp.Run(ctx, chromedp.Text(`.card`)); !strings.Contains(card, "Pending") {
		t.Errorf("the new card is not pending:\n%s", card)
	}
	run(t, "", "device", "sim", "--server", d.URL, "--platform", "ios", "--user", "alice", "--pin", strings.TrimSpace(pin), "--every", "0")
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(`.card dl.details`)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "registered-phone")
	card, err := chromedp.Run(ctx, chromedp.Text(`.card`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(card, "Active") || !strings.Contains(card, "iOS 1") {
		t.Errorf("after registering, the card shows:\n%s", card)
	}
}
