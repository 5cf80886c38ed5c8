package admin

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/backup"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/web"
	"github.com/portico-mdm/portico/internal/web/ui"
)

func (h *handler) registerBackup(mux *web.Mux) {
	mux.Handle("GET /admin/backup", web.Admin, h.ui.HTML(h.backupPage))
	// A POST, not a link: taking a backup is recorded and audited, which
	// another site must not be able to cause.
	mux.Handle("POST /admin/backup/download", web.Admin, h.ui.HTML(h.downloadBackup))
	mux.Handle("POST /admin/backup/verify", web.Admin, h.ui.HTML(h.verifyBackup))
}

type backupPage struct {
	ui.Layout
	service.BackupStatus
	// Example is a backup file's name as a download names it.
	Example     string
	Report      *portico.BackupReport
	VerifyError string
}

func (h *handler) backupPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderBackup(w, r, http.StatusOK, backupPage{})
}

func (h *handler) renderBackup(w http.ResponseWriter, r *http.Request, status int, p backupPage) error {
	st, err := h.svc.BackupStatus(r.Context())
	if err != nil {
		return err
	}
	p.Layout, p.BackupStatus, p.Example = h.layout(r, "Backup"), st, backupName(time.Now())
	return h.ui.Render(w, status, "admin_backup", p)
}

func backupName(t time.Time) string {
	return "portico-backup-" + t.UTC().Format("20060102-150405") + ".tar.gz"
}

// downloadWriter sends the download's headers with its first byte, so
// that a backup refused before it starts is an error page instead.
type downloadWriter struct {
	w       http.ResponseWriter
	started bool
}

func (d *downloadWriter) Write(p []byte) (int, error) {
	if !d.started {
		d.started = true
		h := d.w.Header()
		h.Set("Content-Type", "application/gzip")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": backupName(time.Now())}))
		h.Set("Cache-Control", "no-store")
		d.w.WriteHeader(http.StatusOK)
	}
	return d.w.Write(p)
}

func (h *handler) downloadBackup(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	d := &downloadWriter{w: w}
	err := h.svc.WriteBackup(r.Context(), d)
	if err != nil && d.started {
		// Half a backup is sent: break the connection, so the browser
		// reports a failed download rather than keep a cut-off file.
		web.LogError(r, err)
		panic(http.ErrAbortHandler)
	}
	return err
}

// verifyBackup reads the upload as a stream, part by part: a backup can be
// large, and only its database is unpacked, into a temporary directory.
func (h *handler) verifyBackup(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, backup.RestoreLimits.Bytes)
	file, err := backupUpload(r)
	var rep portico.BackupReport
	if err == nil {
		rep, err = h.svc.VerifyBackup(r.Context(), file)
	}
	switch {
	case err == nil:
		return h.renderBackup(w, r, http.StatusOK, backupPage{Report: &rep})
	case portico.ErrorCode(err) == portico.EINVALID, portico.ErrorCode(err) == portico.ETHROTTLED:
		return h.renderBackup(w, r, web.Status(err), backupPage{VerifyError: portico.ErrorMessage(err)})
	}
	return err
}

func backupUpload(r *http.Request) (io.Reader, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, portico.Errorf(portico.EINVALID, "Choose the backup file (.tar.gz) to check.")
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, portico.Errorf(portico.EINVALID, "Choose the backup file (.tar.gz) to check.")
		} else if err != nil {
			return nil, portico.Errorf(portico.EINVALID, "The upload could not be read: %s.", err)
		}
		if part.FormName() == "backup" && part.FileName() != "" {
			return part, nil
		}
	}
}
