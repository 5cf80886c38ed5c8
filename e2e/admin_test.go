package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/csv"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	domain "github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store/sqlstore"
)

// seedDevices writes devices with the given last check-ins straight into
// a running instance's database, as if they had been registered long ago.
func seedDevices(t *testing.T, data, owner string, lastCheckins map[string]time.Time) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(data, "portico.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := db.UserByUsername(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	var devices []*domain.Device
	var hashes [][]byte
	for name, seen := range lastCheckins {
		created := time.Now().Add(-90 * 24 * time.Hour)
		devices = append(devices, &domain.Device{
			UserID: u.ID, Platform: domain.PlatformAndroid, Status: domain.StatusActive, Ownership: domain.OwnershipCompany,
			Details: domain.DeviceDetails{Name: name, Model: "Pixel 8"}, CreatedAt: created, RegisteredAt: created, LastCheckin: seen,
		})
		h := sha256.Sum256([]byte(rand.Text()))
		hashes = append(hashes, h[:])
	}
	if err := db.SeedDevices(ctx, devices, hashes); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserAdminPortal is an admin's morning on a phone: switching PIN
// registration off and on again, which alice's portal follows on its next
// page; finding the devices not seen for 30 days and retiring one, with
// its confirmation; and exporting the audit log, which holds the
// retirement under the admin's name.
func TestBrowserAdminPortal(t *testing.T) {
	ctx := newBrowser(t)
	data := filepath.Join(t.TempDir(), "data")
	in := serve(t, "--data", data)
	run(t, "", "--data", data, "settings", "set", "registration.pin_enabled=true")
	alicePassword := addUser(t, []string{"--data", data}, "alice", "register_device", "request_pin")
	now := time.Now()
	seedDevices(t, data, "alice", map[string]time.Time{
		"Stale phone": now.Add(-45 * 24 * time.Hour), "Old tablet": now.Add(-31 * 24 * time.Hour),
		"Never seen": {}, "Fresh phone": now.Add(-time.Hour),
	})
	alice := browserClient()
	if status := signIn(t, alice, in.URL, "alice", alicePassword); status != 303 {
		t.Fatalf("alice signing in: status %d", status)
	}
	offersPIN := func() bool {
		t.Helper()
		_, body := get(t, alice, in.URL+"/register")
		return strings.Contains(body, `value="pin"`)
	}
	if !offersPIN() {
		t.Fatal("the portal does not offer PIN registration while it is on")
	}
	if err := browserSignIn(ctx, in.URL, "admin", in.AdminPassword, 390, 844); err != nil {
		t.Fatal(err)
	}

	// (a) PIN registration off, then on again, from the settings page.
	for _, on := range []bool{false, true} {
		err := chromedp.Do(ctx,
			chromedp.Navigate(in.URL+"/admin/settings/registration"),
			chromedp.WaitVisible(`input[type="checkbox"][name="registration.pin_enabled"]`),
			chromedp.Click(`input[type="checkbox"][name="registration.pin_enabled"]`),
		)
		if err != nil {
			t.Fatal(err)
		}
		if err := clickAndLoad(ctx, `form[action="/admin/settings/registration"] button.primary`); err != nil {
			t.Fatal(err)
		}
		if flash, _ := chromedp.Run(ctx, chromedp.Text(`.flash`)); !strings.Contains(flash, "Saved") {
			t.Errorf("no confirmation after saving: %q", flash)
		}
		if got := offersPIN(); got != on {
			t.Errorf("PIN registration switched to %t, but the portal's next page offers it: %t", on, got)
		}
	}

	// (b) The devices not seen for 30 days, and one retired.
	err := chromedp.Do(ctx,
		chromedp.Navigate(in.URL+"/admin/devices"),
		chromedp.WaitVisible(`input[name="notseen"]`),
		chromedp.SendKeys(`input[name="notseen"]`, "30"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := clickAndLoad(ctx, `form.filters button[type="submit"]`); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "admin-devices-not-seen-phone")
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "notseen=30") {
		t.Errorf("the filter is not in the address: %s", loc)
	}
	if wraps, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("form.filters").scrollWidth <= document.documentElement.clientWidth`)); !wraps {
		t.Error("the filters are wider than the phone's screen")
	}
	names, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("table.list tbody tr td:first-child a")].map(a => a.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	if want := []string{"Never seen", "Old tablet", "Stale phone"}; !slices.Equal(names, want) {
		t.Fatalf("devices not seen for 30 days: %q, want %q", names, want)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(`a[aria-label="Actions on Stale phone"]`),
		chromedp.WaitVisible(`a.action.retire`),
		chromedp.Click(`a.action.retire`),
		chromedp.WaitVisible(`button.danger`),
	)
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "admin-retire-confirm-phone")
	if err := clickAndLoad(ctx, `button.danger`); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`#commands .status.queued, #commands .status.sent`)); err != nil {
		t.Fatalf("the retirement is not under way: %v", err)
	}

	// (c) The audit log's export holds the retirement, by the admin.
	err = chromedp.Do(ctx,
		chromedp.Navigate(in.URL+"/admin/audit"),
		chromedp.WaitVisible(`input[name="action"]`),
		chromedp.SendKeys(`input[name="action"]`, "device.retire"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := clickAndLoad(ctx, `form.filters button[type="submit"]`); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "admin-audit-phone")
	// The download, fetched by the page with the admin's session.
	export, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`fetch(document.querySelector("a[download]").href).then(async r => r.headers.get("content-disposition") + "\n" + await r.text())`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	disposition, body, _ := strings.Cut(export, "\n")
	if disposition != `attachment; filename="audit.csv"` {
		t.Errorf("the export is not a download: %q", disposition)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("the export is no CSV: %v\n%s", err, body)
	}
	if len(rows) != 2 || rows[1][2] != "admin" || rows[1][3] != "device.retire" || rows[1][7] != "ok" || rows[1][8] != "Stale phone" {
		t.Errorf("the export holds %q, want the one retirement by admin", rows)
	}
}
