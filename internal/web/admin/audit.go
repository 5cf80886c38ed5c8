package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/web/ui"
)

const auditPerPage = 100

// auditQuery is the audit log's filter as the query string carries it.
type auditQuery struct{ service.AuditQuery }

func parseAuditQuery(q url.Values) auditQuery {
	g := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	return auditQuery{service.AuditQuery{Actor: g("actor"), Device: g("device"), Action: g("action"), Result: g("result"), From: g("from"), To: g("to")}}
}

func (aq auditQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"actor": aq.Actor, "device": aq.Device, "action": aq.Action, "result": aq.Result, "from": aq.From, "to": aq.To} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// Set reports whether any filter is set.
func (aq auditQuery) Set() bool { return len(aq.values()) > 0 }

type auditPage struct {
	ui.Layout
	Entries []*portico.AuditEntry
	Query   auditQuery
	Results []string
	Error   string
	Page    int
	More    bool
}

// PageURL is the log's address with the filter and the page.
func (p auditPage) PageURL(page int) string {
	v := p.Query.values()
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	return "/admin/audit?" + v.Encode()
}

// ExportURL downloads the filtered log.
func (p auditPage) ExportURL() string { return "/admin/audit/export?" + p.Query.values().Encode() }

func (h *handler) audit(w http.ResponseWriter, r *http.Request) error {
	page := pageNumber(r)
	p := auditPage{Layout: h.layout(r, "Audit log"), Query: parseAuditQuery(r.URL.Query()), Results: service.AuditResults, Page: page}
	f, err := service.AuditFilter(p.Query.AuditQuery)
	if err != nil {
		if portico.ErrorCode(err) != portico.EINVALID {
			return err
		}
		p.Error = portico.ErrorMessage(err)
		return h.ui.Render(w, http.StatusBadRequest, "admin_audit", p)
	}
	f.Limit, f.Offset = auditPerPage+1, (page-1)*auditPerPage
	entries, err := h.svc.AuditLog(r.Context(), f)
	if err != nil {
		return err
	}
	p.More = len(entries) > auditPerPage
	p.Entries = entries[:min(len(entries), auditPerPage)]
	return h.ui.Render(w, http.StatusOK, "admin_audit", p)
}

// exportAudit downloads every entry the filter keeps, newest first, a
// batch at a time.
func (h *handler) exportAudit(w http.ResponseWriter, r *http.Request) error {
	f, err := service.AuditFilter(parseAuditQuery(r.URL.Query()).AuditQuery)
	if err != nil {
		return err
	}
	f.Limit = exportBatch
	entries, err := h.svc.AuditLog(r.Context(), f)
	if err != nil {
		return err
	}
	out := newCSV(w, "audit.csv", "id", "at", "actor", "action", "target", "device_id", "source", "result", "detail")
	for len(entries) > 0 {
		if err := writeAudit(out, entries); err != nil {
			abortDownload(r, "exporting the audit log", err)
		}
		f.BeforeID = entries[len(entries)-1].ID
		if entries, err = h.svc.AuditLog(r.Context(), f); err != nil {
			abortDownload(r, "exporting the audit log", err)
		}
	}
	if err := out.close(); err != nil {
		abortDownload(r, "exporting the audit log", err)
	}
	return nil
}

// writeAudit writes a batch of the export.
func writeAudit(out *csvFile, entries []*portico.AuditEntry) error {
	for _, e := range entries {
		device := ""
		if e.DeviceID != 0 {
			device = strconv.FormatInt(e.DeviceID, 10)
		}
		if err := out.row(strconv.FormatInt(e.ID, 10), csvTime(e.At), e.Actor, e.Action, e.Target, device, e.Source, e.Result, e.Detail); err != nil {
			return err
		}
	}
	return nil
}
