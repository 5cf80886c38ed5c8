package e2e

import (
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserDeviceActions is the actions story in a real browser: alice
// locks her company phone and watches the lock go from queued to done
// without a reload, sees where the phone is, finds no location on her
// personal phone, cancels a wipe in its grace period and then lets one go,
// after which the phone is wiped and its agent is refused; a lock that the
// personal phone ignores expires.
func TestBrowserDeviceActions(t *testing.T) {
	ctx := newBrowser(t)
	data := filepath.Join(t.TempDir(), "data")
	in := serve(t, "--data", data)
	run(t, "", "--data", data, "settings", "set", "actions.wipe_grace=8s", "actions.answer_timeout=10s", "registration.default_ownership=company")
	password := addUser(t, []string{"--data", data}, "alice", "lock", "locate", "wipe")
	sim := func(args ...string) (int64, <-chan string) {
		return startSim(t, append([]string{"device", "sim", "--server", in.URL, "--user", "alice", "--password", password, "--every", "1h"}, args...)...)
	}
	company, companyOut := sim("--platform", "ios")
	run(t, "", "--data", data, "settings", "set", "registration.default_ownership=employee")
	personal, _ := sim("--platform", "android", "--ignore", "lock")

	companyPage := in.URL + "/devices/" + strconv.FormatInt(company, 10)
	personalPage := in.URL + "/devices/" + strconv.FormatInt(personal, 10)
	if err := browserSignIn(ctx, in.URL, "alice", password, 390, 844); err != nil {
		t.Fatal(err)
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(companyPage),
		chromedp.Click(`button[value="lock"], button.action.lock`),
		chromedp.WaitVisible(`#commands .status.queued, #commands .status.sent, #commands .status.done`),
	)
	if err != nil {
		t.Fatal(err)
	}
	// A mark on the page that a reload would wipe out.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded = true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`#commands .status.done`)); err != nil {
		t.Fatalf("the lock never showed as done: %v", err)
	}
	if stayed, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded === true`)); err != nil || !stayed {
		t.Errorf("the page reloaded to show the lock done (%v)", err)
	}
	screenshot(t, ctx, "locked-phone")

	// Locate: the company phone's location appears, still without a reload.
	if err := chromedp.Do(ctx, chromedp.Click(`button.action.locate`), chromedp.WaitVisible(`.map svg`)); err != nil {
		t.Fatalf("no map after locating: %v", err)
	}
	live, _ := chromedp.Run(ctx, chromedp.Text(`#live`))
	if !regexp.MustCompile(`Within \d+ m of -?\d+\.\d{5}, -?\d+\.\d{5}`).MatchString(live) {
		t.Errorf("no coordinates:\n%s", live)
	}
	screenshot(t, ctx, "located-phone")

	// The personal phone offers no location, and its ignored lock expires.
	if err := chromedp.Do(ctx, chromedp.Navigate(personalPage), chromedp.WaitVisible(`button.action.lock`)); err != nil {
		t.Fatal(err)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("button.action.locate").length`)); n != 0 {
		t.Error("the personal phone offers Locate")
	}
	if err := chromedp.Do(ctx, chromedp.Click(`button.action.lock`), chromedp.WaitVisible(`#commands .status.expired`)); err != nil {
		t.Fatalf("the ignored lock never expired: %v", err)
	}

	// Wipe: the name is asked for; a wipe cancelled in its grace period
	// never reaches the phone; the next one does.
	if err := chromedp.Do(ctx, chromedp.Navigate(companyPage), chromedp.WaitVisible(`.device-head h2`)); err != nil {
		t.Fatal(err)
	}
	name, err := chromedp.Run(ctx, chromedp.Text(`.device-head h2`))
	if err != nil {
		t.Fatal(err)
	}
	wipe := func() {
		t.Helper()
		err := chromedp.Do(ctx,
			chromedp.Navigate(companyPage+"/wipe"),
			chromedp.WaitVisible(`input[name="confirm"]`),
			chromedp.SendKeys(`input[name="confirm"]`, name),
			chromedp.Click(`button.danger`),
			chromedp.WaitVisible(`#commands .status.held`),
		)
		if err != nil {
			t.Fatal(err)
		}
	}
	wipe()
	screenshot(t, ctx, "wipe-held-phone")
	if err := chromedp.Do(ctx, chromedp.Click(`#commands .link-button`), chromedp.WaitVisible(`#commands .status.cancelled`)); err != nil {
		t.Fatalf("cancelling the wipe: %v", err)
	}
	wipe()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`#commands tr:first-child .status.done`)); err != nil {
		t.Fatalf("the released wipe never showed as done: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(`.device-head .status.wiped`)); err != nil {
		t.Fatalf("the phone does not show as wiped: %v", err)
	}
	screenshot(t, ctx, "wiped-phone")
	expectLine(t, companyOut, regexp.MustCompile(`wiped`))
}
