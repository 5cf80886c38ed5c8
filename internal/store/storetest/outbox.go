package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

const lease = 2 * time.Minute

var (
	mailOnly = []portico.Channel{portico.ChannelMail}
	both     = []portico.Channel{portico.ChannelMail, portico.ChannelSMS}
)

func newMail(to string, created time.Time) *portico.Message {
	return &portico.Message{Channel: portico.ChannelMail, To: to, Subject: "Your invitation",
		Text: "Hello,\nyour PIN is 123456.\n", CreatedAt: created}
}

func newSMS(to string, created time.Time) *portico.Message {
	return &portico.Message{Channel: portico.ChannelSMS, To: to, Text: "PIN 123456", CreatedAt: created}
}

func enqueue(t *testing.T, st store.Store, m *portico.Message) *portico.Message {
	t.Helper()
	check(t, st.EnqueueMessage(ctx(t), m))
	if m.ID == 0 {
		t.Fatal("EnqueueMessage did not set the ID")
	}
	return m
}

func claim(t *testing.T, st store.Store, channels []portico.Channel, now time.Time, limit int) []*portico.Message {
	t.Helper()
	got, err := st.ClaimMessages(ctx(t), channels, now, lease, limit)
	check(t, err)
	if got == nil {
		t.Fatal("ClaimMessages returned nil, want an empty list")
	}
	return got
}

func messageIDs(ms []*portico.Message) []int64 {
	return ids(ms, func(m *portico.Message) int64 { return m.ID })
}

func wantMessage(t *testing.T, got, want *portico.Message) {
	t.Helper()
	wantTime(t, "created_at", got.CreatedAt, want.CreatedAt)
	wantTime(t, "next_attempt_at", got.NextAttemptAt, want.NextAttemptAt)
	wantTime(t, "sent_at", got.SentAt, want.SentAt)
	g, w := *got, *want
	g.CreatedAt, g.NextAttemptAt, g.SentAt = time.Time{}, time.Time{}, time.Time{}
	w.CreatedAt, w.NextAttemptAt, w.SentAt = time.Time{}, time.Time{}, time.Time{}
	if g != w {
		t.Errorf("got message %+v, want %+v", g, w)
	}
}

func testEnqueueMessage(t *testing.T, st store.Store) {
	m := enqueue(t, st, newMail("alice@example.com", base))
	want := *newMail("alice@example.com", base)
	want.ID, want.Status, want.NextAttemptAt = m.ID, portico.MessagePending, base
	if m.Status != portico.MessagePending {
		t.Errorf("EnqueueMessage set the status %q", m.Status)
	}
	got, err := st.MessageByID(ctx(t), m.ID)
	check(t, err)
	wantMessage(t, got, &want)

	_, err = st.MessageByID(ctx(t), m.ID+100)
	wantCode(t, err, portico.ENOTFOUND)

	tests := []struct {
		name string
		edit func(*portico.Message)
	}{
		{"no channel", func(m *portico.Message) { m.Channel = "" }},
		{"unknown channel", func(m *portico.Message) { m.Channel = "pigeon" }},
		{"bad address", func(m *portico.Message) { m.To = "alice" }},
		{"header in the address", func(m *portico.Message) { m.To = "alice@example.com\r\nBcc: eve@example.com" }},
		{"header in the subject", func(m *portico.Message) { m.Subject = "Hi\r\nBcc: eve@example.com" }},
		{"no text", func(m *portico.Message) { m.Text = " \n" }},
		{"no time", func(m *portico.Message) { m.CreatedAt = time.Time{} }},
		{"mail address for SMS", func(m *portico.Message) { m.Channel = portico.ChannelSMS }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMail("bob@example.com", base)
			tt.edit(m)
			wantCode(t, st.EnqueueMessage(ctx(t), m), portico.EINVALID)
		})
	}

	err = st.InTx(ctx(t), func(tx store.Store) error {
		enqueue(t, tx, newSMS("+41 79 000 00 00", base))
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("InTx returned %v", err)
	}
	all, err := st.ListMessages(ctx(t), store.MessageFilter{})
	check(t, err)
	if got := messageIDs(all); !slices.Equal(got, []int64{m.ID}) {
		t.Errorf("messages %v after refusals and a rollback, want only %d", got, m.ID)
	}
}

func testClaimMessages(t *testing.T, st store.Store) {
	later := enqueue(t, st, newMail("later@example.com", base.Add(2*time.Minute)))
	first := enqueue(t, st, newMail("first@example.com", base))
	second := enqueue(t, st, newMail("second@example.com", base.Add(time.Second)))
	sms := enqueue(t, st, newSMS("+41790000000", base))

	now := base.Add(time.Minute)
	if got := claim(t, st, nil, now, 10); len(got) != 0 {
		t.Errorf("claimed %v for no channel", messageIDs(got))
	}
	if got := claim(t, st, mailOnly, now, 0); len(got) != 0 {
		t.Errorf("claimed %v with limit 0", messageIDs(got))
	}
	got := claim(t, st, mailOnly, now, 1)
	if ids := messageIDs(got); !slices.Equal(ids, []int64{first.ID}) {
		t.Fatalf("claimed %v, want the oldest due mail %d", ids, first.ID)
	}
	want := *first
	want.Attempts, want.NextAttemptAt = 1, now.Add(lease)
	wantMessage(t, got[0], &want)

	got = claim(t, st, mailOnly, now, 10)
	if ids := messageIDs(got); !slices.Equal(ids, []int64{second.ID}) {
		t.Errorf("claimed %v, want only the other due mail %d (not one leased, not one due later, not an SMS)", ids, second.ID)
	}
	got = claim(t, st, both, now, 10)
	if ids := messageIDs(got); !slices.Equal(ids, []int64{sms.ID}) {
		t.Errorf("claimed %v, want the SMS %d", ids, sms.ID)
	}
	got = claim(t, st, mailOnly, later.CreatedAt, 10)
	if ids := messageIDs(got); !slices.Equal(ids, []int64{later.ID}) {
		t.Errorf("claimed %v when the later mail was due, want %d (the others are leased)", ids, later.ID)
	}
}

// testMessageLease checks that a lease that runs out lets another worker
// claim the message, and that the first worker can then no longer record
// an outcome, nor anyone once the message is sent.
func testMessageLease(t *testing.T, st store.Store) {
	m := enqueue(t, st, newMail("alice@example.com", base))
	first := claim(t, st, mailOnly, base, 10)
	if len(first) != 1 {
		t.Fatalf("claimed %d messages, want 1", len(first))
	}
	if got := claim(t, st, mailOnly, base.Add(lease-time.Microsecond), 10); len(got) != 0 {
		t.Fatalf("claimed %v before the lease ran out", messageIDs(got))
	}
	second := claim(t, st, mailOnly, base.Add(lease), 10)
	if len(second) != 1 || second[0].ID != m.ID || second[0].Attempts != 2 {
		t.Fatalf("after the lease ran out claimed %+v, want message %d on its second try", second, m.ID)
	}
	stale := first[0]
	wantCode(t, st.MarkMessageSent(ctx(t), stale, base), portico.ECONFLICT)
	wantCode(t, st.RetryMessage(ctx(t), stale, "x", base), portico.ECONFLICT)
	wantCode(t, st.FailMessage(ctx(t), stale, "x"), portico.ECONFLICT)

	sentAt := base.Add(lease + time.Second)
	check(t, st.MarkMessageSent(ctx(t), second[0], sentAt))
	got, err := st.MessageByID(ctx(t), m.ID)
	check(t, err)
	want := *m
	want.Status, want.Attempts, want.NextAttemptAt, want.SentAt = portico.MessageSent, 2, time.Time{}, sentAt
	want.Text = portico.DeliveredText // a delivered message keeps no PIN
	wantMessage(t, got, &want)

	for _, now := range []time.Time{sentAt, sentAt.Add(lease), sentAt.Add(365 * 24 * time.Hour)} {
		if got := claim(t, st, both, now, 10); len(got) != 0 {
			t.Errorf("a sent message was claimed again at %v", now)
		}
	}
	wantCode(t, st.MarkMessageSent(ctx(t), second[0], sentAt), portico.ECONFLICT)
	wantCode(t, st.RetryMessage(ctx(t), second[0], "x", sentAt), portico.ECONFLICT)
}

func testRetryAndFailMessage(t *testing.T, st store.Store) {
	m := enqueue(t, st, newSMS("+41790000000", base))
	c := claim(t, st, both, base, 10)[0]
	next := base.Add(30 * time.Second)
	check(t, st.RetryMessage(ctx(t), c, "the gateway answered 503", next))
	got, err := st.MessageByID(ctx(t), m.ID)
	check(t, err)
	want := *m
	want.Attempts, want.LastError, want.NextAttemptAt = 1, "the gateway answered 503", next
	wantMessage(t, got, &want)

	if got := claim(t, st, both, next.Add(-time.Microsecond), 10); len(got) != 0 {
		t.Errorf("claimed %v before its retry was due", messageIDs(got))
	}
	c = claim(t, st, both, next, 10)[0]
	check(t, st.FailMessage(ctx(t), c, "gave up"))
	got, err = st.MessageByID(ctx(t), m.ID)
	check(t, err)
	want.Status, want.Attempts, want.LastError, want.NextAttemptAt = portico.MessageFailed, 2, "gave up", time.Time{}
	wantMessage(t, got, &want)
	if got := claim(t, st, both, next.Add(time.Hour), 10); len(got) != 0 {
		t.Errorf("a failed message was claimed again")
	}
}

// testClaimMessagesOnce has several workers claim at once, as several
// instances on one database do: each message goes to exactly one.
func testClaimMessagesOnce(t *testing.T, st store.Store) {
	var queued []int64
	check(t, st.InTx(ctx(t), func(tx store.Store) error {
		for i := range 40 {
			queued = append(queued, enqueue(t, tx, newMail(fmt.Sprintf("u%d@example.com", i), base)).ID)
		}
		return nil
	}))
	var mu sync.Mutex
	var claimed []int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				ms, err := st.ClaimMessages(context.Background(), mailOnly, base, lease, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ms) == 0 {
					return
				}
				mu.Lock()
				claimed = append(claimed, messageIDs(ms)...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(claimed)
	if !slices.Equal(claimed, queued) {
		t.Errorf("concurrent claimers took %v, want each of %v exactly once", claimed, queued)
	}
}

func testListMessages(t *testing.T, st store.Store) {
	mail1 := enqueue(t, st, newMail("a@example.com", base))
	sms := enqueue(t, st, newSMS("+41790000000", base))
	mail2 := enqueue(t, st, newMail("b@example.com", base))
	c := claim(t, st, mailOnly, base, 1)[0]
	check(t, st.MarkMessageSent(ctx(t), c, base))

	tests := []struct {
		name string
		f    store.MessageFilter
		want []int64
	}{
		{"all", store.MessageFilter{}, []int64{mail2.ID, sms.ID, mail1.ID}},
		{"pending", store.MessageFilter{Status: portico.MessagePending}, []int64{mail2.ID, sms.ID}},
		{"sent", store.MessageFilter{Status: portico.MessageSent}, []int64{mail1.ID}},
		{"failed", store.MessageFilter{Status: portico.MessageFailed}, []int64{}},
		{"sms", store.MessageFilter{Channel: portico.ChannelSMS}, []int64{sms.ID}},
		{"pending mail", store.MessageFilter{Status: portico.MessagePending, Channel: portico.ChannelMail}, []int64{mail2.ID}},
		{"limit", store.MessageFilter{Limit: 2}, []int64{mail2.ID, sms.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.ListMessages(ctx(t), tt.f)
			check(t, err)
			if ids := messageIDs(got); !slices.Equal(ids, tt.want) || got == nil {
				t.Errorf("ListMessages(%+v) = %v, want %v", tt.f, ids, tt.want)
			}
		})
	}
}

func testDeleteFinishedMessages(t *testing.T, st store.Store) {
	sent := enqueue(t, st, newMail("old-sent@example.com", base))
	failed := enqueue(t, st, newMail("old-failed@example.com", base))
	pending := enqueue(t, st, newMail("old-pending@example.com", base))
	recent := enqueue(t, st, newMail("recent@example.com", base.Add(48*time.Hour)))
	for _, m := range claim(t, st, []portico.Channel{portico.ChannelMail}, base.Add(72*time.Hour), 10) {
		switch m.ID {
		case sent.ID, recent.ID:
			check(t, st.MarkMessageSent(ctx(t), m, base.Add(72*time.Hour)))
		case failed.ID:
			check(t, st.FailMessage(ctx(t), m, "refused"))
		}
	}
	check(t, st.DeleteFinishedMessages(ctx(t), base.Add(24*time.Hour)))
	left, err := st.ListMessages(ctx(t), store.MessageFilter{})
	check(t, err)
	if got := messageIDs(left); len(got) != 2 || !slices.Contains(got, pending.ID) || !slices.Contains(got, recent.ID) {
		t.Errorf("left %v; want the pending one (%d) and the recent one (%d)", got, pending.ID, recent.ID)
	}
}
