package e2e

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserBranding brands the portal as an administrator in a real
// browser (name, colour, sign-in text, logo upload), then opens the
// sign-in page in a fresh browser on a phone-sized screen and finds all of
// it there.
func TestBrowserBranding(t *testing.T) {
	ctx := newBrowser(t)
	in := serve(t, "--data", filepath.Join(t.TempDir(), "data"))
	logo := filepath.Join(t.TempDir(), "logo.png")
	img := image.NewRGBA(image.Rect(0, 0, 96, 32))
	for x := range 96 {
		for y := range 32 {
			img.Set(x, y, color.RGBA{R: 0xe0, G: 0x40, B: 0x10, A: 0xff})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logo, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	if err := browserSignIn(ctx, in.URL, "admin", in.AdminPassword, 1280, 900); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(in.URL+"/admin/settings/branding"),
		chromedp.WaitVisible(`input[name="branding.name"]`),
		chromedp.SetValue(`input[name="branding.name"]`, "ACME Devices"),
		chromedp.SetValue(`input[name="branding.color"]`, "#0a7a3d"),
		chromedp.SetValue(`textarea[name="branding.login_text"]`, "Employees of ACME only.\nQuestions: extension 4711."),
	); err != nil {
		t.Fatal(err)
	}
	if err := clickAndLoad(ctx, `form[action="/admin/settings/branding"] button[type="submit"]`); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(`input[name="logo"]`, []string{logo})); err != nil {
		t.Fatal(err)
	}
	if err := clickAndLoad(ctx, `form[action="/admin/branding/logo"] button[type="submit"]`); err != nil {
		t.Fatal(err)
	}
	flash, err := chromedp.Run(ctx, chromedp.Text(`.flash`))
	if err != nil || !strings.Contains(flash, "new logo") {
		t.Fatalf("after the upload the page says %q (%v)", flash, err)
	}
	screenshot(t, ctx, "admin-branding")
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(in.URL+"/admin/backup"),
		chromedp.WaitVisible(`form[action="/admin/backup/download"] button`),
	); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "admin-backup-phone")

	fresh := newBrowser(t)
	if err := chromedp.Do(fresh,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(in.URL+"/login"),
		chromedp.WaitVisible(`.brand img.logo`),
	); err != nil {
		t.Fatal(err)
	}
	screenshot(t, fresh, "login-branded-phone")
	title, err := chromedp.Run(fresh, chromedp.Title())
	if err != nil || title != "Sign in · ACME Devices" {
		t.Errorf("title %q (%v)", title, err)
	}
	header, err := chromedp.Run(fresh, chromedp.Text(`.brand`))
	if err != nil || strings.TrimSpace(header) != "ACME Devices" {
		t.Errorf("header %q (%v)", header, err)
	}
	text, err := chromedp.Run(fresh, chromedp.Text(`.login-text`))
	if err != nil || !strings.Contains(text, "Employees of ACME only.") || !strings.Contains(text, "extension 4711") {
		t.Errorf("sign-in text %q (%v)", text, err)
	}
	loaded, err := chromedp.Run(fresh, chromedp.Evaluate[float64](`new Promise(done => {
		const img = document.querySelector('.brand img.logo');
		if (img.complete) { done(img.naturalWidth); return; }
		img.addEventListener('load', () => done(img.naturalWidth));
		img.addEventListener('error', () => done(0));
	})`, chromedp.EvalAwaitPromise))
	if err != nil || loaded != 96 {
		t.Errorf("the logo loaded %v pixels wide (%v), want 96", loaded, err)
	}
	bg, err := chromedp.Run(fresh, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('header.top')).backgroundColor`))
	if err != nil || bg != "rgb(10, 122, 61)" {
		t.Errorf("the header's colour is %q (%v), want the brand's rgb(10, 122, 61)", bg, err)
	}
	button, err := chromedp.Run(fresh, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('button.primary')).backgroundColor`))
	if err != nil || button != "rgb(10, 122, 61)" {
		t.Errorf("the sign-in button's colour is %q (%v)", button, err)
	}
}

// TestBackupThroughTheAdminPortal downloads a backup from the admin
// portal, restores it with `portico restore` into a new data directory,
// and finds the same users and devices on a server started there.
func TestBackupThroughTheAdminPortal(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	in := serve(t, "--data", data)
	password := addUser(t, []string{"--data", data}, "erin")
	run(t, "", "device", "sim", "--server", in.URL, "--platform", "android", "--user", "erin", "--password", password, "--every", "0")

	run(t, "", "--data", data, "backup", filepath.Join(dir, "cli-backup.tar.gz"))
	c := browserClient()
	if code := signIn(t, c, in.URL, "admin", in.AdminPassword); code != http.StatusSeeOther {
		t.Fatalf("admin sign-in: status %d", code)
	}
	if _, page := get(t, c, in.URL+"/admin/backup"); !strings.Contains(page, "from the command line.") {
		t.Errorf("the backup page does not record the command line's backup:\n%s", page)
	}
	res, err := c.PostForm(in.URL+"/admin/backup/download", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	archive, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/gzip" {
		t.Fatalf("download: status %d, %q, %v", res.StatusCode, res.Header.Get("Content-Type"), err)
	}
	file := filepath.Join(dir, "portal-backup.tar.gz")
	if err := os.WriteFile(file, archive, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, page := get(t, c, in.URL+"/admin/backup"); !strings.Contains(page, "by admin from the admin portal") {
		t.Errorf("the backup page does not record the download:\n%s", page)
	}
	in.stop(t)

	restored := filepath.Join(dir, "restored")
	if out := run(t, "", "--data", restored, "restore", file); !strings.Contains(out, "Restored") {
		t.Errorf("restore said %q", out)
	}
	again := serve(t, "--data", restored)
	if again.AdminPassword != "" {
		t.Error("the restored store made a new first administrator")
	}
	c = browserClient()
	if code := signIn(t, c, again.URL, "admin", in.AdminPassword); code != http.StatusSeeOther {
		t.Fatalf("admin sign-in on the restored store: status %d", code)
	}
	if code := signIn(t, browserClient(), again.URL, "erin", password); code != http.StatusSeeOther {
		t.Errorf("erin's sign-in on the restored store: status %d", code)
	}
	_, users := get(t, c, again.URL+"/admin/users")
	if !strings.Contains(users, "erin") {
		t.Errorf("the restored users page lacks erin:\n%s", users)
	}
	_, devices := get(t, c, again.URL+"/admin/devices")
	if !strings.Contains(devices, "Android") || !strings.Contains(devices, "erin") {
		t.Errorf("the restored devices page lacks erin's Android device:\n%s", devices)
	}
}
