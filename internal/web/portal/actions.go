package portal

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/web"
	"github.com/portico-mdm/portico/internal/web/ui"
)

func registerActions(mux *web.Mux, h *handler, r *ui.Renderer) {
	mux.Handle("POST /devices/{id}/actions", web.SignedIn, r.HTML(h.act))
	mux.Handle("GET /devices/{id}/wipe", web.SignedIn, r.HTML(h.confirmPage("wipe", portico.CommandWipe)))
	mux.Handle("GET /devices/{id}/retire", web.SignedIn, r.HTML(h.confirmPage("retire", portico.CommandRetire)))
	mux.Handle("GET /devices/{id}/locate", web.SignedIn, r.HTML(h.confirmPage("locate", portico.CommandLocate)))
	mux.Handle("GET /devices/{id}/commands", web.SignedIn, r.HTML(h.commands))
	mux.Handle("POST /devices/{id}/ownership", web.SignedIn, r.HTML(h.ownership))
	mux.Handle("POST /commands/{id}/cancel", web.SignedIn, r.HTML(h.cancelAction))
}

type devicePage struct {
	ui.Layout
	Device   *portico.Device
	Commands []*portico.Command
	Actions  service.DeviceActions
	Location *portico.Location
	Map      *tileMap
	// tiles is where map tiles come from, when a location may be shown.
	tiles string
	// Live is true while an action is under way: the page refreshes its
	// list of actions until every one has ended.
	Live bool
}

func (h *handler) device(w http.ResponseWriter, r *http.Request) error {
	p, err := h.devicePage(r)
	if err != nil {
		return err
	}
	// Allowed before there is a location: it may arrive with the page's
	// live refresh, which keeps the policy the page was loaded with.
	if p.tiles != "" {
		web.AllowImagesFrom(w, p.tiles)
	}
	return h.ui.Render(w, http.StatusOK, "device", p)
}

// commands is the list of actions alone, which the device page fetches
// every two seconds while one is under way (SPEC ACT-7). Opened any other
// way (a bookmark, a copied address) it sends the browser to the whole
// device page, after the same access check, rather than show a bare list.
func (h *handler) commands(w http.ResponseWriter, r *http.Request) error {
	p, err := h.devicePage(r)
	if err != nil {
		return err
	}
	if r.Header.Get("HX-Request") != "true" {
		http.Redirect(w, r, "/devices/"+strconv.FormatInt(p.Device.ID, 10), http.StatusSeeOther)
		return nil
	}
	return h.ui.Fragment(w, http.StatusOK, "device", "commands", p)
}

func (h *handler) devicePage(r *http.Request) (*devicePage, error) {
	id, err := web.PathID(r, "id", "device")
	if err != nil {
		return nil, err
	}
	d, err := h.svc.Device(r.Context(), id)
	if err != nil {
		return nil, err
	}
	commands, err := h.svc.Commands(r.Context(), id)
	if err != nil {
		return nil, err
	}
	actions, err := h.svc.Actions(r.Context(), d)
	if err != nil {
		return nil, err
	}
	settings, err := h.svc.Settings(r.Context())
	if err != nil {
		return nil, err
	}
	l, _, err := h.layout(r, d.Title())
	if err != nil {
		return nil, err
	}
	p := &devicePage{Layout: l, Device: d, Commands: commands, Actions: actions}
	if actions.MayLocate {
		p.tiles = tileOrigin(settings.Get("privacy.map_tiles"))
	}
	for _, c := range commands {
		p.Live = p.Live || !c.Status.Final()
		if loc, ok := c.Location(); ok && p.Location == nil {
			p.Location = &loc
			p.Map = newTileMap(settings.Get("privacy.map_tiles"), loc)
		}
	}
	return p, nil
}

func (h *handler) act(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "device")
	if err != nil {
		return err
	}
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	kind := portico.CommandKind(r.PostForm.Get("kind"))
	cmd, err := h.svc.Act(r.Context(), id, kind, r.PostForm.Get("confirm"))
	if portico.ErrorCode(err) == portico.EINVALID && (kind == portico.CommandWipe || kind == portico.CommandRetire) {
		return h.renderConfirm(w, r, http.StatusBadRequest, string(kind), kind, portico.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	msg := kind.Label() + " sent. The list below shows when the device has done it."
	if cmd.Status == portico.CommandHeld {
		msg = fmt.Sprintf("The wipe goes to the device at %s unless you cancel it before then.", cmd.ReleaseAt.UTC().Format("15:04:05 MST"))
	}
	if cmd.PIN != "" {
		// The PIN is shown on the page that answers the action, and kept
		// nowhere else: not in the session's flash, not in the list.
		return h.renderPIN(w, r, id, kind, cmd.PIN, msg)
	}
	h.sessions.Flash(r.Context(), msg)
	http.Redirect(w, r, "/devices/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
	return nil
}

type pinPage struct {
	ui.Layout
	Device       *portico.Device
	Kind         portico.CommandKind
	PIN, Message string
}

func (h *handler) renderPIN(w http.ResponseWriter, r *http.Request, id int64, kind portico.CommandKind, pin, msg string) error {
	d, err := h.svc.Device(r.Context(), id)
	if err != nil {
		return err
	}
	l, _, err := h.layout(r, kind.Label()+" "+d.Title())
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return h.ui.Render(w, http.StatusOK, "action_pin", pinPage{Layout: l, Device: d, Kind: kind, PIN: pin, Message: msg})
}

type confirmPage struct {
	ui.Layout
	Device  *portico.Device
	Actions service.DeviceActions
	Error   string
}

// confirmPage asks before an action that cannot be undone (SPEC ACT-4,
// ACT-5).
func (h *handler) confirmPage(page string, kind portico.CommandKind) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return h.renderConfirm(w, r, http.StatusOK, page, kind, "")
	}
}

func (h *handler) renderConfirm(w http.ResponseWriter, r *http.Request, status int, page string, kind portico.CommandKind, msg string) error {
	id, err := web.PathID(r, "id", "device")
	if err != nil {
		return err
	}
	d, err := h.svc.Device(r.Context(), id)
	if err != nil {
		return err
	}
	if err := h.svc.MayAct(r.Context(), d, kind); err != nil {
		return err
	}
	actions, err := h.svc.Actions(r.Context(), d)
	if err != nil {
		return err
	}
	l, _, err := h.layout(r, kind.Label()+" "+d.Title())
	if err != nil {
		return err
	}
	return h.ui.Render(w, status, page, confirmPage{Layout: l, Device: d, Actions: actions, Error: msg})
}

func (h *handler) ownership(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "device")
	if err != nil {
		return err
	}
	if err := web.ParseForm(w, r); err != nil {
		return err
	}
	d, err := h.svc.ChangeOwnership(r.Context(), id, portico.Ownership(r.PostForm.Get("ownership")))
	if err != nil {
		return err
	}
	h.sessions.Flash(r.Context(), d.Title()+" is now "+strings.ToLower(d.Ownership.Label())+"-owned.")
	http.Redirect(w, r, "/devices/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
	return nil
}

func (h *handler) cancelAction(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id", "action")
	if err != nil {
		return err
	}
	cmd, err := h.svc.CancelAction(r.Context(), id)
	if err != nil {
		return err
	}
	h.sessions.Flash(r.Context(), "Cancelled: the "+strings.ToLower(cmd.Kind.Label())+" will not reach the device.")
	http.Redirect(w, r, "/devices/"+strconv.FormatInt(cmd.DeviceID, 10), http.StatusSeeOther)
	return nil
}

// tileMap is a map of the nine tiles around a location, row by row, under
// an SVG of the location's circle of accuracy, so that the page needs no
// script and no inline style (SPEC ACT-3). A tile that cannot load shows
// nothing, and the coordinates beside the map stay exact.
type tileMap struct {
	Tiles        []string
	X, Y, Radius float64
	Link         string
}

const (
	mapZoom  = 16
	tileSize = 256
)

// maxMapLatitude is as far north or south as the map's projection goes.
const maxMapLatitude = 85.05

// tileOrigin is the scheme and host of the tile address template, or ""
// when there is none.
func tileOrigin(template string) string {
	u, err := url.Parse(template)
	if template == "" || err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// newTileMap returns the map of loc from the admin's tile address
// template, or nil when there is none or the place is beyond the map: the
// page then shows the coordinates alone.
func newTileMap(template string, loc portico.Location) *tileMap {
	if tileOrigin(template) == "" || math.Abs(loc.Latitude) > maxMapLatitude {
		return nil
	}
	n := math.Exp2(mapZoom)
	lat := loc.Latitude * math.Pi / 180
	x := (loc.Longitude + 180) / 360 * n
	y := (1 - math.Log(math.Tan(lat)+1/math.Cos(lat))/math.Pi) / 2 * n
	cx, cy := int(math.Floor(x)), int(math.Floor(y))
	m := &tileMap{
		X: (x - float64(cx-1)) * tileSize, Y: (y - float64(cy-1)) * tileSize,
		Radius: math.Max(loc.Accuracy/(156543.03392*math.Cos(lat)/n), 6),
		Link:   fmt.Sprintf("https://www.openstreetmap.org/?mlat=%.6f&mlon=%.6f#map=%d/%.6f/%.6f", loc.Latitude, loc.Longitude, mapZoom, loc.Latitude, loc.Longitude),
	}
	for dy := -1; dy <= 1; dy++ {
		for dx := -1; dx <= 1; dx++ {
			tx, ty := (cx+dx+int(n))%int(n), cy+dy
			tile := ""
			if ty >= 0 && ty < int(n) { // beyond the poles there is no tile
				r := strings.NewReplacer("{z}", strconv.Itoa(mapZoom), "{x}", strconv.Itoa(tx), "{y}", strconv.Itoa(ty))
				tile = r.Replace(template)
			}
			m.Tiles = append(m.Tiles, tile)
		}
	}
	return m
}
