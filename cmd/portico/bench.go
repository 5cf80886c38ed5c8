package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/bench"
	"github.com/portico-mdm/portico/internal/service"
)

// benchUser owns the devices that `bench checkins` seeds, so that they are
// easy to find and never mixed with a real user's.
const benchUser = "bench"

func (c *cli) bench(ctx context.Context, g globals, args []string) error {
	if len(args) == 0 || args[0] != "checkins" {
		return usageError("say `bench checkins --server URL --devices N --duration 30s`")
	}
	fs := c.flags("bench checkins")
	g.define(fs, c)
	var server string
	var devices, concurrency int
	var duration time.Duration
	env := envDefaults{c: c}
	fs.StringVar(&server, "server", c.env("server", "http://127.0.0.1:8080"), "Portico's URL (PORTICO_SERVER)")
	fs.IntVar(&devices, "devices", env.int("devices", 10000), "devices to seed and check in (PORTICO_DEVICES)")
	fs.DurationVar(&duration, "duration", env.duration("duration", 30*time.Second), "how long to drive check-ins (PORTICO_DURATION)")
	fs.IntVar(&concurrency, "concurrency", env.int("concurrency", 8*runtime.NumCPU()), "check-ins in flight at once (PORTICO_CONCURRENCY)")
	if env.err != nil {
		return env.err
	}
	if _, err := parse(fs, args[1:]); err != nil {
		return err
	}
	if devices < 1 || concurrency < 1 || duration <= 0 {
		return usageError("--devices, --concurrency and --duration must be positive")
	}
	ctx, svc, closeStore, err := c.operator(ctx, g)
	if err != nil {
		return err
	}
	defer closeStore()
	u, err := svc.UserByUsername(ctx, benchUser)
	if portico.ErrorCode(err) == portico.ENOTFOUND {
		u, _, err = svc.CreateUser(ctx, service.NewUser{User: portico.User{
			Username: benchUser, Name: "Load test", Email: "bench@localhost",
		}})
	}
	if err != nil {
		return err
	}
	start := time.Now()
	tokens, err := bench.Seed(ctx, svc, u.ID, devices)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Seeded %d devices in %s.\n", devices, time.Since(start).Round(time.Millisecond))
	res, err := bench.Checkins(ctx, bench.Config{Server: server, Tokens: tokens, Duration: duration, Concurrency: concurrency})
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, res)
	return nil
}
