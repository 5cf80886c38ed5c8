package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/outbox"
	"github.com/portico-mdm/portico/internal/store"
)

// reportMissingGateways says at start-up, in the log and next to the URL,
// which channels have no gateway, so that the operator knows invitations
// wait in the outbox rather than reach anyone.
func (c *cli) reportMissingGateways(ctx context.Context, st store.Settings, log *slog.Logger) error {
	v, err := st.SettingValues(ctx)
	if err != nil {
		return err
	}
	for _, ch := range outbox.Channels {
		if v.HasGateway(ch) {
			continue
		}
		msg := "No mail server is configured: mail stays in the outbox at /admin/outbox."
		if ch == portico.ChannelSMS {
			msg = "No SMS gateway is configured: SMS stay in the outbox at /admin/outbox."
		}
		log.WarnContext(ctx, msg, "channel", ch)
		fmt.Fprintln(c.stdout, msg)
	}
	return nil
}
