package storetest

import (
	"bytes"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

const pushTopic = "com.apple.mgmt.External.0b2c3d4e"

var pushOnly = []portico.Channel{portico.ChannelAPNs}

func newPush(deviceID int64, created time.Time) *portico.Message {
	return portico.Push{DeviceID: deviceID, Token: []byte{0xab, 0xcd, byte(deviceID)}, PushMagic: "magic-1", Topic: pushTopic}.Message(created)
}

func enqueuePush(t *testing.T, st store.Store, m *portico.Message) bool {
	t.Helper()
	queued, err := st.EnqueuePush(ctx(t), m)
	check(t, err)
	if m.ID == 0 {
		t.Fatal("EnqueuePush did not set the ID")
	}
	return queued
}

func testEnqueuePush(t *testing.T, st store.Store) {
	first := newPush(7, base)
	if !enqueuePush(t, st, first) {
		t.Fatal("the first push was not queued")
	}
	got, err := st.MessageByID(ctx(t), first.ID)
	check(t, err)
	want := *first
	want.Status, want.NextAttemptAt = portico.MessagePending, base
	wantMessage(t, got, &want)
	if p, err := portico.PushOf(got); err != nil || !bytes.Equal(p.Token, []byte{0xab, 0xcd, 7}) || p.PushMagic != "magic-1" || p.Topic != pushTopic || p.DeviceID != 7 {
		t.Errorf("PushOf = %+v, %v", p, err)
	}

	again := newPush(7, base.Add(time.Second))
	if enqueuePush(t, st, again) || again.ID != first.ID {
		t.Errorf("a second push for the device was queued as %d, want it to coalesce with %d", again.ID, first.ID)
	}
	other := newPush(8, base)
	if !enqueuePush(t, st, other) || other.ID == first.ID {
		t.Error("a push for another device coalesced")
	}

	// Once claimed, the waiting push may already be on its way: a new one
	// is queued, so that what was written since wakes the device too.
	claimed := claim(t, st, pushOnly, base.Add(time.Minute), 1)
	if ids := messageIDs(claimed); !slices.Equal(ids, []int64{first.ID}) {
		t.Fatalf("claimed %v, want %d", ids, first.ID)
	}
	fresh := newPush(7, base.Add(time.Minute))
	if !enqueuePush(t, st, fresh) || fresh.ID == first.ID {
		t.Error("no new push was queued while the first was being tried")
	}
	// A retry waits, but the fresh push already covers the device.
	check(t, st.RetryMessage(ctx(t), claimed[0], "busy", base.Add(2*time.Minute)))
	if m := newPush(7, base.Add(time.Minute)); enqueuePush(t, st, m) || m.ID != fresh.ID {
		t.Errorf("queued %d, want it to coalesce with the untried %d", m.ID, fresh.ID)
	}

	tests := []struct {
		name string
		edit func(*portico.Message)
	}{
		{"mail", func(m *portico.Message) { m.Channel = portico.ChannelMail }},
		{"no device", func(m *portico.Message) { m.DeviceID = 0 }},
		{"token not in hex", func(m *portico.Message) { m.To = "not hex" }},
		{"no token", func(m *portico.Message) { m.To = "" }},
		{"topic of no push certificate", func(m *portico.Message) { m.Subject = "com.example.app" }},
		{"no push magic", func(m *portico.Message) { m.Text = " " }},
		{"push magic of two lines", func(m *portico.Message) { m.Text = "a\nb" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newPush(9, base)
			tt.edit(m)
			_, err := st.EnqueuePush(ctx(t), m)
			wantCode(t, err, portico.EINVALID)
			wantCode(t, st.EnqueueMessage(ctx(t), newPush(0, base)), portico.EINVALID)
		})
	}
	pending, err := st.ListMessages(ctx(t), store.MessageFilter{Channel: portico.ChannelAPNs, Status: portico.MessagePending})
	check(t, err)
	if len(pending) != 3 {
		t.Errorf("%d pushes pending, want 3", len(pending))
	}
}

// testEnqueuePushHeld checks that a push found waiting is not sent before
// the transaction that counted on it commits: the device it wakes would
// look for what that transaction writes and not find it yet.
func testEnqueuePushHeld(t *testing.T, st store.Store) {
	waiting := newPush(3, base)
	enqueuePush(t, st, waiting)
	var committing atomic.Bool
	var wg sync.WaitGroup
	var claimed []*portico.Message
	var claimedWhileOpen bool
	check(t, st.InTx(ctx(t), func(tx store.Store) error {
		if enqueuePush(t, tx, newPush(3, base)) {
			t.Error("the push was queued twice")
		}
		wg.Go(func() {
			got, err := st.ClaimMessages(ctx(t), pushOnly, base.Add(time.Minute), lease, 10)
			if err != nil {
				t.Error(err)
			}
			claimed, claimedWhileOpen = got, !committing.Load()
		})
		time.Sleep(200 * time.Millisecond)
		committing.Store(true)
		return nil
	}))
	wg.Wait()
	if len(claimed) > 0 && claimedWhileOpen {
		t.Error("a worker claimed the push while the transaction that counted on it was open")
	}
}

func testPushCertificate(t *testing.T, st store.Store) {
	_, _, err := st.PushCertificate(ctx(t))
	wantCode(t, err, portico.ENOTFOUND)
	wantCode(t, st.DeletePushCertificate(ctx(t)), portico.ENOTFOUND)

	c := &portico.PushCertificate{
		Topic: pushTopic, Subject: "UID=" + pushTopic + ",CN=APSP", Issuer: "Apple Application Integration 2 Certification Authority",
		Serial: "1a2b", NotAfter: base.Add(365 * 24 * time.Hour), Fingerprint: "ff00", UploadedAt: base, UploadedBy: "alice",
		Chain: []byte("-----BEGIN CERTIFICATE-----\n…"),
	}
	check(t, st.PutPushCertificate(ctx(t), c, []byte{1, 2, 3}))
	got, key, err := st.PushCertificate(ctx(t))
	check(t, err)
	wantPushCertificate(t, got, c)
	if !bytes.Equal(key, []byte{1, 2, 3}) {
		t.Errorf("sealed key = %v", key)
	}

	next := *c
	next.Topic, next.Fingerprint, next.UploadedBy, next.NotAfter, next.Chain = pushTopic+".2", "ee11", "bob", base.Add(400*24*time.Hour), []byte("chain 2")
	check(t, st.PutPushCertificate(ctx(t), &next, []byte{4}))
	got, key, err = st.PushCertificate(ctx(t))
	check(t, err)
	wantPushCertificate(t, got, &next)
	if !bytes.Equal(key, []byte{4}) {
		t.Errorf("sealed key after replacing = %v", key)
	}

	check(t, st.DeletePushCertificate(ctx(t)))
	_, _, err = st.PushCertificate(ctx(t))
	wantCode(t, err, portico.ENOTFOUND)
}

func wantPushCertificate(t *testing.T, got, want *portico.PushCertificate) {
	t.Helper()
	wantTime(t, "not_after", got.NotAfter, want.NotAfter)
	wantTime(t, "uploaded_at", got.UploadedAt, want.UploadedAt)
	g, w := *got, *want
	g.NotAfter, g.UploadedAt, w.NotAfter, w.UploadedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got %+v, want %+v", g, w)
	}
}

// testEnqueuePushAtOnce queues pushes for one device from several
// transactions at once, none of which finds a push waiting before the
// others insert theirs: the device still gets one, with the latest token.
func testEnqueuePushAtOnce(t *testing.T, st store.Store) {
	const n = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			err := st.InTx(ctx(t), func(tx store.Store) error {
				m := newPush(11, base)
				m.Text = "magic-" + string(rune('a'+i))
				_, err := tx.EnqueuePush(ctx(t), m)
				return err
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	pending, err := st.ListMessages(ctx(t), store.MessageFilter{Channel: portico.ChannelAPNs, Status: portico.MessagePending})
	check(t, err)
	if len(pending) != 1 {
		t.Fatalf("%d pushes pending for one device, want 1", len(pending))
	}

	// A push found waiting takes the token the device sent since.
	renewed := newPush(11, base.Add(time.Second))
	renewed.To, renewed.Text = "0a0b0c", "magic-new"
	if enqueuePush(t, st, renewed) || renewed.ID != pending[0].ID {
		t.Fatalf("queued %d, want it to coalesce with %d", renewed.ID, pending[0].ID)
	}
	got, err := st.MessageByID(ctx(t), renewed.ID)
	check(t, err)
	if got.To != "0a0b0c" || got.Text != "magic-new" {
		t.Errorf("the waiting push kept token %q and magic %q, want the latest", got.To, got.Text)
	}
}
