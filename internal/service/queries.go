package service

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

// DeviceStatuses are the statuses the device list filters by.
var DeviceStatuses = []portico.DeviceStatus{portico.StatusActive, portico.StatusPending, portico.StatusWiped, portico.StatusRetired}

// AuditResults are the results the audit log filters by.
var AuditResults = []string{portico.ResultOK, portico.ResultDenied, portico.ResultFailed}

// DateLayout is how the audit filter's dates are written, as a date field
// of a form sends them.
const DateLayout = "2006-01-02"

// DeviceQuery is the device list's filter as typed by an admin, in the
// admin portal or through the admin API; every field is optional.
type DeviceQuery struct {
	Platform, Status, Ownership string
	// Owner is the owner's user name, in any case.
	Owner string
	// NotSeenDays keeps the devices not seen for at least this many days.
	NotSeenDays string
	// Search is part of the name, model, serial number or owner.
	Search string
}

// DeviceFilter checks the query and turns it into the store's filter;
// "not seen for N days" counts back from the service's time.
func (s *Service) DeviceFilter(q DeviceQuery) (store.DeviceFilter, error) {
	var f store.DeviceFilter
	var err error
	q.Platform, q.Status, q.Ownership = strings.TrimSpace(q.Platform), strings.TrimSpace(q.Status), strings.TrimSpace(q.Ownership)
	q.Owner, q.NotSeenDays, q.Search = strings.TrimSpace(q.Owner), strings.TrimSpace(q.NotSeenDays), strings.TrimSpace(q.Search)
	if q.Platform != "" {
		if f.Platform, err = portico.ParsePlatform(q.Platform); err != nil {
			return f, err
		}
	}
	if q.Status != "" {
		f.Status = portico.DeviceStatus(q.Status)
		if !slices.Contains(DeviceStatuses, f.Status) {
			return f, portico.Errorf(portico.EINVALID, "%q is not a device status; choose active, pending, wiped or retired.", q.Status)
		}
	}
	if q.Ownership != "" {
		if f.Ownership, err = portico.ParseOwnership(q.Ownership); err != nil {
			return f, err
		}
	}
	if q.NotSeenDays != "" {
		days, err := strconv.Atoi(q.NotSeenDays)
		if err != nil || days < 1 || days > 3650 {
			return f, portico.Errorf(portico.EINVALID, "Days without check-in: %q is not a number of days from 1 to 3650.", q.NotSeenDays)
		}
		f.NotSeenSince = s.clock.Now().AddDate(0, 0, -days)
	}
	if utf8.RuneCountInString(q.Owner) > 64 || utf8.RuneCountInString(q.Search) > 100 {
		return f, portico.Errorf(portico.EINVALID, "A search has at most 100 characters, a user name at most 64.")
	}
	f.Owner, f.Search = q.Owner, q.Search
	return f, nil
}

// AuditQuery is the audit log's filter as typed by an admin; every field
// is optional.
type AuditQuery struct {
	// Actor is who acted, in any case.
	Actor string
	// Device is a device's number, or "device:" and its number as the log
	// names devices that act.
	Device string
	// Action is an action ("device.wipe") or a kind of action ("device").
	Action string
	Result string
	// From and To are days in UTC, as the log shows its times; To is
	// included.
	From, To string
}

// AuditFilter checks the query and turns it into the store's filter.
func AuditFilter(q AuditQuery) (store.AuditFilter, error) {
	q.Actor, q.Device, q.Action = strings.TrimSpace(q.Actor), strings.TrimSpace(q.Device), strings.TrimSpace(q.Action)
	q.Result, q.From, q.To = strings.TrimSpace(q.Result), strings.TrimSpace(q.From), strings.TrimSpace(q.To)
	f := store.AuditFilter{Actor: q.Actor, Action: q.Action, Result: q.Result}
	if utf8.RuneCountInString(q.Actor) > 100 || utf8.RuneCountInString(q.Action) > 100 {
		return f, portico.Errorf(portico.EINVALID, "Who and What have at most 100 characters each.")
	}
	if q.Device != "" {
		id, err := strconv.ParseInt(strings.TrimPrefix(q.Device, "device:"), 10, 64)
		if err != nil || id < 1 {
			return f, portico.Errorf(portico.EINVALID, "%q is not a device number.", q.Device)
		}
		f.DeviceID = id
	}
	if q.Result != "" && !slices.Contains(AuditResults, q.Result) {
		return f, portico.Errorf(portico.EINVALID, "%q is not a result; choose ok, denied or failed.", q.Result)
	}
	for _, d := range []struct {
		label, value string
		into         *time.Time
		add          int
	}{{"From", q.From, &f.From, 0}, {"To", q.To, &f.To, 1}} {
		if d.value == "" {
			continue
		}
		day, err := time.Parse(DateLayout, d.value)
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
