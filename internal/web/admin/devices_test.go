package admin_test

import (
	"encoding/csv"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/store"
	"github.com/portico-mdm/portico/internal/web/admin"
)

// readCSV parses a download, failing the test unless it is one.
func readCSV(t *testing.T, res servertest.Response) [][]string {
	t.Helper()
	if res.Status != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("status %d, type %q:\n%s", res.Status, res.Header.Get("Content-Type"), res.Body)
	}
	rows, err := csv.NewReader(strings.NewReader(res.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// column returns one column of a CSV's rows, by its header's name.
func column(t *testing.T, rows [][]string, name string) []string {
	t.Helper()
	i := slices.Index(rows[0], name)
	if i < 0 {
		t.Fatalf("no column %q in %q", name, rows[0])
	}
	out := []string{}
	for _, r := range rows[1:] {
		out = append(out, r[i])
	}
	return out
}

var deviceLink = regexp.MustCompile(`<td><a href="/devices/\d+">([^<]*)</a>`)

// listed returns the names of the devices a device list shows.
func listed(body string) []string {
	out := []string{}
	for _, m := range deviceLink.FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

func TestDeviceFilters(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	e.AddUser("alice", false)
	e.AddUser("bob", false)
	old, _ := e.RegisterDevice("alice", portico.PlatformAndroid, portico.DeviceDetails{Name: "Old Pixel", Model: "Pixel 6", Serial: "SN-OLD"})
	e.RegisterDevice("bob", portico.PlatformIOS, portico.DeviceDetails{Name: "=HYPERLINK(\"http://evil\")", Model: "iPhone15,2"})
	e.Clock.Advance(40 * 24 * time.Hour)
	e.RegisterDevice("alice", portico.PlatformIOS, portico.DeviceDetails{Name: "New iPhone", Model: "iPhone16,1", Serial: "SN-NEW"})
	e.RegisterDevice("bob", portico.PlatformWindows, portico.DeviceDetails{Name: "Bob's laptop", Model: "ThinkPad"})
	if _, err := e.Service.Act(e.Op, old.ID, portico.CommandRetire, "retire"); err != nil {
		t.Fatal(err)
	}
	root := e.SignIn("root")

	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"Old Pixel", `=HYPERLINK("http://evil")`, "New iPhone", "Bob's laptop"}},
		{"notseen=30", []string{"Old Pixel", `=HYPERLINK("http://evil")`}},
		{"notseen=30&platform=android", []string{"Old Pixel"}},
		{"owner=ALICE", []string{"Old Pixel", "New iPhone"}},
		{"owner=alice&notseen=30", []string{"Old Pixel"}},
		{"q=sn-", []string{"Old Pixel", "New iPhone"}},
		{"q=bob", []string{`=HYPERLINK("http://evil")`, "Bob's laptop"}},
		{"q=thinkpad&ownership=employee", []string{"Bob's laptop"}},
		{"ownership=company", []string{}},
		{"status=active&platform=ios", []string{`=HYPERLINK("http://evil")`, "New iPhone"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			res := e.Get(root, "/admin/devices?"+tt.query)
			if res.Status != http.StatusOK {
				t.Fatalf("status %d:\n%s", res.Status, res.Body)
			}
			if got := listed(res.Body); !slices.Equal(got, tt.want) {
				t.Errorf("listed %q, want %q", got, tt.want)
			}
			q, _ := url.ParseQuery(tt.query)
			if want := html.EscapeString("/admin/devices/export?" + q.Encode()); !strings.Contains(res.Body, `href="`+want+`"`) {
				t.Errorf("no export link %s of the same filter", want)
			}
			rows := readCSV(t, e.Get(root, "/admin/devices/export?"+tt.query))
			var neutral []string
			for _, name := range tt.want {
				if strings.HasPrefix(name, "=") {
					name = "'" + name
				}
				neutral = append(neutral, name)
			}
			if got := column(t, rows, "name"); !slices.Equal(got, neutral) {
				t.Errorf("exported %q, want %q", got, neutral)
			}
		})
	}

	refusals := []struct{ query, want string }{
		{"platform=palm", "not a platform"},
		{"status=lost", "not a device status"},
		{"ownership=mine", "not an ownership"},
		{"notseen=soon", "not a number of days"},
		{"notseen=0", "not a number of days"},
		{"q=" + strings.Repeat("x", 101), "at most 100 characters"},
	}
	for _, tt := range refusals {
		t.Run(tt.query, func(t *testing.T) {
			res := e.Get(root, "/admin/devices?"+tt.query)
			if res.Status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(res.Body), tt.want) {
				t.Errorf("status %d, want 400 with %q:\n%s", res.Status, tt.want, res.Body)
			}
			if strings.Contains(res.Body, "Export as CSV") {
				t.Error("an invalid filter offers an export")
			}
			if res := e.Get(root, "/admin/devices/export?"+tt.query); res.Status != http.StatusBadRequest || strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
				t.Errorf("export: status %d, type %q", res.Status, res.Header.Get("Content-Type"))
			}
		})
	}
}

func TestDevicePagesKeepTheFilter(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	bob := e.AddUser("bob", false)
	const n = 230
	devices := make([]*portico.Device, n)
	hashes := make([][]byte, n)
	for i := range devices {
		p := portico.PlatformAndroid
		if i%2 == 1 {
			p = portico.PlatformIOS
		}
		devices[i] = &portico.Device{UserID: bob.ID, Platform: p, Status: portico.StatusActive, Ownership: portico.OwnershipCompany,
			Details: portico.DeviceDetails{Name: fmt.Sprintf("device %03d", i)}, CreatedAt: e.Clock.Now()}
		_, hashes[i] = secret.NewToken()
	}
	if err := e.Store.SeedDevices(e.Op, devices, hashes); err != nil {
		t.Fatal(err)
	}
	root := e.SignIn("root")
	path := "/admin/devices?platform=android"
	var seen []string
	for page := 1; path != ""; page++ {
		res := e.Get(root, path)
		got := listed(res.Body)
		if page < 2 && len(got) != 100 {
			t.Fatalf("page %d lists %d devices", page, len(got))
		}
		seen = append(seen, got...)
		path = ""
		if m := regexp.MustCompile(`<a href="([^"]+)">Next →</a>`).FindStringSubmatch(res.Body); m != nil {
			path = html.UnescapeString(m[1])
			if !strings.Contains(path, "platform=android") || !strings.Contains(path, "page="+strconv.Itoa(page+1)) {
				t.Fatalf("the next page's link %q loses the filter", path)
			}
		}
	}
	if len(seen) != n/2 || !slices.IsSorted(seen) || slices.ContainsFunc(seen, func(s string) bool { i, _ := strconv.Atoi(s[7:]); return i%2 == 1 }) {
		t.Errorf("pages listed %d devices: %q", len(seen), seen)
	}
	// Batches of 40 rows: the export reads 115 devices in three batches.
	admin.SmallExportBatches(t, 40)
	res := e.Get(root, "/admin/devices/export?platform=android")
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the export's Cache-Control is %q", cc)
	}
	rows := readCSV(t, res)
	if got := column(t, rows, "name"); !slices.Equal(got, seen) || !slices.Equal(slices.Compact(column(t, rows, "owner")), []string{"bob"}) {
		t.Errorf("exported %d devices, want the %d listed, each owned by bob", len(got), len(seen))
	}
	// A page number past any list lists nothing, rather than overflowing
	// the offset into a page that exists.
	far := e.Get(root, "/admin/devices?platform=android&page=9223372036854775807")
	if far.Status != http.StatusOK || len(listed(far.Body)) != 0 {
		t.Errorf("a huge page number: status %d, %d devices", far.Status, len(listed(far.Body)))
	}
}

// TestAdminActsFromTheDeviceList follows the admin list's link to a
// device and acts there: the audit log names the admin, and a wipe or
// retirement still needs its confirmation.
func TestAdminActsFromTheDeviceList(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	e.AddUser("alice", false)
	phone, _ := e.RegisterDevice("alice", portico.PlatformAndroid, portico.DeviceDetails{Name: "Alice's phone", Model: "Pixel 8"})
	tablet, _ := e.RegisterDevice("alice", portico.PlatformAndroid, portico.DeviceDetails{Name: "Alice's tablet", Model: "Tab S9"})
	root := e.SignIn("root")
	list := e.Get(root, "/admin/devices").Body
	for _, d := range []*portico.Device{phone, tablet} {
		link := fmt.Sprintf(`href="/devices/%d"`, d.ID)
		if !strings.Contains(list, link) {
			t.Fatalf("the list has no link %s", link)
		}
	}
	steps := []struct {
		name   string
		device *portico.Device
		form   url.Values
		status int
	}{
		{"wipe unconfirmed", phone, url.Values{"kind": {"wipe"}}, http.StatusBadRequest},
		{"wipe with the wrong name", phone, url.Values{"kind": {"wipe"}, "confirm": {"Alice's tablet"}}, http.StatusBadRequest},
		{"retire unconfirmed", tablet, url.Values{"kind": {"retire"}}, http.StatusBadRequest},
		{"wipe", phone, url.Values{"kind": {"wipe"}, "confirm": {"Alice's phone"}}, http.StatusSeeOther},
		{"retire", tablet, url.Values{"kind": {"retire"}, "confirm": {"retire"}}, http.StatusSeeOther},
		{"lock", tablet, url.Values{"kind": {"lock"}}, http.StatusSeeOther},
	}
	for _, s := range steps {
		if res := e.PostForm(root, fmt.Sprintf("/devices/%d/actions", s.device.ID), s.form); res.Status != s.status {
			t.Errorf("%s: status %d, want %d:\n%s", s.name, res.Status, s.status, res.Body)
		}
	}
	entries, err := e.Service.AuditLog(e.Op, store.AuditFilter{Actor: "root", Action: "device", Result: portico.ResultOK})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range entries {
		got = append(got, fmt.Sprintf("%s %d", en.Action, en.DeviceID))
	}
	want := []string{fmt.Sprintf("device.lock %d", tablet.ID), fmt.Sprintf("device.retire %d", tablet.ID), fmt.Sprintf("device.wipe %d", phone.ID)}
	if !slices.Equal(got, want) {
		t.Errorf("root's audited actions %q, want %q", got, want)
	}
	cmds, err := e.Service.Commands(e.Op, phone.ID)
	if err != nil || len(cmds) != 1 || cmds[0].CreatedBy != "root" {
		t.Errorf("the phone's commands: %+v, %v; want one wipe by root", cmds, err)
	}
}
