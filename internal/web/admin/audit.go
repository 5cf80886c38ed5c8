package admin

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
	"github.com/portico-mdm/portico/internal/web/ui"
)

const auditPerPage = 100

var auditResults = []string{portico.ResultOK, portico.ResultDenied, portico.ResultFailed}

// dateLayout is how the audit filter's dates are typed, and how a date
// field of a form sends them.
const dateLayout = "2006-01-02"

// auditQuery is the audit log's filter as the query string carries it.
type auditQuery struct {
	Actor, Device, Action, Result, From, To string
}

func parseAuditQuery(q url.Values) auditQuery {
	g := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	return auditQuery{Actor: g("actor"), Device: g("device"), Action: g("action"), Result: g("result"), From: g("from"), To: g("to")}
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

// filter turns the query into the store's filter. Dates are days in UTC,
// as the log shows its times; the To day is included.
func (aq auditQuery) filter() (store.AuditFilter, error) {
	f := store.AuditFilter{Actor: aq.Actor, Action: aq.Action, Result: aq.Result}
	if utf8.RuneCountInString(aq.Actor) > 100 || utf8.RuneCountInString(aq.Action) > 100 {
		return f, portico.Errorf(portico.EINVALID, "Who and What have at most 100 characters each.")
	}
	if aq.Device != "" {
		id, err := strconv.ParseInt(strings.TrimPrefix(aq.Device, "device:"), 10, 64)
		if err != nil || id < 1 {
			return f, portico.Errorf(portico.EINVALID, "%q is not a device number.", aq.Device)
		}
		f.DeviceID = id
	}
	if aq.Result != "" && !slices.Contains(auditResults, aq.Result) {
		return f, portico.Errorf(portico.EINVALID, "%q is not a result; choose ok, denied or failed.", aq.Result)
	}
	for _, d := range []struct {
		label, value string
		into         *time.Time
		add          int
	}{{"From", aq.From, &f.From, 0}, {"To", aq.To, &f.To, 1}} {
		if d.value == "" {
			continue
		}
		day, err := time.Parse(dateLayout, d.value)
		if err != nil {
			return f, portico.Errorf(portico.EINVALID, "%s: %q is not a date such as 2026-03-01.", d.label, d.value)
		}
		*d.into = day.AddDate(0, 0, d.add)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, portico.Errorf(portico.EINVALID, "The From date is after the To date.")
	}
	return f, nil
}

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
	page, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	p := auditPage{Layout: h.layout(r, "Audit log"), Query: parseAuditQuery(r.URL.Query()), Results: auditResults, Page: page}
	f, err := p.Query.filter()
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
	f, err := parseAuditQuery(r.URL.Query()).filter()
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
