package admin

import (
	"io"
	"log/slog"
	"net/http"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/certfile"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/web"
	"github.com/portico-mdm/portico/internal/web/ui"
)

func registerPush(mux *web.Mux, h *handler) {
	mux.Handle("GET /admin/apple/push", web.Admin, h.ui.HTML(h.pushPage))
	mux.Handle("POST /admin/apple/push", web.Admin, h.ui.HTML(h.uploadPush))
	mux.Handle("POST /admin/apple/push/delete", web.Admin, h.ui.HTML(h.deletePush))
}

type pushPage struct {
	ui.Layout
	Certificate *portico.PushCertificate
	// LastPush is the newest push, which shows whether Apple takes the
	// certificate.
	LastPush *portico.Message
	Error    string
}

func (h *handler) pushPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderPush(w, r, http.StatusOK, "")
}

func (h *handler) renderPush(w http.ResponseWriter, r *http.Request, status int, msg string) error {
	c, err := h.svc.PushCertificate(r.Context())
	if err != nil && portico.ErrorCode(err) != portico.ENOTFOUND {
		return err
	}
	last, err := h.svc.LastPush(r.Context())
	if err != nil {
		return err
	}
	return h.ui.Render(w, status, "admin_push", pushPage{Layout: h.layout(r, "Apple push certificate"), Certificate: c, LastPush: last, Error: msg})
}

// uploadPush reads a multipart form: the certificate file, its key apart
// when it is PEM, the password of a PKCS#12 file, and whether it replaces
// the one in use.
func (h *handler) uploadPush(w http.ResponseWriter, r *http.Request) error {
	up, err := readPushUpload(w, r)
	if err == nil {
		if _, err = h.svc.PutPushCertificate(r.Context(), up); err == nil {
			return h.done(w, r, "/admin/apple/push", "The push certificate is stored; Apple devices are pushed with it from now on.")
		}
	}
	if portico.ErrorCode(err) == portico.EINTERNAL {
		return err
	}
	return h.renderPush(w, r, web.Status(err), portico.ErrorMessage(err))
}

func readPushUpload(w http.ResponseWriter, r *http.Request) (service.PushCertificateUpload, error) {
	const limit = 2*certfile.MaxSize + 16<<10 // two files and the other fields
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseMultipartForm(limit); err != nil {
		return service.PushCertificateUpload{}, portico.Errorf(portico.EINVALID, "The upload could not be read; a certificate file is at most %d KiB.", certfile.MaxSize>>10)
	}
	up := service.PushCertificateUpload{Password: r.PostFormValue("password"), Replace: r.PostFormValue("replace") == "on"}
	var err error
	if up.File, err = formFile(r, "file"); err != nil {
		return up, err
	}
	up.Key, err = formFile(r, "key")
	return up, err
}

// formFile is an uploaded file's content, or nil when none was chosen.
func formFile(r *http.Request, name string) ([]byte, error) {
	f, _, err := r.FormFile(name)
	if err == http.ErrMissingFile {
		return nil, nil
	}
	if err != nil {
		return nil, portico.Errorf(portico.EINVALID, "The upload could not be read.")
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, certfile.MaxSize+1))
}

func (h *handler) deletePush(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	err := h.svc.DeletePushCertificate(r.Context(), r.PostForm.Get("confirm"))
	switch portico.ErrorCode(err) {
	case "":
		return h.done(w, r, "/admin/apple/push", "The push certificate is deleted. Apple devices can no longer be reached.")
	case portico.EINTERNAL:
		return err
	}
	return h.renderPush(w, r, web.Status(err), portico.ErrorMessage(err))
}

// pushWarning is the banner every admin page shows while the push
// certificate expires soon or has expired. A failure to read it must not
// stop the page.
func (h *handler) pushWarning(r *http.Request) string {
	msg, err := h.svc.PushCertificateWarning(r.Context())
	if err != nil {
		slog.ErrorContext(r.Context(), "reading the push certificate for the banner", "err", err)
	}
	return msg
}
