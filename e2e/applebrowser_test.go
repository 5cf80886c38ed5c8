package e2e

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	domain "github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/applesim"
	"github.com/portico-mdm/portico/internal/outbox/outboxtest"
	"github.com/portico-mdm/portico/internal/qrcode/qrcodetest"
)

// TestBrowserAppleDeviceLifecycle is the whole story of Apple devices on
// serve as on a first run on the network: the admin uploads the push
// certificate; alice registers an iPhone with a PIN and a Mac with a QR
// code; each simulated device enrolls over SCEP and checks in; then every
// action alice takes in the portal reaches the device as its Apple command
// only after a push through the stand-in (the devices poll only when
// pushed), and the portal shows each result.
func TestBrowserAppleDeviceLifecycle(t *testing.T) {
	ctx := newBrowser(t)
	w := newAppleWorld(t)
	router := newPushRouter(w.apns)
	global := []string{"--data", w.data}
	smtp := outboxtest.NewSMTPServer(t, tls.Certificate{}, "none")
	run(t, "", "--data", w.data, "settings", "set", "registration.pin_enabled=true", "registration.qr_enabled=true",
		"registration.default_ownership=company", "actions.wipe_grace=0s",
		"mail.host=127.0.0.1", "mail.port="+smtp.Port, "mail.security=none", "mail.from=mdm@example.com")
	password := addUser(t, global, "alice", "register_device", "request_pin", "generate_qr",
		"lock", "unlock", "locate", "wipe", "retire", "force_checkin")

	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return s
	}
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}

	// The admin uploads the push certificate.
	if err := browserSignIn(ctx, w.URL, "admin", w.AdminPassword, 1280, 900); err != nil {
		t.Fatal(err)
	}
	do("opening the push page", chromedp.Navigate(w.URL+"/admin/apple/push"), chromedp.WaitVisible(`input[name="file"]`),
		chromedp.SetUploadFiles(`input[name="file"]`, []string{pushCertificateFile(t)}))
	if err := clickAndLoad(ctx, `button.primary`); err != nil {
		t.Fatal(err)
	}
	if s := text("body"); !strings.Contains(s, "The push certificate is stored") || !strings.Contains(s, appleTopic) {
		t.Fatalf("after the upload:\n%s", s)
	}
	if err := browserSignOut(ctx); err != nil {
		t.Fatal(err)
	}

	// Alice asks for a PIN for her iPhone; the iPhone opens the link she
	// was mailed and gives the PIN.
	if err := browserSignIn(ctx, w.URL, "alice", password, 390, 844); err != nil {
		t.Fatal(err)
	}
	startRegistration := func(platform domain.Platform, how string) {
		t.Helper()
		do("starting a registration", chromedp.Navigate(w.URL+"/register"),
			chromedp.WaitVisible(`input[name="platform"][value="`+string(platform)+`"]`),
			chromedp.Click(`input[name="platform"][value="`+string(platform)+`"]`))
		if err := clickAndLoad(ctx, `button[value="`+how+`"]`); err != nil {
			t.Fatal(err)
		}
	}
	startRegistration(domain.PlatformIOS, "pin")
	pin := strings.TrimSpace(text(".pin"))
	mailed := smtp.WaitMail(t, 30*time.Second, func(m outboxtest.Mail) bool { return strings.Join(m.To, ",") == "alice@example.com" })
	mailedLink := regexp.MustCompile(`/go\?t=([A-Za-z0-9_-]+)`).FindStringSubmatch(mailText(t, mailed))
	if mailedLink == nil {
		t.Fatalf("the invitation mail has no link:\n%s", mailText(t, mailed))
	}
	phone := w.newAppleDevice(t, domain.PlatformIOS, 0)
	if err := phone.Enroll(t.Context(), nil, applesim.Registration{Server: w.URL, Username: "alice", PIN: pin, Token: mailedLink[1]}); err != nil {
		t.Fatalf("the iPhone's enrollment: %v", err)
	}
	router.add(t, phone)
	received(t, phone, "SecurityInfo", 1)

	// The portal shows the iPhone active, with what DeviceInformation said.
	m := phone.Model()
	do("opening the home page", chromedp.Navigate(w.URL+"/"), chromedp.WaitVisible(`.card`))
	phonePage := w.URL + devicePath(t, ctx, m.DeviceName)
	do("opening the iPhone", chromedp.Navigate(phonePage), chromedp.WaitVisible(`dl.details`))
	head, details := text(".device-head"), text("dl.details")
	for _, want := range []string{m.ProductName, "iOS " + m.OSVersion, m.SerialNumber, strings.ReplaceAll(m.SIM.IMEI, " ", ""), m.SIM.PhoneNumber, m.SIM.Carrier} {
		if !strings.Contains(details, want) {
			t.Errorf("the iPhone's details do not show %q:\n%s", want, details)
		}
	}
	if !strings.Contains(head, "Active") || !strings.Contains(head, m.DeviceName) {
		t.Errorf("the iPhone's head:\n%s", head)
	}

	// act clicks an action on the device page, and checks that the device
	// got the command after a push, and that the page shows it done.
	act := func(d *applesim.Device, step string, click func(), requestType string) applesim.Received {
		t.Helper()
		before := router.pushes(d)
		n := 1
		for _, r := range d.Received() {
			if r.RequestType == requestType {
				n++
			}
		}
		click()
		got := received(t, d, requestType, n)
		if router.pushes(d) <= before {
			t.Errorf("%s: the device got %s without a push", step, requestType)
		}
		return got
	}
	button := func(kind string) func() {
		return func() {
			if err := clickAndLoad(ctx, `button.action.`+kind); err != nil {
				t.Fatalf("clicking %s: %v", kind, err)
			}
		}
	}
	// doneOnPage waits until the newest action on the page, which updates
	// by itself, is the one labelled and done.
	doneOnPage := func(label string) {
		t.Helper()
		waitFor(t, label+" shown done", func() bool {
			done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
				const row = document.querySelector("#commands tbody tr:first-child");
				return !!row && row.cells[0].textContent.trim() === `+jsString(label)+` && !!row.querySelector(".status.done");
			})()`))
			return err == nil && done
		})
	}

	// NotNow: the locked iPhone puts the lock off; the next poll gets it.
	phone.AnswerNotNow(1)
	if r := act(phone, "lock", button("lock"), "DeviceLock"); r.Status != "NotNow" {
		t.Fatalf("the lock was answered %s, want NotNow", r.Status)
	}
	if s := text(`#commands tbody tr:first-child`); !strings.Contains(s, "Lock") || strings.Contains(s, "Done") {
		t.Errorf("after NotNow the lock shows:\n%s", s)
	}
	if _, err := phone.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := received(t, phone, "DeviceLock", 2); r.Status != "Acknowledged" {
		t.Errorf("the lock at the next poll: %s", r.Status)
	}
	doneOnPage("Lock")

	act(phone, "unlock", button("unlock"), "ClearPasscode")
	doneOnPage("Unlock")

	// Locate warns of Lost Mode first, then shows where the iPhone is.
	act(phone, "locate", func() {
		do("opening Locate", chromedp.Click(`a.action.locate`), chromedp.WaitVisible(`form button.primary`))
		if s := text("main"); !strings.Contains(s, "Lost Mode") {
			t.Errorf("the locate page does not warn of Lost Mode:\n%s", s)
		}
		if err := clickAndLoad(ctx, `form button.primary`); err != nil {
			t.Fatal(err)
		}
	}, "EnableLostMode")
	received(t, phone, "DeviceLocation", 1)
	do("the location shown", chromedp.WaitVisible(`#live .panel p strong`))
	if s := text("#live"); !regexp.MustCompile(`Within \d+ m of -?\d+\.\d{5}, -?\d+\.\d{5}`).MatchString(s) {
		t.Errorf("no location on the page:\n%s", s)
	}
	doneOnPage("Locate")
	if !phone.LostMode() {
		t.Error("the iPhone is not in Lost Mode")
	}
	do("reloading", chromedp.Reload(), chromedp.WaitVisible(`button.action.end_lost_mode`))
	act(phone, "end Lost Mode", button("end_lost_mode"), "DisableLostMode")
	doneOnPage("End Lost Mode")
	if phone.LostMode() {
		t.Error("the iPhone is still in Lost Mode")
	}

	act(phone, "force check-in", button("checkin"), "DeviceInformation")
	received(t, phone, "SecurityInfo", 2)
	doneOnPage("Force check-in")

	// Wipe: the name is asked for; with no grace period it goes at once.
	name := strings.TrimSpace(text(".device-head h2"))
	act(phone, "wipe", func() {
		do("confirming the wipe", chromedp.Navigate(phonePage+"/wipe"), chromedp.WaitVisible(`input[name="confirm"]`),
			chromedp.SendKeys(`input[name="confirm"]`, name))
		if err := clickAndLoad(ctx, `button.danger`); err != nil {
			t.Fatal(err)
		}
	}, "EraseDevice")
	doneOnPage("Wipe")
	do("the iPhone shown wiped", chromedp.Reload(), chromedp.WaitVisible(`.device-head .status.wiped`))

	// A Mac, registered with the QR code's link and alice's password.
	startRegistration(domain.PlatformMacOS, "qr")
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('a[download="registration-qr.png"]').getAttribute("href")`))
	if err != nil {
		t.Fatal(err)
	}
	png, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(html.UnescapeString(href), "data:image/png;base64,"))
	if err != nil {
		t.Fatal(err)
	}
	link, err := url.Parse(qrcodetest.DecodePNG(t, png))
	if err != nil || link.Path != "/go" {
		t.Fatalf("the QR code holds %v", link)
	}
	mac := w.newAppleDevice(t, domain.PlatformMacOS, 1)
	if err := mac.Enroll(t.Context(), nil, applesim.Registration{Server: w.URL, Username: "alice", Password: password, Token: link.Query().Get("t")}); err != nil {
		t.Fatalf("the Mac's enrollment: %v", err)
	}
	router.add(t, mac)
	received(t, mac, "SecurityInfo", 1)
	do("opening the home page", chromedp.Navigate(w.URL+"/"), chromedp.WaitVisible(`.card`))
	macPage := w.URL + devicePath(t, ctx, mac.Model().DeviceName)
	do("opening the Mac", chromedp.Navigate(macPage), chromedp.WaitVisible(`button.action.lock`))
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("button.action.unlock").length`)); n != 0 {
		t.Error("the Mac offers Unlock")
	}
	var flash string
	lock := act(mac, "the Mac's lock", func() {
		if err := clickAndLoad(ctx, `button.action.lock`); err != nil {
			t.Fatal(err)
		}
		flash = text("p.pin")
	}, "DeviceLock")
	// The page answering the lock shows the PIN, once.
	shown := regexp.MustCompile(`^(\d{6})$`).FindStringSubmatch(strings.TrimSpace(flash))
	if shown == nil || lock.Command["PIN"] != shown[1] {
		t.Fatalf("the Mac got the PIN %v; the portal showed %q", lock.Command["PIN"], flash)
	}
	do("back to the Mac", chromedp.Navigate(macPage), chromedp.WaitVisible(`button.action.lock`))
	doneOnPage("Lock")
	if s := text("body"); strings.Contains(s, shown[1]) {
		t.Error("the Mac's PIN is shown a second time")
	}

	act(mac, "the Mac's retirement", func() {
		do("opening Retire", chromedp.Navigate(macPage+"/retire"), chromedp.WaitVisible(`button.danger`))
		if err := clickAndLoad(ctx, `button.danger`); err != nil {
			t.Fatal(err)
		}
	}, "RemoveProfile")
	waitFor(t, "the Mac to remove its enrollment", func() bool { return mac.Gone() != "" })
	do("the Mac shown retired", chromedp.Navigate(macPage), chromedp.WaitVisible(`.device-head .status.retired`))
}

// devicePath finds on the home page the link to the device of this name.
func devicePath(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	path, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const card = [...document.querySelectorAll(".card")].find(c => c.textContent.includes(`+jsString(name)+`));
		return card ? card.querySelector('p.more a').getAttribute("href") : "";
	})()`))
	if err != nil || path == "" {
		t.Fatalf("no card of %s on the home page (%v)", name, err)
	}
	return path
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
