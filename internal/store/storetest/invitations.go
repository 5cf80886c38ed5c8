package storetest

import (
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

func addPendingDevice(t *testing.T, st store.Store, userID int64) *portico.Device {
	t.Helper()
	d := newDevice(userID, "")
	d.Status = portico.StatusPending
	check(t, st.CreateDevice(ctx(t), d, nil))
	return d
}

func addInvitation(t *testing.T, st store.Store, userID, deviceID int64, token, pinHash string) *portico.Invitation {
	t.Helper()
	inv := &portico.Invitation{
		UserID: userID, DeviceID: deviceID, Platform: portico.PlatformIOS, Kind: portico.InviteWithPIN,
		Status: portico.InvitationPending, CreatedAt: base, ExpiresAt: base.Add(7 * 24 * time.Hour),
	}
	if pinHash != "" {
		inv.PINExpiresAt = base.Add(24 * time.Hour)
	}
	check(t, st.CreateInvitation(ctx(t), inv, hash(token), pinHash))
	if inv.ID == 0 {
		t.Fatal("CreateInvitation did not set the ID")
	}
	return inv
}

func testInvitations(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	d := addPendingDevice(t, st, alice.ID)
	inv := addInvitation(t, st, alice.ID, d.ID, "token-1", "pin-hash")
	plain := addInvitation(t, st, alice.ID, 0, "token-2", "")

	got, err := st.InvitationByTokenHash(ctx(t), hash("token-1"))
	check(t, err)
	if got.ID != inv.ID || got.UserID != alice.ID || got.DeviceID != d.ID || !got.HasPIN || got.Kind != portico.InviteWithPIN ||
		got.Platform != portico.PlatformIOS || got.Status != portico.InvitationPending || got.PINAttempts != 0 {
		t.Errorf("invitation = %+v", got)
	}
	wantTime(t, "expires", got.ExpiresAt, inv.ExpiresAt)
	wantTime(t, "PIN expires", got.PINExpiresAt, inv.PINExpiresAt)
	wantTime(t, "used", got.UsedAt, time.Time{})
	if p, err := st.InvitationByID(ctx(t), plain.ID); err != nil || p.HasPIN || p.DeviceID != 0 || !p.PINExpiresAt.IsZero() {
		t.Errorf("invitation without PIN or device = %+v, %v", p, err)
	}
	if h, err := st.InvitationPINHash(ctx(t), inv.ID); err != nil || h != "pin-hash" {
		t.Errorf("PIN hash %q, %v", h, err)
	}
	for want := 1; want <= 4; want++ {
		ok, err := st.TakePINAttempt(ctx(t), inv.ID, 3)
		check(t, err)
		if ok != (want <= 3) {
			t.Errorf("attempt %d of at most 3 taken = %t", want, ok)
		}
	}
	if got, _ := st.InvitationByID(ctx(t), inv.ID); got.PINAttempts != 3 {
		t.Errorf("%d attempts counted; a refused attempt must count nothing", got.PINAttempts)
	}

	pending, err := st.PendingInvitations(ctx(t), alice.ID)
	check(t, err)
	if len(pending) != 2 || pending[0].ID != inv.ID || pending[1].ID != plain.ID {
		t.Errorf("pending = %v", ids(pending, func(i *portico.Invitation) int64 { return i.ID }))
	}

	renewed := *inv
	renewed.ExpiresAt = base.Add(30 * 24 * time.Hour)
	check(t, st.RenewInvitation(ctx(t), &renewed, hash("token-3"), "new-pin-hash"))
	if _, err := st.InvitationByTokenHash(ctx(t), hash("token-1")); portico.ErrorCode(err) != portico.ENOTFOUND {
		t.Errorf("the old token still finds the renewed invitation: %v", err)
	}
	got, err = st.InvitationByTokenHash(ctx(t), hash("token-3"))
	check(t, err)
	if got.PINAttempts != 0 {
		t.Errorf("renewal kept %d wrong PINs", got.PINAttempts)
	}
	wantTime(t, "renewed expiry", got.ExpiresAt, renewed.ExpiresAt)

	check(t, st.CloseInvitation(ctx(t), inv.ID, portico.InvitationUsed, base.Add(time.Hour)))
	got, _ = st.InvitationByID(ctx(t), inv.ID)
	if got.Status != portico.InvitationUsed {
		t.Errorf("status %s after use", got.Status)
	}
	wantTime(t, "used", got.UsedAt, base.Add(time.Hour))
	pending, _ = st.PendingInvitations(ctx(t), alice.ID)
	if len(pending) != 1 || pending[0].ID != plain.ID {
		t.Errorf("a used invitation is still pending")
	}

	expired, err := st.ExpiredInvitations(ctx(t), base.Add(7*24*time.Hour))
	check(t, err)
	if len(expired) != 1 || expired[0].ID != plain.ID {
		t.Errorf("expired at the deadline = %v", ids(expired, func(i *portico.Invitation) int64 { return i.ID }))
	}
	if expired, _ := st.ExpiredInvitations(ctx(t), base.Add(time.Hour)); len(expired) != 0 {
		t.Errorf("%d expired before their time", len(expired))
	}
}

func testInvitationsRefused(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	inv := addInvitation(t, st, alice.ID, 0, "token", "")
	dup := &portico.Invitation{UserID: alice.ID, Platform: portico.PlatformIOS, Kind: portico.InviteByMessage,
		Status: portico.InvitationPending, CreatedAt: base, ExpiresAt: base}
	wantCode(t, st.CreateInvitation(ctx(t), dup, hash("token"), ""), portico.ECONFLICT)
	dup.UserID = 999
	wantCode(t, st.CreateInvitation(ctx(t), dup, hash("other"), ""), portico.ENOTFOUND)

	_, err := st.InvitationByTokenHash(ctx(t), hash("nope"))
	wantCode(t, err, portico.ENOTFOUND)
	_, err = st.InvitationByID(ctx(t), 999)
	wantCode(t, err, portico.ENOTFOUND)
	if ok, err := st.TakePINAttempt(ctx(t), 999, 5); ok || err != nil {
		t.Errorf("an attempt on a missing invitation: %t, %v", ok, err)
	}
	wantCode(t, st.CloseInvitation(ctx(t), 999, portico.InvitationCancelled, base), portico.ENOTFOUND)

	// Two devices racing for one invitation: only the first wins.
	check(t, st.CloseInvitation(ctx(t), inv.ID, portico.InvitationUsed, base))
	wantCode(t, st.CloseInvitation(ctx(t), inv.ID, portico.InvitationUsed, base), portico.ECONFLICT)
	wantCode(t, st.CloseInvitation(ctx(t), inv.ID, portico.InvitationCancelled, base), portico.ECONFLICT)
	wantCode(t, st.RenewInvitation(ctx(t), inv, hash("fresh"), ""), portico.ECONFLICT)
}

func testActivateDevice(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	d := addPendingDevice(t, st, alice.ID)
	if _, err := st.DeviceByTokenHash(ctx(t), hash("")); portico.ErrorCode(err) != portico.ENOTFOUND {
		t.Errorf("a pending device has a credential: %v", err)
	}
	d.Platform = portico.PlatformAndroid
	d.Details = portico.DeviceDetails{Name: "Pixel", Model: "Pixel 8", OSVersion: "14.0.0"}
	d.RegisteredAt, d.LastCheckin = base.Add(time.Hour), base.Add(time.Hour)
	check(t, st.ActivateDevice(ctx(t), d, hash("device-token")))
	got, err := st.DeviceByTokenHash(ctx(t), hash("device-token"))
	check(t, err)
	if got.ID != d.ID || got.Status != portico.StatusActive || got.Platform != portico.PlatformAndroid || got.Details != d.Details {
		t.Errorf("activated device = %+v", got)
	}
	wantTime(t, "registered", got.RegisteredAt, base.Add(time.Hour))
	wantCode(t, st.ActivateDevice(ctx(t), d, hash("second-token")), portico.ECONFLICT)
	wantCode(t, st.DeletePendingDevice(ctx(t), d.ID), portico.ECONFLICT)
	wantCode(t, st.DeletePendingDevice(ctx(t), 999), portico.ENOTFOUND)

	// Deleting a pending device leaves its invitation, without the device.
	p := addPendingDevice(t, st, alice.ID)
	inv := addInvitation(t, st, alice.ID, p.ID, "token", "")
	check(t, st.DeletePendingDevice(ctx(t), p.ID))
	_, err = st.DeviceByID(ctx(t), p.ID)
	wantCode(t, err, portico.ENOTFOUND)
	if got, err := st.InvitationByID(ctx(t), inv.ID); err != nil || got.DeviceID != 0 {
		t.Errorf("invitation after its device went: %+v, %v", got, err)
	}
}
