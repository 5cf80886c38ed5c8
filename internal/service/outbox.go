package service

import (
	"context"
	"strings"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/outbox"
	"github.com/portico-mdm/portico/internal/store"
)

// TestSender delivers one message at once, outside the outbox's queue,
// with the settings v; *outbox.Worker is one.
type TestSender interface {
	SendNow(ctx context.Context, v portico.SettingValues, m *portico.Message) error
}

// Messages lists the outbox, newest first (admins only). A message may
// hold a registration link or PIN, which is why only admins read them:
// without a mail server or an SMS gateway they pass them on by hand.
func (s *Service) Messages(ctx context.Context, f store.MessageFilter) ([]*portico.Message, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	return s.store.ListMessages(ctx, f)
}

// Message returns one message of the outbox (admins only).
func (s *Service) Message(ctx context.Context, id int64) (*portico.Message, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	return s.store.MessageByID(ctx, id)
}

// SendTestMessage sends a message to the address at once, through the mail
// server or SMS gateway of the settings, bypassing the outbox (admins
// only). A delivery that fails is no refusal of the admin: its error, as
// the server or gateway gave it, comes back as failure for the admin to
// read, and the attempt is audited as failed with only what a log may keep
// of it, since a gateway's answer may echo the message.
func (s *Service) SendTestMessage(ctx context.Context, ch portico.Channel, to string) (failure string, err error) {
	action := portico.AuditEntry{Action: "settings.test_" + string(ch), Target: to}
	if err := requireAdmin(ctx); err != nil {
		s.auditRefusal(ctx, action, err)
		return "", err
	}
	v, err := s.store.SettingValues(ctx)
	if err != nil {
		return "", err
	}
	name := v.PortalName()
	m := &portico.Message{
		Channel: ch, To: strings.TrimSpace(to), Subject: "Test message from " + name,
		Text:      "This is a test message. It shows that " + name + " can send " + strings.ToLower(ch.Label()) + " with the settings as they are now.",
		CreatedAt: s.clock.Now(),
	}
	if ch == portico.ChannelSMS {
		m.Subject, m.Text = "", "Test message from "+name+": SMS delivery works."
	}
	if err := m.Validate(); err != nil {
		return "", err
	}
	action.Target = m.To
	if s.outbox == nil {
		return "", portico.Errorf(portico.ECONFLICT, "This server sends no messages, so it cannot send a test message.")
	}
	sendErr := s.outbox.SendNow(ctx, v, m)
	if code := portico.ErrorCode(sendErr); code != "" && code != portico.EINTERNAL {
		return "", sendErr
	}
	if sendErr != nil {
		action.Result, action.Detail = portico.ResultFailed, outbox.LogText(sendErr)
	}
	if err := s.audit(ctx, s.store, action); err != nil {
		return "", err
	}
	if sendErr != nil {
		return sendErr.Error(), nil
	}
	return "", nil
}
