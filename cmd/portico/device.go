package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/sim"
)

func (c *cli) device(ctx context.Context, g globals, args []string) error {
	if len(args) == 0 || args[0] != "sim" {
		return usageError("say `device sim --server URL --platform ios --user U --password P`")
	}
	fs := c.flags("device sim")
	var server, platform, user, password string
	var count int
	var every time.Duration
	fs.StringVar(&server, "server", c.env("server", "http://127.0.0.1:8080"), "Portico's URL (PORTICO_SERVER)")
	fs.StringVar(&platform, "platform", "ios", "ios, ipados, android, macos or windows")
	fs.StringVar(&user, "user", "", "user name to register the devices for")
	fs.StringVar(&password, "password", c.env("password", ""), "the user's password (PORTICO_PASSWORD)")
	fs.IntVar(&count, "count", 1, "how many devices to simulate")
	fs.DurationVar(&every, "every", 30*time.Second, "check-in interval; 0 registers, checks in once and exits")
	if _, err := parse(fs, args[1:]); err != nil {
		return err
	}
	p, err := portico.ParsePlatform(platform)
	if err != nil {
		return usageError("--platform: " + portico.ErrorMessage(err))
	}
	if user == "" || password == "" {
		return usageError("--user and --password are required")
	}
	if count < 1 || count > 100000 {
		return usageError("--count is from 1 to 100000")
	}
	if every < 0 {
		return usageError("--every cannot be negative")
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	devices := make([]*sim.Device, count)
	for i := range devices {
		d := sim.New(sim.Config{
			Server: server, Platform: p, Username: user, Password: password,
			Details: sim.Profile(p, i, rng),
		})
		if err := d.Register(ctx); err != nil {
			return fmt.Errorf("registering device %d of %d: %w", i+1, count, err)
		}
		fmt.Fprintf(c.stdout, "Registered %s (%s) for %s as device %d.\n", d.Details().Name, d.Details().Model, user, d.ID())
		devices[i] = d
	}
	if every == 0 {
		for _, d := range devices {
			if _, err := d.Checkin(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	fmt.Fprintf(c.stdout, "Checking in every %s; stop with Ctrl-C.\n", every)
	var wg sync.WaitGroup
	errs := make([]error, len(devices))
	for i, d := range devices {
		wg.Go(func() { errs[i] = d.Run(ctx, every) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
