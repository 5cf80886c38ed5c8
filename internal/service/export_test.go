package service

import (
	"context"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

// QueuePush queues a push in a transaction of its own, as the Apple MDM
// door does in the transaction of the command it queues.
func (s *Service) QueuePush(ctx context.Context, p portico.Push) error {
	return s.store.InTx(ctx, func(st store.Store) error { return s.queuePush(ctx, st, p) })
}
