package portal

import (
	"fmt"
	"io"
	"net/http"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/certfile"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/web"
	"github.com/portico-mdm/portico/internal/web/ui"
)

func registerCertificates(mux *web.Mux, h *handler, r *ui.Renderer) {
	mux.Handle("GET /certificates", web.SignedIn, r.HTML(h.certificates))
	mux.Handle("POST /certificates", web.SignedIn, r.HTML(h.addCertificate))
	mux.Handle("GET /certificates/pushes", web.SignedIn, r.HTML(h.pushes))
	mux.Handle("GET /certificates/{id}/edit", web.SignedIn, r.HTML(h.editCertificatePage))
	mux.Handle("POST /certificates/{id}", web.SignedIn, r.HTML(h.editCertificate))
	mux.Handle("POST /certificates/{id}/clear-key", web.SignedIn, r.HTML(h.clearKey))
	mux.Handle("POST /certificates/{id}/delete", web.SignedIn, r.HTML(h.deleteCertificate))
}

type certificatesPage struct {
	ui.Layout
	Options      []service.CertificateOption
	Certificates []*portico.Certificate
	Pushes       []service.Push
	// Editing is the certificate whose file is being replaced.
	Editing *portico.Certificate
	Error   string
	Live    bool
}

// Name is what the admin named a certificate's type.
func (p certificatesPage) Name(t portico.CertificateType) string {
	for _, o := range p.Options {
		if o.Type == t {
			return o.Name
		}
	}
	return string(t)
}

func (h *handler) certificatesPage(r *http.Request) (*certificatesPage, error) {
	options, err := h.svc.CertificateOptions(r.Context())
	if err != nil {
		return nil, err
	}
	certs, err := h.svc.MyCertificates(r.Context())
	if err != nil {
		return nil, err
	}
	pushes, err := h.svc.MyPushes(r.Context())
	if err != nil {
		return nil, err
	}
	l, _, err := h.layout(r, "My certificates")
	if err != nil {
		return nil, err
	}
	p := &certificatesPage{Layout: l, Options: options, Certificates: certs, Pushes: pushes}
	for _, push := range pushes {
		p.Live = p.Live || !push.Command.Status.Final()
	}
	return p, nil
}

func (h *handler) certificates(w http.ResponseWriter, r *http.Request) error {
	p, err := h.certificatesPage(r)
	if err != nil {
		return err
	}
	return h.ui.Render(w, http.StatusOK, "certificates", p)
}

// pushes is the list of pushes alone, which the page refreshes while one
// is under way.
func (h *handler) pushes(w http.ResponseWriter, r *http.Request) error {
	p, err := h.certificatesPage(r)
	if err != nil {
		return err
	}
	return h.ui.Fragment(w, http.StatusOK, "certificates", "pushes", p)
}

// upload reads a multipart form with a PKCS#12 file of bounded size.
func upload(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	const limit = certfile.MaxSize + 16<<10 // the file and the form's other fields
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseMultipartForm(limit); err != nil {
		return nil, portico.Errorf(portico.EINVALID, "The upload could not be read; a certificate file is at most %d KiB.", certfile.MaxSize>>10)
	}
	f, _, err := r.FormFile("file")
	if err != nil {
		return nil, portico.Errorf(portico.EINVALID, "Choose the certificate file (.p12 or .pfx) to upload.")
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, certfile.MaxSize+1))
}

func (h *handler) addCertificate(w http.ResponseWriter, r *http.Request) error {
	file, err := upload(w, r)
	if err == nil {
		var cert *portico.Certificate
		var pushes []service.Push
		cert, pushes, err = h.svc.PutCertificate(r.Context(), portico.CertificateType(r.FormValue("type")), file, r.FormValue("password"))
		if err == nil {
			return h.uploaded(w, r, cert, pushes)
		}
	}
	return h.refuseUpload(w, r, nil, err)
}

func (h *handler) editCertificate(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "certificate")
	if err != nil {
		return err
	}
	file, err := upload(w, r)
	if err == nil {
		var cert *portico.Certificate
		var pushes []service.Push
		cert, pushes, err = h.svc.ReplaceCertificate(r.Context(), id, file, r.FormValue("password"))
		if err == nil {
			return h.uploaded(w, r, cert, pushes)
		}
	}
	editing, cerr := h.svc.Certificate(r.Context(), id)
	if cerr != nil {
		return cerr
	}
	return h.refuseUpload(w, r, editing, err)
}

// refuseUpload shows the form again with what was wrong with the file; a
// refused file is never kept.
func (h *handler) refuseUpload(w http.ResponseWriter, r *http.Request, editing *portico.Certificate, err error) error {
	code := portico.ErrorCode(err)
	if code != portico.EINVALID && code != portico.ECONFLICT {
		return err
	}
	p, perr := h.certificatesPage(r)
	if perr != nil {
		return perr
	}
	p.Editing, p.Error = editing, portico.ErrorMessage(err)
	return h.ui.Render(w, web.Status(err), "certificates", p)
}

func (h *handler) uploaded(w http.ResponseWriter, r *http.Request, cert *portico.Certificate, pushes []service.Push) error {
	msg := "Saved the certificate of " + cert.Subject + "."
	switch len(pushes) {
	case 0:
	case 1:
		msg += " Sent the email configuration that uses it to " + pushes[0].Device.Title() + "."
	default:
		msg += fmt.Sprintf(" Sent the email configuration that uses it to your %d devices.", len(pushes))
	}
	h.sessions.Flash(r.Context(), msg)
	http.Redirect(w, r, "/certificates", http.StatusSeeOther)
	return nil
}

func (h *handler) editCertificatePage(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "certificate")
	if err != nil {
		return err
	}
	p, err := h.certificatesPage(r)
	if err != nil {
		return err
	}
	if p.Editing, err = h.svc.Certificate(r.Context(), id); err != nil {
		return err
	}
	return h.ui.Render(w, http.StatusOK, "certificates", p)
}

func (h *handler) clearKey(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "certificate")
	if err != nil {
		return err
	}
	cert, err := h.svc.ClearPrivateKey(r.Context(), id)
	if err != nil {
		return err
	}
	h.sessions.Flash(r.Context(), "Removed the private key of "+cert.Subject+". The certificate stays; nothing was sent to your devices.")
	http.Redirect(w, r, "/certificates", http.StatusSeeOther)
	return nil
}

func (h *handler) deleteCertificate(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "certificate")
	if err != nil {
		return err
	}
	if err := h.svc.DeleteCertificate(r.Context(), id); err != nil {
		return err
	}
	h.sessions.Flash(r.Context(), "Deleted the certificate. Nothing was sent to your devices.")
	http.Redirect(w, r, "/certificates", http.StatusSeeOther)
	return nil
}
