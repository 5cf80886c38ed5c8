package admin_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/store"
)

// TestBackupDownloadThenVerify takes a backup through the portal, sees it
// recorded on the page, and checks the downloaded file by uploading it.
func TestBackupDownloadThenVerify(t *testing.T) {
	e := servertest.New(t)
	e.AddUser("root", true)
	e.AddUser("alice", false)
	e.RegisterDevice("alice", portico.PlatformIOS, portico.DeviceDetails{Name: "Alice's iPhone"})
	root := e.SignIn("root")

	page := e.Get(root, "/admin/backup")
	if page.Status != http.StatusOK || !strings.Contains(page.Body, "none taken yet") ||
		!strings.Contains(page.Body, "portico restore --data ") || !strings.Contains(page.Body, "Stop the portal") {
		t.Fatalf("backup page: status %d\n%s", page.Status, page.Body)
	}
	dl := e.PostForm(root, "/admin/backup/download", nil)
	if dl.Status != http.StatusOK || dl.Header.Get("Content-Type") != "application/gzip" ||
		!strings.HasPrefix(dl.Header.Get("Content-Disposition"), `attachment; filename=portico-backup-`) {
		t.Fatalf("download: status %d, headers %v", dl.Status, dl.Header)
	}
	page = e.Get(root, "/admin/backup")
	if !strings.Contains(page.Body, "by root from the admin portal") {
		t.Errorf("the page does not say who took the last backup:\n%s", page.Body)
	}

	res := e.PostMultipart(root, "/admin/backup/verify", nil, servertest.File{Field: "backup", Name: "b.tar.gz", Data: []byte(dl.Body)})
	body := html.UnescapeString(res.Body)
	for _, want := range []string{"This is a Portico backup this portal can restore.", "2 (1 administrators)", "<dt>Devices</dt><dd>1</dd>", "<dt>Secret key</dt><dd>not included: without keys/secret.key"} {
		if res.Status != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("verify: status %d, want %q:\n%s", res.Status, want, body)
		}
	}

	refusals := []struct {
		name string
		file servertest.File
		want string
	}{
		{"not a backup", servertest.File{Field: "backup", Name: "b.tar.gz", Data: []byte("hello")}, "This file is not a Portico backup: it is not a gzip-compressed archive."},
		{"a cut-off backup", servertest.File{Field: "backup", Name: "b.tar.gz", Data: []byte(dl.Body[:len(dl.Body)/2])}, "ends early"},
		{"no file", servertest.File{Field: "other", Name: "b.tar.gz", Data: []byte(dl.Body)}, "Choose the backup file"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			res := e.PostMultipart(root, "/admin/backup/verify", nil, tt.file)
			if res.Status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(res.Body), tt.want) {
				t.Errorf("status %d, want 400 with %q:\n%s", res.Status, tt.want, res.Body)
			}
		})
	}

	alice := e.SignIn("alice")
	if res := e.PostForm(alice, "/admin/backup/download", url.Values{}); res.Status != http.StatusForbidden || strings.Contains(res.Body, "\x1f\x8b") {
		t.Errorf("alice's download: status %d", res.Status)
	}

	var actions []string
	entries, _ := e.Service.AuditLog(e.Op, store.AuditFilter{Actor: "root"})
	for _, en := range entries {
		if strings.HasPrefix(en.Action, "backup.") {
			actions = append(actions, en.Action+":"+en.Result)
		}
	}
	want := "backup.verify:failed backup.verify:failed backup.verify:ok backup.take:ok"
	if strings.Join(actions, " ") != want {
		t.Errorf("audited %q, want %q", actions, want)
	}
}
