package service

import (
	"context"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

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
