package service_test

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/apns/apnstest"
)

// enrolledIPhone is an active iPhone of user enrolled in Apple MDM, with
// the push token it sent in its TokenUpdate (none for nil).
func (w *pushWorld) enrolledIPhone(t *testing.T, user *portico.User, token []byte) *portico.Device {
	t.Helper()
	now := w.clock.Now()
	d := &portico.Device{UserID: user.ID, Platform: portico.PlatformIOS, Status: portico.StatusActive, CreatedAt: now, RegisteredAt: now,
		Details: portico.DeviceDetails{Name: "Alice's iPhone", Model: "iPhone15,2", Manufacturer: "Apple"}}
	if err := w.db.CreateDevice(t.Context(), d, nil); err != nil {
		t.Fatal(err)
	}
	e := &portico.AppleEnrollment{DeviceID: d.ID, UDID: "00008110-" + hex.EncodeToString(token), Fingerprint: append([]byte("fp"), token...),
		Topic: pushTopic, PushToken: token, PushMagic: "3F2504E0-4F89-11D3-9A0C-0305E82C3301", EnrolledAt: now, UpdatedAt: now}
	if err := w.db.PutAppleEnrollment(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestAppleCommandsArePushed: every command queued for an enrolled Apple
// device queues a push to its token, a held wipe when it is released, and
// none goes to a device without a token, nor to one whose token Apple
// refused, until its next TokenUpdate.
func TestAppleCommandsArePushed(t *testing.T) {
	w := newPushWorld(t)
	admin := as(w.addUser(t, "bob", true))
	alice := w.addUser(t, "carol", false)
	token := []byte{0xa1, 0xb2, 0xc3, 0xd4}
	phone := w.enrolledIPhone(t, alice, token)
	silent := w.enrolledIPhone(t, alice, nil)
	want := apnstest.Push{Token: hex.EncodeToString(token), Topic: pushTopic, PushMagic: "3F2504E0-4F89-11D3-9A0C-0305E82C3301"}
	act := func(d *portico.Device, kind portico.CommandKind, confirm string) *portico.Command {
		t.Helper()
		c, err := w.svc.Act(admin, d.ID, kind, confirm)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		return c
	}
	pushed := func(step string, n int) {
		t.Helper()
		w.run(t)
		got := w.srv.Pushes()
		if len(got) != n {
			t.Fatalf("%s: Apple got %d pushes, want %d", step, len(got), n)
		}
		for _, p := range got {
			if p != want {
				t.Errorf("%s: push %+v, want %+v", step, p, want)
			}
		}
	}

	act(silent, portico.CommandLock, "")
	pushed("a lock of a device without a token", 0)
	act(phone, portico.CommandCheckin, "")
	pushed("a check-in", 1)

	if c := act(phone, portico.CommandWipe, phone.Title()); c.Status != portico.CommandHeld {
		t.Fatalf("wipe %s, want held for its grace period", c.Status)
	}
	pushed("a wipe in its grace period", 1)
	w.clock.Advance(2 * time.Minute)
	if err := w.svc.AdvanceCommands(t.Context()); err != nil {
		t.Fatal(err)
	}
	pushed("the released wipe", 2)

	w.srv.Unregister(want.Token)
	act(phone, portico.CommandLock, "")
	pushed("a lock Apple refuses", 2)
	if msgs := w.pushes(t); len(msgs) != 3 || msgs[0].Status != portico.MessageFailed {
		t.Fatalf("the lock's push %+v, want refused", msgs[0])
	}
	e, err := w.db.AppleEnrollment(t.Context(), phone.ID)
	if err != nil || len(e.PushToken) != 0 {
		t.Fatalf("after Apple refused the token the enrollment keeps %x (%v)", e.PushToken, err)
	}
	act(phone, portico.CommandRetire, "retire")
	if n := len(w.pushes(t)); n != 3 {
		t.Errorf("%d pushes in the outbox after a command for a refused token, want 3 (no new one)", n)
	}
}
