package admin

import (
	"io"
	"net/http"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/logo"
	"github.com/portico-mdm/portico/internal/web"
	"github.com/portico-mdm/portico/internal/web/ui"
)

// The branding settings have a page of their own, in place of the plain
// settings form of their group: the colour has a colour picker, and the
// logo, an image rather than a setting, is uploaded and removed there.

func (h *handler) registerBranding(mux *web.Mux) {
	mux.Handle("GET /admin/settings/branding", web.Admin, h.ui.HTML(h.branding))
	mux.Handle("POST /admin/settings/branding", web.Admin, h.ui.HTML(h.saveBranding))
	mux.Handle("POST /admin/branding/logo", web.Admin, h.ui.HTML(h.uploadLogo))
	mux.Handle("POST /admin/branding/logo/remove", web.Admin, h.ui.HTML(h.removeLogo))
}

type brandingPage struct {
	ui.Layout
	Groups []portico.SettingGroup
	Group  portico.SettingGroup
	// Values are the stored settings, or what the admin typed when saving
	// them was refused.
	Name, Color, LoginText string
	Error                  string
	Logo                   *portico.Logo
	LogoError              string
	MaxKiB, MaxSide        int
}

func (h *handler) branding(w http.ResponseWriter, r *http.Request) error {
	return h.renderBranding(w, r, http.StatusOK, nil, "", "")
}

// renderBranding shows the page with the stored settings overlaid by typed,
// and the refusal of either form.
func (h *handler) renderBranding(w http.ResponseWriter, r *http.Request, status int, typed portico.SettingValues, msg, logoMsg string) error {
	group, err := portico.LookupSettingGroup("branding")
	if err != nil {
		return err
	}
	values, err := h.svc.Settings(r.Context())
	if err != nil {
		return err
	}
	for k, v := range typed {
		values[k] = v
	}
	b, err := h.svc.Brand(r.Context())
	if err != nil {
		return err
	}
	return h.ui.Render(w, status, "admin_branding", brandingPage{
		Layout: h.layout(r, group.Label), Groups: portico.SettingGroups, Group: group,
		Name: values.Get("branding.name"), Color: values.Get("branding.color"), LoginText: values.Get("branding.login_text"),
		Error: msg, Logo: b.Logo, LogoError: logoMsg, MaxKiB: logo.MaxBytes >> 10, MaxSide: logo.MaxSide,
	})
}

func (h *handler) saveBranding(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	values := portico.SettingValues{}
	for _, def := range portico.GroupSettings("branding") {
		if sent := r.PostForm[def.Key]; len(sent) > 0 {
			values[def.Key] = sent[len(sent)-1]
		}
	}
	err := h.svc.SetSettings(r.Context(), values)
	if portico.ErrorCode(err) == portico.EINVALID {
		return h.renderBranding(w, r, http.StatusBadRequest, values, portico.ErrorMessage(err), "")
	} else if err != nil {
		return err
	}
	return h.done(w, r, "/admin/settings/branding", "Saved. Every page shows the change from now on.")
}

// uploadLogo reads the file within a bound above the logo's own limit, so
// that a file somewhat too large is refused with its size.
func (h *handler) uploadLogo(w http.ResponseWriter, r *http.Request) error {
	data, err := logoUpload(w, r)
	if err == nil {
		_, err = h.svc.SetLogo(r.Context(), data)
	}
	if portico.ErrorCode(err) == portico.EINVALID {
		return h.renderBranding(w, r, http.StatusBadRequest, nil, "", portico.ErrorMessage(err))
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

func (h *handler) removeLogo(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	if err := h.svc.RemoveLogo(r.Context()); err != nil {
		return err
	}
	return h.done(w, r, "/admin/settings/branding", "The logo is removed; pages show the portal name alone.")
}
