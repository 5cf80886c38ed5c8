package main

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/portico-mdm/portico/internal/sim"
)

// recoverPasscode is `device sim --recover-passcode`: one device, registered
// now with the password or given by its token, asks to recover its secure
// apps passcode (SPEC SECPIN-3) and says what the server answered.
func (c *cli) recoverPasscode(ctx context.Context, cfg sim.Config, deviceToken string, count int) error {
	if count != 1 {
		return usageError("--recover-passcode works on one device: it goes with --count 1")
	}
	if deviceToken == "" && cfg.PIN != "" {
		// The registration PIN registers the device once; what recovers
		// the passcode is another PIN, made later in the portal.
		return usageError("a device registered with a registration PIN recovers with the one-time PIN from the portal: give the device's --device-token and that PIN as --pin")
	}
	cfg.DeviceToken = deviceToken
	if deviceToken == "" {
		cfg.Details = sim.Profile(cfg.Platform, 0, rand.New(rand.NewPCG(rand.Uint64(), 0)))
	}
	d := sim.New(cfg)
	if deviceToken == "" {
		if err := d.Register(ctx); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "Registered %s (%s) for %s as device %d.\n", d.Details().Name, d.Details().Model, cfg.Username, d.ID())
	}
	if err := d.RecoverPasscode(ctx, cfg.Password, cfg.PIN); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Recovered the secure apps passcode for %s: the device may set a new one.\n", cfg.Username)
	return nil
}
