package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/web"
	"github.com/portico-mdm/portico/internal/web/ui"
)

type bulkPage struct {
	ui.Layout
	Users               []*portico.User
	Username, Platform  string
	Uses, ValidForHours string
	Error               string
}

// Platforms are the platforms an enrollment profile is for.
func (bulkPage) Platforms() []portico.Platform { return bulkPlatforms }

var bulkPlatforms = []portico.Platform{portico.PlatformIOS, portico.PlatformIPadOS, portico.PlatformMacOS}

func (h *handler) bulkPage(w http.ResponseWriter, r *http.Request) error {
	return h.renderBulk(w, r, http.StatusOK, bulkPage{Platform: "ios", Uses: "10", ValidForHours: "24"})
}

func (h *handler) renderBulk(w http.ResponseWriter, r *http.Request, status int, p bulkPage) error {
	users, err := h.svc.Users(r.Context())
	if err != nil {
		return err
	}
	p.Layout, p.Users = h.layout(r, "Bulk enrollment"), users
	return h.ui.Render(w, status, "admin_bulk", p)
}

// bulkProfile answers with the profile itself, to download and install
// on each device.
func (h *handler) bulkProfile(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	p := bulkPage{Username: f.Get("username"), Platform: f.Get("platform"), Uses: f.Get("uses"), ValidForHours: f.Get("hours")}
	uses, err1 := strconv.Atoi(p.Uses)
	hours, err2 := strconv.Atoi(p.ValidForHours)
	if err1 != nil || err2 != nil {
		p.Error = "Give the number of devices and the hours as whole numbers."
		return h.renderBulk(w, r, http.StatusBadRequest, p)
	}
	profile, err := h.svc.BulkEnrollmentProfile(r.Context(), service.BulkEnrollment{
		Username: p.Username, Platform: portico.Platform(p.Platform), Uses: uses, ValidFor: time.Duration(hours) * time.Hour,
	})
	switch code := portico.ErrorCode(err); {
	case code == portico.EINVALID || code == portico.ENOTFOUND || code == portico.ECONFLICT:
		p.Error = portico.ErrorMessage(err)
		return h.renderBulk(w, r, web.Status(err), p)
	case err != nil:
		return err
	}
	// The service took the platform, so it parses.
	platform, _ := portico.ParsePlatform(p.Platform)
	return web.WriteAppleProfile(w, profile, "enroll-"+string(platform)+".mobileconfig")
}
