package storetest

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

func testFilterDevices(t *testing.T, st store.Store) {
	ann := addUser(t, st, "Ann", false)
	bob := addUser(t, st, "bob_b", false)
	ann.Name = "Ann Percent"
	check(t, st.UpdateUser(ctx(t), ann))
	devices := []*portico.Device{
		{UserID: ann.ID, Platform: portico.PlatformIOS, Status: portico.StatusActive, Ownership: portico.OwnershipCompany,
			Details: portico.DeviceDetails{Name: "Ann's iPhone", Model: "iPhone15,2", Serial: "SER-100"}, LastCheckin: base.Add(-40 * 24 * time.Hour)},
		{UserID: ann.ID, Platform: portico.PlatformAndroid, Status: portico.StatusActive, Ownership: portico.OwnershipEmployee,
			Details: portico.DeviceDetails{Name: "Pixel", Model: "Pixel 8", Serial: "100%"}, LastCheckin: base.Add(-time.Hour)},
		{UserID: bob.ID, Platform: portico.PlatformAndroid, Status: portico.StatusRetired, Ownership: portico.OwnershipCompany,
			Details: portico.DeviceDetails{Name: "Galaxy", Model: "SM-S911B", Serial: "X1"}, LastCheckin: base.Add(-31 * 24 * time.Hour)},
		{UserID: bob.ID, Platform: portico.PlatformWindows, Status: portico.StatusPending, Ownership: portico.OwnershipEmployee,
			CreatedAt: base.Add(-60 * 24 * time.Hour)},
		{UserID: ann.ID, Platform: portico.PlatformIOS, Status: portico.StatusActive, Ownership: portico.OwnershipEmployee,
			Details: portico.DeviceDetails{Name: "Émile's iPhone", Model: "ÜBER"}, LastCheckin: base},
		// Invited a moment ago, so not missing yet.
		{UserID: ann.ID, Platform: portico.PlatformWindows, Status: portico.StatusPending, Ownership: portico.OwnershipEmployee},
	}
	var all []int64
	for i, d := range devices {
		if d.CreatedAt.IsZero() {
			d.CreatedAt = base
		}
		check(t, st.CreateDevice(ctx(t), d, hash(fmt.Sprint("filter", i))))
		all = append(all, d.ID)
	}
	pick := func(is ...int) []int64 {
		out := []int64{}
		for _, i := range is {
			out = append(out, all[i])
		}
		return out
	}
	tests := []struct {
		name string
		f    store.DeviceFilter
		want []int64
	}{
		{"platform", store.DeviceFilter{Platform: portico.PlatformAndroid}, pick(1, 2)},
		{"status", store.DeviceFilter{Status: portico.StatusActive}, pick(0, 1, 4)},
		{"ownership", store.DeviceFilter{Ownership: portico.OwnershipCompany}, pick(0, 2)},
		{"owner in another case", store.DeviceFilter{Owner: "BOB_B"}, pick(2, 3)},
		{"unknown owner", store.DeviceFilter{Owner: "carol"}, pick()},
		{"not seen for 30 days, counting from creation when never seen", store.DeviceFilter{NotSeenSince: base.Add(-30 * 24 * time.Hour)}, pick(0, 2, 3)},
		{"search name", store.DeviceFilter{Search: "ann's"}, pick(0)},
		{"search model", store.DeviceFilter{Search: "pixel 8"}, pick(1)},
		{"search serial", store.DeviceFilter{Search: "ser-1"}, pick(0)},
		{"search owner's user name", store.DeviceFilter{Search: "bob"}, pick(2, 3)},
		{"search owner's name", store.DeviceFilter{Search: "percent"}, pick(0, 1, 4, 5)},
		{"search accented capital in lower case", store.DeviceFilter{Search: "émile"}, pick(4)},
		{"search accented capital in capitals", store.DeviceFilter{Search: "ÉMILE"}, pick(4)},
		{"search model of accented capitals", store.DeviceFilter{Search: "über"}, pick(4)},
		{"percent sign is literal", store.DeviceFilter{Search: "0%"}, pick(1)},
		{"underscore is literal", store.DeviceFilter{Search: "b_b"}, pick(2, 3)},
		{"underscore matches no other character", store.DeviceFilter{Search: "ser_1"}, pick()},
		{"combined", store.DeviceFilter{Platform: portico.PlatformAndroid, Ownership: portico.OwnershipCompany, NotSeenSince: base}, pick(2)},
		{"combined with search", store.DeviceFilter{Status: portico.StatusActive, Search: "ann"}, pick(0, 1, 4)},
		{"after", store.DeviceFilter{AfterID: all[1]}, pick(2, 3, 4, 5)},
		{"after with limit", store.DeviceFilter{AfterID: all[0], Limit: 2}, pick(1, 2)},
		{"filtered page", store.DeviceFilter{Status: portico.StatusActive, Limit: 1, Offset: 1}, pick(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.ListDevices(ctx(t), tt.f)
			check(t, err)
			if ids := deviceIDs(got); !slices.Equal(ids, tt.want) {
				t.Errorf("ListDevices(%+v) = %v, want %v", tt.f, ids, tt.want)
			}
		})
	}
}

func testUsernames(t *testing.T, st store.Store) {
	var ids []int64
	want := map[int64]string{}
	for i := range 3 {
		u := addUser(t, st, fmt.Sprint("user", i), false)
		ids, want[u.ID] = append(ids, u.ID), u.Username
	}
	got, err := st.Usernames(ctx(t), append(ids, ids[0], ids[2]+100))
	check(t, err)
	if !maps.Equal(got, want) {
		t.Errorf("Usernames = %v, want %v", got, want)
	}
	got, err = st.Usernames(ctx(t), nil)
	check(t, err)
	if len(got) != 0 {
		t.Errorf("Usernames of no IDs = %v", got)
	}
}

func testFilterAudit(t *testing.T, st store.Store) {
	entries := []*portico.AuditEntry{
		{At: base, Actor: "alice", Action: "login", Result: portico.ResultOK},
		{At: base.Add(time.Hour), Actor: "root", Action: "device.wipe", DeviceID: 7, Result: portico.ResultOK},
		{At: base.Add(2 * time.Hour), Actor: "bob", Action: "device.retire", DeviceID: 8, Result: portico.ResultDenied},
		{At: base.Add(24 * time.Hour), Actor: "root", Action: "settings.change", Target: "mail.host", Result: portico.ResultOK},
		{At: base.Add(25 * time.Hour), Actor: "device:7", Action: "command.wipe", DeviceID: 7, Result: portico.ResultFailed},
		{At: base.Add(26 * time.Hour), Actor: "root", Action: "devices", Result: portico.ResultOK},
	}
	for _, e := range entries {
		check(t, st.AppendAudit(ctx(t), e))
	}
	tests := []struct {
		name string
		f    store.AuditFilter
		want []int
	}{
		{"action", store.AuditFilter{Action: "device.wipe"}, []int{1}},
		{"kind of action", store.AuditFilter{Action: "device"}, []int{2, 1}},
		{"kind is a whole word", store.AuditFilter{Action: "dev"}, []int{}},
		{"underscore is literal", store.AuditFilter{Action: "d_vice"}, []int{}},
		{"kind ends at its dot", store.AuditFilter{Action: "devices"}, []int{5}},
		{"result denied", store.AuditFilter{Result: portico.ResultDenied}, []int{2}},
		{"result failed", store.AuditFilter{Result: portico.ResultFailed}, []int{4}},
		{"from", store.AuditFilter{From: base.Add(24 * time.Hour)}, []int{5, 4, 3}},
		{"to", store.AuditFilter{To: base.Add(time.Hour)}, []int{0}},
		{"from and to", store.AuditFilter{From: base.Add(time.Hour), To: base.Add(25 * time.Hour)}, []int{3, 2, 1}},
		{"actor and result", store.AuditFilter{Actor: "root", Result: portico.ResultOK}, []int{5, 3, 1}},
		{"actor in another case", store.AuditFilter{Actor: "ROOT"}, []int{5, 3, 1}},
		{"device and action", store.AuditFilter{DeviceID: 7, Action: "command"}, []int{4}},
		{"before", store.AuditFilter{BeforeID: entries[3].ID}, []int{2, 1, 0}},
		{"before with limit", store.AuditFilter{BeforeID: entries[3].ID, Limit: 2}, []int{2, 1}},
		{"offset", store.AuditFilter{Offset: 4}, []int{1, 0}},
		{"filtered page", store.AuditFilter{Actor: "root", Limit: 1, Offset: 1}, []int{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.ListAudit(ctx(t), tt.f)
			check(t, err)
			var want []int64
			for _, i := range tt.want {
				want = append(want, entries[i].ID)
			}
			if ids := ids(got, func(e *portico.AuditEntry) int64 { return e.ID }); !slices.Equal(ids, want) {
				t.Errorf("ListAudit(%+v) = %v, want %v", tt.f, ids, want)
			}
		})
	}
}
