package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/web/ui"
)

// devicesPerPage keeps the device list quick with a large fleet.
const devicesPerPage = 100

// maxPage bounds the page number of a list, so that no offset overflows;
// no one pages this far by hand.
const maxPage = 100_000

// exportBatch is how many rows an export reads at a time; a variable so
// that tests can make an export take several batches.
var exportBatch = 1000

// deviceQuery is the device list's filter as the query string carries it,
// so that a filtered list can be bookmarked, paged and exported.
type deviceQuery struct{ service.DeviceQuery }

func parseDeviceQuery(q url.Values) deviceQuery {
	g := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	return deviceQuery{service.DeviceQuery{Platform: g("platform"), Status: g("status"), Ownership: g("ownership"), Owner: g("owner"), NotSeenDays: g("notseen"), Search: g("q")}}
}

// values is the query string of the filter, without empty fields.
func (dq deviceQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"platform": dq.Platform, "status": dq.Status, "ownership": dq.Ownership, "owner": dq.Owner, "notseen": dq.NotSeenDays, "q": dq.Search} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// pageNumber is the page= of the query: 1 when absent or not a page
// number, maxPage at most.
func pageNumber(r *http.Request) int {
	page, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || page < 1 {
		return 1
	}
	return min(page, maxPage)
}

// deviceTable is what the device table shows; Owners, the owners' user
// names by user ID, is nil where the table is of one user's devices.
type deviceTable struct {
	Devices []*portico.Device
	Owners  map[int64]string
}

type devicesPage struct {
	ui.Layout
	deviceTable
	Query      deviceQuery
	Platforms  []portico.Platform
	Statuses   []portico.DeviceStatus
	Ownerships []portico.Ownership
	Error      string
	Page       int
	More       bool
}

// PageURL is the list's address with the filter and the page.
func (p devicesPage) PageURL(page int) string {
	v := p.Query.values()
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	return "/admin/devices?" + v.Encode()
}

// ExportURL downloads the filtered list.
func (p devicesPage) ExportURL() string { return "/admin/devices/export?" + p.Query.values().Encode() }

func (h *handler) devices(w http.ResponseWriter, r *http.Request) error {
	page := pageNumber(r)
	p := devicesPage{
		Layout: h.layout(r, "Devices"), Query: parseDeviceQuery(r.URL.Query()), Page: page,
		Platforms: portico.Platforms, Statuses: service.DeviceStatuses, Ownerships: []portico.Ownership{portico.OwnershipEmployee, portico.OwnershipCompany},
	}
	f, err := h.svc.DeviceFilter(p.Query.DeviceQuery)
	if err != nil {
		if portico.ErrorCode(err) != portico.EINVALID {
			return err
		}
		p.Error = portico.ErrorMessage(err)
		return h.ui.Render(w, http.StatusBadRequest, "admin_devices", p)
	}
	f.Limit, f.Offset = devicesPerPage+1, (page-1)*devicesPerPage
	devices, err := h.svc.AllDevices(r.Context(), f)
	if err != nil {
		return err
	}
	p.More = len(devices) > devicesPerPage
	p.Devices = devices[:min(len(devices), devicesPerPage)]
	if p.Owners, err = h.svc.DeviceOwners(r.Context(), p.Devices); err != nil {
		return err
	}
	return h.ui.Render(w, http.StatusOK, "admin_devices", p)
}

// exportDevices downloads every device the filter keeps, a batch at a
// time, so that a large fleet is never held in memory at once. A refusal
// comes before the download begins, as an error page.
func (h *handler) exportDevices(w http.ResponseWriter, r *http.Request) error {
	f, err := h.svc.DeviceFilter(parseDeviceQuery(r.URL.Query()).DeviceQuery)
	if err != nil {
		return err
	}
	f.Limit = exportBatch
	devices, err := h.svc.AllDevices(r.Context(), f)
	if err != nil {
		return err
	}
	out := newCSV(w, "devices.csv", "id", "name", "model", "manufacturer", "platform", "os_version", "status", "ownership",
		"owner", "serial", "imei", "phone_number", "carrier", "registered_at", "last_checkin")
	for len(devices) > 0 {
		if err := h.writeDevices(r, out, devices); err != nil {
			abortDownload(r, "exporting devices", err)
		}
		f.AfterID = devices[len(devices)-1].ID
		if devices, err = h.svc.AllDevices(r.Context(), f); err != nil {
			abortDownload(r, "exporting devices", err)
		}
	}
	if err := out.close(); err != nil {
		abortDownload(r, "exporting devices", err)
	}
	return nil
}

// writeDevices writes a batch of the export, with its owners' names.
func (h *handler) writeDevices(r *http.Request, out *csvFile, devices []*portico.Device) error {
	owners, err := h.svc.DeviceOwners(r.Context(), devices)
	if err != nil {
		return err
	}
	for _, d := range devices {
		x := d.Details
		err := out.row(strconv.FormatInt(d.ID, 10), x.Name, x.Model, x.Manufacturer, string(d.Platform), x.OSVersion,
			string(d.Status), string(d.Ownership), owners[d.UserID], x.Serial, x.IMEI, x.PhoneNumber, x.Carrier,
			csvTime(d.RegisteredAt), csvTime(d.LastCheckin))
		if err != nil {
			return err
		}
	}
	return nil
}

// csvTime is a time in an export: RFC 3339 in UTC, or empty for never.
func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
