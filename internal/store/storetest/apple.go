package storetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

func testAppleChallenges(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	d := addPendingDevice(t, st, alice.ID)
	inv := addInvitation(t, st, alice.ID, d.ID, "token", "")
	one := &portico.AppleChallenge{UserID: alice.ID, DeviceID: d.ID, InvitationID: inv.ID, Platform: portico.PlatformIOS,
		UsesLeft: 1, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
	check(t, st.CreateAppleChallenge(ctx(t), one, hash("first")))
	// A new profile for the device makes a new challenge; the old one stops.
	again := *one
	check(t, st.CreateAppleChallenge(ctx(t), &again, hash("second")))
	_, err := st.UseAppleChallenge(ctx(t), hash("first"), base)
	wantCode(t, err, portico.ENOTFOUND)

	got, err := st.UseAppleChallenge(ctx(t), hash("second"), base.Add(time.Minute))
	check(t, err)
	if got.ID != again.ID || got.DeviceID != d.ID || got.InvitationID != inv.ID || got.UsesLeft != 0 || got.Platform != portico.PlatformIOS {
		t.Errorf("used %+v", got)
	}
	wantTime(t, "ExpiresAt", got.ExpiresAt, base.Add(time.Hour))
	_, err = st.UseAppleChallenge(ctx(t), hash("second"), base.Add(time.Minute))
	wantCode(t, err, portico.ENOTFOUND)

	// Bulk: several uses, no device, until it expires.
	bulk := &portico.AppleChallenge{UserID: alice.ID, Platform: portico.PlatformMacOS, UsesLeft: 2, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
	check(t, st.CreateAppleChallenge(ctx(t), bulk, hash("bulk")))
	for range 2 {
		_, err := st.UseAppleChallenge(ctx(t), hash("bulk"), base)
		check(t, err)
	}
	_, err = st.UseAppleChallenge(ctx(t), hash("bulk"), base)
	wantCode(t, err, portico.ENOTFOUND)
	late := &portico.AppleChallenge{UserID: alice.ID, Platform: portico.PlatformMacOS, UsesLeft: 5, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
	check(t, st.CreateAppleChallenge(ctx(t), late, hash("late")))
	_, err = st.UseAppleChallenge(ctx(t), hash("late"), base.Add(time.Hour))
	wantCode(t, err, portico.ENOTFOUND)

	// A last use taken at once by many: one wins.
	last := &portico.AppleChallenge{UserID: alice.ID, Platform: portico.PlatformIOS, UsesLeft: 1, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
	check(t, st.CreateAppleChallenge(ctx(t), last, hash("last")))
	onlyOneWins(t, "uses", func() error {
		_, err := st.UseAppleChallenge(ctx(t), hash("last"), base)
		if portico.ErrorCode(err) == portico.ENOTFOUND {
			return portico.Errorf(portico.ECONFLICT, "used")
		}
		return err
	})
}

func testAppleEnrollments(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	d := addDevice(t, st, alice.ID, "phone")
	other := addDevice(t, st, alice.ID, "other")
	c := &portico.AppleCertificate{Fingerprint: hash("cert"), DeviceID: d.ID, Serial: "42", IssuedAt: base, NotAfter: base.Add(time.Hour)}
	check(t, st.PutAppleCertificate(ctx(t), c))
	wantCode(t, st.PutAppleCertificate(ctx(t), c), portico.ECONFLICT)
	got, err := st.AppleCertificate(ctx(t), hash("cert"))
	check(t, err)
	if got.DeviceID != d.ID || got.Serial != "42" || got.InvitationID != 0 {
		t.Errorf("certificate %+v", got)
	}
	_, err = st.AppleCertificate(ctx(t), hash("unknown"))
	wantCode(t, err, portico.ENOTFOUND)

	_, err = st.AppleEnrollment(ctx(t), d.ID)
	wantCode(t, err, portico.ENOTFOUND)
	e := &portico.AppleEnrollment{DeviceID: d.ID, UDID: "UDID-1", Fingerprint: hash("cert"), Topic: "com.apple.mgmt.x",
		EnrolledAt: base, UpdatedAt: base}
	check(t, st.PutAppleEnrollment(ctx(t), e))
	e.PushToken, e.PushMagic, e.UnlockToken, e.UpdatedAt = []byte{1, 2, 3}, "magic", []byte("sealed"), base.Add(time.Minute)
	check(t, st.PutAppleEnrollment(ctx(t), e))
	check(t, st.SetAppleState(ctx(t), d.ID, true, true, base.Add(2*time.Minute)))
	back, err := st.AppleEnrollment(ctx(t), d.ID)
	check(t, err)
	if back.UDID != "UDID-1" || !bytes.Equal(back.PushToken, []byte{1, 2, 3}) || back.PushMagic != "magic" ||
		string(back.UnlockToken) != "sealed" || !back.Supervised || !back.LostMode || !bytes.Equal(back.Fingerprint, hash("cert")) {
		t.Errorf("enrollment %+v", back)
	}
	wantTime(t, "EnrolledAt", back.EnrolledAt, base)
	wantTime(t, "UpdatedAt", back.UpdatedAt, base.Add(2*time.Minute))
	// A token Apple refused is forgotten; the rest of the enrollment stays.
	check(t, st.ClearApplePushToken(ctx(t), d.ID, base.Add(3*time.Minute)))
	cleared, err := st.AppleEnrollment(ctx(t), d.ID)
	check(t, err)
	if len(cleared.PushToken) != 0 || cleared.PushMagic != "" || cleared.UDID != "UDID-1" || string(cleared.UnlockToken) != "sealed" || !cleared.LostMode {
		t.Errorf("enrollment after clearing its push token %+v", cleared)
	}
	wantTime(t, "UpdatedAt", cleared.UpdatedAt, base.Add(3*time.Minute))
	wantCode(t, st.ClearApplePushToken(ctx(t), other.ID, base), portico.ENOTFOUND)
	// Another device with the same UDID is refused.
	wantCode(t, st.PutAppleEnrollment(ctx(t), &portico.AppleEnrollment{DeviceID: other.ID, UDID: "UDID-1", Fingerprint: hash("x"),
		Topic: "t", EnrolledAt: base, UpdatedAt: base}), portico.ECONFLICT)
	wantCode(t, st.SetAppleState(ctx(t), other.ID, true, false, base), portico.ENOTFOUND)

	// An active device keeps its UDID; a retired one lets it go.
	check(t, st.ReleaseAppleUDID(ctx(t), "UDID-1"))
	_, err = st.AppleEnrollment(ctx(t), d.ID)
	check(t, err)
	check(t, st.EndDevice(ctx(t), d.ID, portico.StatusRetired))
	check(t, st.ReleaseAppleUDID(ctx(t), "UDID-1"))
	_, err = st.AppleEnrollment(ctx(t), d.ID)
	wantCode(t, err, portico.ENOTFOUND)
	check(t, st.PutAppleEnrollment(ctx(t), &portico.AppleEnrollment{DeviceID: other.ID, UDID: "UDID-1", Fingerprint: hash("x"),
		Topic: "t", EnrolledAt: base, UpdatedAt: base}))
}

func testAppleCommands(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	d := addDevice(t, st, alice.ID, "phone")
	_, err := st.SendAppleCommand(ctx(t), d.ID, "U-0", base)
	wantCode(t, err, portico.ENOTFOUND)
	first := queue(t, st, d.ID, portico.CommandLocate, portico.CommandQueued, base)
	second := queue(t, st, d.ID, portico.CommandLock, portico.CommandQueued, base.Add(time.Second))

	sent, err := st.SendAppleCommand(ctx(t), d.ID, "U-1", base.Add(time.Minute))
	check(t, err)
	if sent.ID != first.ID || sent.Status != portico.CommandSent || sent.AppleUUID != "U-1" || sent.AppleStep != 0 {
		t.Fatalf("sent %+v", sent)
	}
	got, err := st.AppleCommand(ctx(t), d.ID, "U-1")
	check(t, err)
	if got.ID != first.ID {
		t.Errorf("AppleCommand found %d", got.ID)
	}
	// The next step goes back in the queue, ahead of younger commands.
	check(t, st.RequeueAppleCommand(ctx(t), first.ID, 1))
	wantCode(t, st.RequeueAppleCommand(ctx(t), first.ID, 1), portico.ECONFLICT)
	_, err = st.AppleCommand(ctx(t), d.ID, "U-1")
	wantCode(t, err, portico.ENOTFOUND)
	sent, err = st.SendAppleCommand(ctx(t), d.ID, "U-2", base.Add(2*time.Minute))
	check(t, err)
	if sent.ID != first.ID || sent.AppleStep != 1 || sent.AppleUUID != "U-2" {
		t.Errorf("second send %+v", sent)
	}
	sent, err = st.SendAppleCommand(ctx(t), d.ID, "U-3", base.Add(2*time.Minute))
	check(t, err)
	if sent.ID != second.ID {
		t.Errorf("third send %d, want %d", sent.ID, second.ID)
	}
	// A UUID is one command's only.
	other := queue(t, st, d.ID, portico.CommandCheckin, portico.CommandQueued, base)
	_, err = st.SendAppleCommand(ctx(t), d.ID, "U-3", base)
	wantCode(t, err, portico.ECONFLICT)
	if c, err := st.CommandByID(ctx(t), other.ID); err != nil || c.Status != portico.CommandQueued {
		t.Errorf("a refused send changed the command: %v %v", c, err)
	}
	// Another device's UUID is not this device's.
	phone2 := addDevice(t, st, alice.ID, "phone2")
	_, err = st.AppleCommand(ctx(t), phone2.ID, "U-2")
	wantCode(t, err, portico.ENOTFOUND)
}

func testAppleTokens(t *testing.T, st store.Store) {
	alice := addUser(t, st, "alice", false)
	d := addDevice(t, st, alice.ID, "phone")
	_, err := st.UpdateAppleToken(ctx(t), d.ID, store.AppleToken{PushToken: []byte{1}, PushMagic: "m", Topic: "t"}, base)
	wantCode(t, err, portico.ENOTFOUND)
	e := &portico.AppleEnrollment{DeviceID: d.ID, UDID: "UDID-T", Fingerprint: hash("old"), Topic: "t", EnrolledAt: base, UpdatedAt: base}
	check(t, st.PutAppleEnrollment(ctx(t), e))
	// State written in between (a DeviceInformation answer) survives a
	// TokenUpdate.
	check(t, st.SetAppleState(ctx(t), d.ID, true, true, base))
	first, err := st.UpdateAppleToken(ctx(t), d.ID, store.AppleToken{PushToken: []byte{1}, PushMagic: "m1", Topic: "t1", UnlockToken: []byte("sealed")}, base.Add(time.Minute))
	check(t, err)
	if !first {
		t.Error("the first token is not said to be first")
	}
	first, err = st.UpdateAppleToken(ctx(t), d.ID, store.AppleToken{PushToken: []byte{2}, PushMagic: "m2", Topic: "t2"}, base.Add(2*time.Minute))
	check(t, err)
	if first {
		t.Error("the second token is said to be first")
	}
	back, err := st.AppleEnrollment(ctx(t), d.ID)
	check(t, err)
	if !bytes.Equal(back.PushToken, []byte{2}) || back.PushMagic != "m2" || back.Topic != "t2" || string(back.UnlockToken) != "sealed" ||
		!back.Supervised || !back.LostMode || back.UDID != "UDID-T" {
		t.Errorf("after two TokenUpdates: %+v", back)
	}
	wantTime(t, "UpdatedAt", back.UpdatedAt, base.Add(2*time.Minute))

	// The renewed identity replaces the bound one, once.
	check(t, st.RebindAppleIdentity(ctx(t), d.ID, hash("old"), hash("new"), base.Add(3*time.Minute)))
	wantCode(t, st.RebindAppleIdentity(ctx(t), d.ID, hash("old"), hash("other"), base.Add(3*time.Minute)), portico.ECONFLICT)
	wantCode(t, st.RebindAppleIdentity(ctx(t), d.ID+1000, hash("old"), hash("new"), base), portico.ENOTFOUND)
	back, err = st.AppleEnrollmentByUDID(ctx(t), "UDID-T")
	check(t, err)
	if back.DeviceID != d.ID || !bytes.Equal(back.Fingerprint, hash("new")) || !back.Supervised {
		t.Errorf("after the renewal: %+v", back)
	}
	_, err = st.AppleEnrollmentByUDID(ctx(t), "UDID-NONE")
	wantCode(t, err, portico.ENOTFOUND)
	other := addDevice(t, st, alice.ID, "other")
	check(t, st.PutAppleEnrollment(ctx(t), &portico.AppleEnrollment{DeviceID: other.ID, UDID: "UDID-O", Fingerprint: hash("o"), Topic: "t", EnrolledAt: base, UpdatedAt: base}))
	check(t, st.DeleteAppleEnrollment(ctx(t), other.ID))
	wantCode(t, st.DeleteAppleEnrollment(ctx(t), other.ID), portico.ENOTFOUND)
	_, err = st.AppleEnrollmentByUDID(ctx(t), "UDID-O")
	wantCode(t, err, portico.ENOTFOUND)

	// Commands sent and not answered go back in the queue, in their order
	// and at their steps; queued and finished ones stay.
	lock := queue(t, st, d.ID, portico.CommandLock, portico.CommandQueued, base)
	locate := queue(t, st, d.ID, portico.CommandLocate, portico.CommandQueued, base.Add(time.Second))
	wipe := queue(t, st, d.ID, portico.CommandWipe, portico.CommandQueued, base.Add(2*time.Second))
	_, err = st.SendAppleCommand(ctx(t), d.ID, "R-1", base)
	check(t, err)
	_, err = st.SendAppleCommand(ctx(t), d.ID, "R-2", base)
	check(t, err)
	check(t, st.RequeueAppleCommand(ctx(t), locate.ID, 1))
	_, err = st.SendAppleCommand(ctx(t), d.ID, "R-3", base)
	check(t, err)
	n, err := st.RequeueSentAppleCommands(ctx(t), d.ID)
	check(t, err)
	if n != 2 {
		t.Errorf("requeued %d, want 2", n)
	}
	for _, want := range []struct {
		id   int64
		step int
	}{{lock.ID, 0}, {locate.ID, 1}, {wipe.ID, 0}} {
		sent, err := st.SendAppleCommand(ctx(t), d.ID, fmt.Sprint("S-", want.id), base)
		check(t, err)
		if sent.ID != want.id || sent.AppleStep != want.step {
			t.Errorf("sent %d at step %d, want %d at %d", sent.ID, sent.AppleStep, want.id, want.step)
		}
	}
	_, err = st.AppleCommand(ctx(t), d.ID, "R-1")
	wantCode(t, err, portico.ENOTFOUND)

	// A payload set after queueing (sealed with the command's ID) is kept;
	// a final command's is not changed.
	check(t, st.SetCommandPayload(ctx(t), lock.ID, []byte(`{"sealed_pin":"AAAA"}`)))
	got, err := st.CommandByID(ctx(t), lock.ID)
	check(t, err)
	if string(got.Payload) != `{"sealed_pin":"AAAA"}` {
		t.Errorf("payload %s", got.Payload)
	}
	_, err = st.FinishCommand(ctx(t), d.ID, lock.ID, portico.CommandResult{Status: portico.CommandDone}, base)
	check(t, err)
	wantCode(t, st.SetCommandPayload(ctx(t), lock.ID, []byte(`{}`)), portico.ENOTFOUND)
}
