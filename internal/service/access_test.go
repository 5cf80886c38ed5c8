package service_test

import (
	"strings"
	"testing"

	"github.com/portico-mdm/portico"
)

func TestCheckNetwork(t *testing.T) {
	e := newEnv(t)
	if err := e.svc.SetSettings(e.op, map[string]string{
		"access.portal_networks": "198.51.100.0/24",
		"access.admin_networks":  "10.0.0.0/8\n192.0.2.7",
		"access.api_networks":    "2001:db8::/32",
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		door   portico.Door
		source string
		want   string
	}{
		{portico.DoorPortal, "198.51.100.5", ""},
		{portico.DoorPortal, "10.1.2.3", portico.EFORBIDDEN},
		// Signing in is open to both portals' networks.
		{portico.DoorSignIn, "198.51.100.5", ""},
		{portico.DoorSignIn, "10.1.2.3", ""},
		{portico.DoorSignIn, "203.0.113.5", portico.EFORBIDDEN},
		{portico.DoorAdmin, "10.1.2.3", ""},
		{portico.DoorAdmin, "192.0.2.7", ""},
		{portico.DoorAdmin, "192.0.2.8", portico.EFORBIDDEN},
		{portico.DoorAdmin, "not-an-address", portico.EFORBIDDEN},
		{portico.DoorAdminAPI, "2001:db8::1", ""},
		{portico.DoorAdminAPI, "10.1.2.3", portico.EFORBIDDEN},
	} {
		err := e.svc.CheckNetwork(t.Context(), tc.door, tc.source)
		if portico.ErrorCode(err) != tc.want {
			t.Errorf("%s from %s: %v, want code %q", tc.door, tc.source, err, tc.want)
		}
		if err != nil && portico.ErrorMessage(err) != "Access from your network is not allowed" {
			t.Errorf("message %q", portico.ErrorMessage(err))
		}
	}
}

func TestAdminAllowListCannotLockOutItsAuthor(t *testing.T) {
	e := newEnv(t)
	root := e.addUser(t, "root", true)
	ctx := as(root) // from 192.0.2.1
	for _, tc := range []struct {
		list, want string
	}{
		{"10.0.0.0/8", portico.EINVALID},
		{"10.0.0.0/8, 192.0.2.0/24", ""},
		{"192.0.2.1", ""},
		{"", ""},
		{"192.0.2.0/33", portico.EINVALID},
	} {
		err := e.svc.SetSettings(ctx, map[string]string{"access.admin_networks": tc.list})
		if portico.ErrorCode(err) != tc.want {
			t.Errorf("saving %q: %v, want code %q", tc.list, err, tc.want)
		}
		if tc.want == "" {
			continue
		}
		v, _ := e.svc.Settings(t.Context())
		if v.Get("access.admin_networks") == tc.list {
			t.Errorf("%q was saved all the same", tc.list)
		}
	}
	err := e.svc.SetSettings(ctx, map[string]string{"access.admin_networks": "10.0.0.0/8"})
	if !strings.Contains(portico.ErrorMessage(err), "192.0.2.1") {
		t.Errorf("the refusal does not name the admin's address: %v", err)
	}
	// The command line has no address to lose: it is the way back in.
	if err := e.svc.SetSettings(e.op, map[string]string{"access.admin_networks": "10.0.0.0/8"}); err != nil {
		t.Errorf("from the command line: %v", err)
	}
}

func TestEmptyListAdmitsEveryone(t *testing.T) {
	e := newEnv(t)
	for _, door := range []portico.Door{portico.DoorPortal, portico.DoorSignIn, portico.DoorAdmin, portico.DoorAdminAPI} {
		if err := e.svc.CheckNetwork(t.Context(), door, "203.0.113.5"); err != nil {
			t.Errorf("%s: %v", door, err)
		}
	}
}
