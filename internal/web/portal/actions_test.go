package portal_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/server/servertest"
)

func TestCardOffersTheActionsOfTheRoles(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false, portico.RoleLock, portico.RoleWipe)
	d, _ := e.RegisterDevice("alice", portico.PlatformIOS, iPhone)
	home := e.Get(e.SignIn("alice"), "/").Body
	for _, want := range []string{`name="kind" value="lock"`, `href="/devices/` + itoa(d.ID) + `/wipe"`} {
		if !strings.Contains(home, want) {
			t.Errorf("the card lacks %s", want)
		}
	}
	for _, unwanted := range []string{`value="unlock"`, `value="locate"`, "/retire"} {
		if strings.Contains(home, unwanted) {
			t.Errorf("the card offers %s without the role", unwanted)
		}
	}
}

func TestLockShowsItsLife(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false, portico.RoleLock)
	d, _ := e.RegisterDevice("alice", portico.PlatformIOS, iPhone)
	alice := e.SignIn("alice")
	path := "/devices/" + itoa(d.ID)
	res := e.PostForm(alice, path+"/actions", url.Values{"kind": {"lock"}})
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != path {
		t.Fatalf("lock: status %d to %q", res.Status, res.Header.Get("Location"))
	}
	page := e.Get(alice, path).Body
	if !strings.Contains(page, "Lock sent") || !strings.Contains(page, `hx-get="`+path+`/commands"`) || !strings.Contains(page, "Queued") {
		t.Errorf("the device page does not show the queued lock updating itself:\n%s", page)
	}
	refresh, _ := http.NewRequest(http.MethodGet, e.URL+path+"/commands", nil)
	refresh.Header.Set("HX-Request", "true")
	fragment := e.Do(alice, refresh).Body
	if strings.Contains(fragment, "<html") || !strings.Contains(fragment, `id="live"`) {
		t.Errorf("the refresh is not the list alone:\n%s", fragment)
	}
	if res := e.Get(alice, path+"/commands"); res.Status != http.StatusSeeOther || res.Header.Get("Location") != path {
		t.Errorf("the list opened directly: status %d to %q, want the device page", res.Status, res.Header.Get("Location"))
	}
	e.AddUser("bob", false, portico.RoleLock)
	if res := e.Get(e.SignIn("bob"), path+"/commands"); res.Status != http.StatusNotFound && res.Status != http.StatusForbidden {
		t.Errorf("another user opening the list: status %d", res.Status)
	}
	if res := e.PostForm(alice, path+"/actions", url.Values{"kind": {"lock"}}); res.Status != http.StatusConflict || !strings.Contains(res.Body, "already under way") {
		t.Errorf("a second lock: status %d", res.Status)
	}
	if res := e.PostForm(alice, path+"/actions", url.Values{"kind": {"wipe"}, "confirm": {"Alice's iPhone"}}); res.Status != http.StatusForbidden {
		t.Errorf("a wipe without the role: status %d", res.Status)
	}
}

func TestWipeAsksForTheNameAndCanBeCancelled(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("alice", false, portico.RoleWipe)
	d, _ := e.RegisterDevice("alice", portico.PlatformIOS, iPhone)
	alice := e.SignIn("alice")
	path := "/devices/" + itoa(d.ID)
	if page := e.Get(alice, path+"/wipe"); page.Status != http.StatusOK || !strings.Contains(html.UnescapeString(page.Body), "To confirm, type the device's name: <strong>Alice's iPhone</strong>") {
		t.Fatalf("the wipe page: status %d", page.Status)
	}
	res := e.PostForm(alice, path+"/actions", url.Values{"kind": {"wipe"}, "confirm": {"alice's iphone"}})
	if res.Status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(res.Body), "type its name exactly") {
		t.Fatalf("a wrong name: status %d", res.Status)
	}
	if cmds, _ := e.Service.Commands(e.Op, d.ID); len(cmds) != 0 {
		t.Fatal("a refused wipe left a command")
	}
	res = e.PostForm(alice, path+"/actions", url.Values{"kind": {"wipe"}, "confirm": {"Alice's iPhone"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("wipe: status %d", res.Status)
	}
	page := html.UnescapeString(e.Get(alice, path).Body)
	if !strings.Contains(page, "Waiting to be released") || !strings.Contains(page, "in 60 seconds") {
		t.Errorf("the held wipe shows no countdown:\n%s", page)
	}
	cancel := regexp.MustCompile(`action="(/commands/\d+/cancel)"`).FindStringSubmatch(page)
	if cancel == nil {
		t.Fatal("no cancel button")
	}
	if res := e.PostForm(alice, cancel[1], nil); res.Status != http.StatusSeeOther {
		t.Fatalf("cancel: status %d", res.Status)
	}
	page = e.Get(alice, path).Body
	if !strings.Contains(page, "Cancelled: the wipe will not reach the device") || strings.Contains(page, "hx-trigger") {
		t.Errorf("after cancelling, the page does not say so or still refreshes itself")
	}
}

func TestLocationAndMap(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	e.AddUser("alice", false, portico.RoleLocate)
	d, token := e.RegisterDevice("alice", portico.PlatformIOS, iPhone)
	alice := e.SignIn("alice")
	path := "/devices/" + itoa(d.ID)
	if page := e.Get(alice, path).Body; strings.Contains(page, `value="locate"`) {
		t.Fatal("an employee-owned device offers Locate")
	}
	if res := e.PostForm(alice, path+"/actions", url.Values{"kind": {"locate"}}); res.Status != http.StatusForbidden || !strings.Contains(res.Body, "privacy policy") {
		t.Fatalf("locating an employee-owned device: status %d", res.Status)
	}
	if res := e.PostForm(e.SignIn("root"), path+"/ownership", url.Values{"ownership": {"company"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("the admin making it company-owned: status %d", res.Status)
	}
	if res := e.PostForm(alice, path+"/actions", url.Values{"kind": {"locate"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("locate: status %d", res.Status)
	}
	// The page loaded before the answer already lets tiles in: the location
	// arrives by the live refresh, under the policy the page loaded with.
	if res := e.Get(alice, path); !strings.Contains(res.Header.Get("Content-Security-Policy"), "https://tile.openstreetmap.org") {
		t.Errorf("before the location arrives the page may not load tiles (CSP %q)", res.Header.Get("Content-Security-Policy"))
	}
	answerAll(t, e, token, `{"latitude": 47.3769, "longitude": 8.5417, "accuracy_m": 20, "at": "2026-03-02T08:59:00Z"}`)
	res, err := alice.Get(e.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body := e.Get(alice, path).Body
	if !strings.Contains(body, "47.37690, 8.54170") || !strings.Contains(body, "Within 20 m") {
		t.Errorf("the coordinates are not shown:\n%s", body)
	}
	if !strings.Contains(body, `src="https://tile.openstreetmap.org/16/`) || !strings.Contains(res.Header.Get("Content-Security-Policy"), "img-src 'self' data: https://tile.openstreetmap.org") {
		t.Errorf("no map, or the page may not load its tiles (CSP %q)", res.Header.Get("Content-Security-Policy"))
	}
}

// answerAll has the device collect its commands and answer each done.
func answerAll(t *testing.T, e *servertest.Env, token, data string) {
	t.Helper()
	d, err := e.Service.AuthenticateDevice(e.Op, token)
	if err != nil {
		t.Fatal(err)
	}
	ctx := portico.NewContextWithActor(e.Op, portico.Actor{Device: d})
	cmds, err := e.Service.Checkin(ctx, d.Details)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if _, err := e.Service.ReportResult(ctx, c.ID, portico.CommandResult{Status: portico.CommandDone, Data: json.RawMessage(data)}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLocatePage: the page before locating warns of Lost Mode only for the
// devices it concerns, and a refusal says why.
func TestLocatePage(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	e.AddUser("alice", false, portico.RoleLocate)
	e.AddUser("bob", false, portico.RoleLock)
	pixel, _ := e.RegisterDevice("alice", portico.PlatformAndroid, portico.DeviceDetails{Name: "Alice's Pixel", Model: "Pixel 8"})
	phone, _ := e.RegisterDevice("bob", portico.PlatformAndroid, portico.DeviceDetails{Name: "Bob's Pixel", Model: "Pixel 8"})
	root, alice, bob := e.SignIn("root"), e.SignIn("alice"), e.SignIn("bob")
	path := "/devices/" + itoa(pixel.ID)

	// Employee-owned: the privacy policy's reason, not a bare refusal.
	res := e.Get(alice, path+"/locate")
	if res.Status != http.StatusForbidden || !strings.Contains(res.Body, "privacy policy does not let the company locate employee-owned devices") {
		t.Errorf("locate page of an employee-owned device: status %d, want the privacy policy's reason:\n%s", res.Status, res.Body)
	}
	for _, d := range []int64{pixel.ID, phone.ID} {
		if res := e.PostForm(root, "/devices/"+itoa(d)+"/ownership", url.Values{"ownership": {"company"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("making device %d company-owned: status %d", d, res.Status)
		}
	}
	res = e.Get(bob, "/devices/"+itoa(phone.ID)+"/locate")
	if res.Status != http.StatusForbidden || !strings.Contains(res.Body, "Your account may not locate devices") {
		t.Errorf("locate page without the role: status %d:\n%s", res.Status, res.Body)
	}

	res = e.Get(alice, path+"/locate")
	body := html.UnescapeString(res.Body)
	if res.Status != http.StatusOK || !strings.Contains(body, "<h1>Locate Alice's Pixel?</h1>") || !strings.Contains(body, ">Locate it</button>") {
		t.Fatalf("locate page of a company-owned Android device: status %d:\n%s", res.Status, body)
	}
	if strings.Contains(body, "Lost Mode") || strings.Contains(body, "iPhone") {
		t.Errorf("the locate page of an Android device speaks of iPhones' Lost Mode:\n%s", body)
	}
	// The device page locates an agent's device at once, without this page.
	if page := e.Get(alice, path).Body; !strings.Contains(page, `value="locate"`) || strings.Contains(page, `href="`+path+`/locate"`) {
		t.Errorf("the device page does not locate the Android device directly:\n%s", page)
	}
}
