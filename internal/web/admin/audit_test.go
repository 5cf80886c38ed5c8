package admin_test

import (
	"html"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/web/admin"
)

func TestAuditFilters(t *testing.T) {
	e := servertest.New(t) // its clock starts on 2026-03-02
	e.AddUser("root", true)
	e.AddUser("alice", false)
	d, _ := e.RegisterDevice("alice", portico.PlatformAndroid, portico.DeviceDetails{Name: "Pixel", Model: "Pixel 8"})
	e.Clock.Advance(24 * time.Hour)
	root := e.SignIn("root")
	if res := e.PostForm(root, "/devices/"+strconv.FormatInt(d.ID, 10)+"/actions", url.Values{"kind": {"lock"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("locking: status %d", res.Status)
	}
	e.Clock.Advance(24 * time.Hour)
	if res := e.PostForm(e.Browser(), "/login", url.Values{"username": {"alice"}, "password": {"wrong"}}); res.Status == http.StatusSeeOther {
		t.Fatal("a wrong password signed in")
	}
	device := strconv.FormatInt(d.ID, 10)

	tests := []struct {
		query string
		want  []string // actor and action of each row, newest first
	}{
		{"from=2026-03-04", []string{"anonymous login"}},
		{"result=denied", []string{"anonymous login"}},
		{"to=2026-03-02", []string{"alice device.register", "system user.create", "system user.create"}},
		{"from=2026-03-03&to=2026-03-03", []string{"root device.lock", "root login"}},
		{"device=" + device, []string{"root device.lock", "alice device.register"}},
		{"device=device:" + device + "&actor=root", []string{"root device.lock"}},
		{"action=device", []string{"root device.lock", "alice device.register"}},
		{"action=device.lock&result=ok", []string{"root device.lock"}},
		{"actor=nobody", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			res := e.Get(root, "/admin/audit?"+tt.query)
			if res.Status != http.StatusOK {
				t.Fatalf("status %d:\n%s", res.Status, res.Body)
			}
			rows := readCSV(t, e.Get(root, "/admin/audit/export?"+tt.query))
			got := []string{}
			for i, actor := range column(t, rows, "actor") {
				got = append(got, actor+" "+column(t, rows, "action")[i])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("exported %q, want %q", got, tt.want)
			}
			body := html.UnescapeString(res.Body)
			for _, row := range tt.want {
				if action := strings.Fields(row)[1]; !strings.Contains(body, `<td data-label="What">`+action+"</td>") {
					t.Errorf("the page lacks %s", action)
				}
			}
			q, _ := url.ParseQuery(tt.query)
			if !strings.Contains(body, `href="/admin/audit/export?`+q.Encode()+`"`) {
				t.Errorf("no export link of the same filter")
			}
		})
	}
	refusals := []struct{ query, want string }{
		{"from=yesterday", `From: "yesterday" is not a date`},
		{"to=2026-02-30", `To: "2026-02-30" is not a date`},
		{"from=2026-03-05&to=2026-03-04", "The From date is after the To date."},
		{"device=phone", `"phone" is not a device number`},
		{"result=maybe", `"maybe" is not a result`},
	}
	for _, tt := range refusals {
		t.Run(tt.query, func(t *testing.T) {
			res := e.Get(root, "/admin/audit?"+tt.query)
			if res.Status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(res.Body), tt.want) {
				t.Errorf("status %d, want 400 with %q", res.Status, tt.want)
			}
			if strings.Contains(res.Body, "Export as CSV") {
				t.Error("an invalid filter offers an export")
			}
			if res := e.Get(root, "/admin/audit/export?"+tt.query); res.Status != http.StatusBadRequest {
				t.Errorf("export: status %d", res.Status)
			}
		})
	}
}

func TestAuditPages(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	for i := range 250 {
		if err := e.Store.AppendAudit(e.Op, &portico.AuditEntry{At: e.Clock.Now(), Actor: "bot", Action: "test." + strconv.Itoa(i), Result: portico.ResultOK}); err != nil {
			t.Fatal(err)
		}
	}
	root := e.SignIn("root")
	first := e.Get(root, "/admin/audit?actor=bot").Body
	third := e.Get(root, "/admin/audit?actor=bot&page=3").Body
	if !strings.Contains(first, `<td data-label="What">test.249</td>`) || strings.Contains(first, `<td data-label="What">test.149</td>`) || !strings.Contains(first, `href="/admin/audit?actor=bot&amp;page=2"`) {
		t.Error("the first page is not the newest 100 with a link to the next")
	}
	if !strings.Contains(third, `<td data-label="What">test.0</td>`) || strings.Contains(third, "Older →") || !strings.Contains(third, `href="/admin/audit?actor=bot&amp;page=2"`) {
		t.Error("the last page does not end the log with a link back")
	}
	// Batches of 100 rows: the export reads 250 entries in three batches.
	admin.SmallExportBatches(t, 100)
	res := e.Get(root, "/admin/audit/export?actor=BOT")
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the export's Cache-Control is %q", cc)
	}
	rows := readCSV(t, res)
	if len(rows) != 251 || rows[1][3] != "test.249" || rows[250][3] != "test.0" {
		t.Errorf("the export has %d rows", len(rows))
	}
}
