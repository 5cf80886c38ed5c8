package admin

import (
	"io"
	"net/http"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/logo"
	"github.com/portico-mdm/portico/internal/web"
)

// The branding page is the settings page of the branding group with the
// logo's forms below the plain settings.

func (h *handler) registerBranding(mux *web.Mux) {
	mux.Handle("POST /admin/branding/logo", web.Admin, h.ui.HTML(h.uploadLogo))
	mux.Handle("POST /admin/branding/logo/remove", web.Admin, h.ui.HTML(h.removeLogo))
}

type brandingPage struct {
	settingsPage
	Logo      *portico.Logo
	LogoError string
	MaxKiB    int
	MaxSide   int
}

func (h *handler) renderBranding(w http.ResponseWriter, r *http.Request, status int, p settingsPage, logoError string) error {
	b, err := h.svc.Brand(r.Context())
	if err != nil {
		return err
	}
	return h.ui.Render(w, status, "admin_settings", brandingPage{
		settingsPage: p, Logo: b.Logo, LogoError: logoError, MaxKiB: logo.MaxBytes >> 10, MaxSide: logo.MaxSide,
	})
}

// uploadLogo reads the file within a bound above the logo's own limit, so
// that a file somewhat too large is refused with its size.
func (h *handler) uploadLogo(w http.ResponseWriter, r *http.Request) error {
	data, err := logoUpload(w, r)
	if err == nil {
		_, err = h.svc.SetLogo(r.Context(), data)
	}
	if portico.ErrorCode(err) == portico.EINVALID {
		return h.brandingWithError(w, r, portico.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	return h.done(w, r, "/admin/settings/branding", "The new logo is in place on every page.")
}

func logoUpload(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	const limit = 4 * logo.MaxBytes
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseMultipartForm(limit); err != nil {
		return nil, portico.Errorf(portico.EINVALID, "The upload could not be read; a logo is at most %d KiB.", logo.MaxBytes>>10)
	}
	f, _, err := r.FormFile("logo")
	if err != nil {
		return nil, portico.Errorf(portico.EINVALID, "Choose the logo file (PNG or SVG) to upload.")
	}
	defer f.Close()
	return io.ReadAll(f)
}

func (h *handler) brandingWithError(w http.ResponseWriter, r *http.Request, msg string) error {
	group, err := portico.LookupSettingGroup("branding")
	if err != nil {
		return err
	}
	values, err := h.svc.Settings(r.Context())
	if err != nil {
		return err
	}
	return h.renderBranding(w, r, http.StatusBadRequest, h.settingsPageOf(r, group, values, ""), msg)
}

func (h *handler) removeLogo(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	if err := h.svc.RemoveLogo(r.Context()); err != nil {
		return err
	}
	return h.done(w, r, "/admin/settings/branding", "The logo is removed; pages show the portal name alone.")
}
