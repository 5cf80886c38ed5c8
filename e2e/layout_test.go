package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserAdminOnAPhone looks at the admin portal on a phone-sized
// screen: every tab of the tab bar is on screen (the bar wraps rather than
// scrolls sideways), the current one is marked, and a table whose rows
// stack still says what each cell is.
func TestBrowserAdminOnAPhone(t *testing.T) {
	ctx := newBrowser(t)
	in := serve(t)
	if err := browserSignIn(ctx, in.URL, "admin", in.AdminPassword, 390, 844); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(in.URL+"/admin/audit"), chromedp.WaitVisible(`footer`)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "admin-audit-phone")
	offScreen, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("nav.tabs a")]
		.filter(a => { const r = a.getBoundingClientRect(); return r.left < 0 || r.right > window.innerWidth })
		.map(a => a.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(offScreen) != 0 {
		t.Errorf("tabs off the screen: %v", offScreen)
	}
	current, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('nav.tabs a[aria-current="page"]')].map(a => a.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(current) != 1 || current[0] != "Audit log" {
		t.Errorf("current tabs = %v, want the audit log", current)
	}
	labels, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelector("table.list tbody tr").cells]
		.map(td => getComputedStyle(td, "::before").content)`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(labels, " "); !strings.Contains(got, `"Who: "`) || !strings.Contains(got, `"What: "`) {
		t.Errorf("a stacked audit row labels its cells %v", labels)
	}
}
