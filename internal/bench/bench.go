// Package bench measures how many device check-ins a running server
// answers: it seeds devices straight into the store, so that a hundred
// thousand take seconds rather than a hundred thousand registrations, then
// drives real check-ins over HTTP as simulated agents.
package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/secret"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/sim"
)

// seedBatch is how many devices are stored per call, so that one
// transaction stays well under any database's parameter and memory limits.
const seedBatch = 5000

// Seed stores n active devices of the user with varied details and returns
// their tokens, in the order Checkins expects them. ctx must be the
// operator's.
func Seed(ctx context.Context, svc *service.Service, userID int64, n int) ([]string, error) {
	now := time.Now()
	tokens := make([]string, 0, n)
	for start := 0; start < n; start += seedBatch {
		end := min(start+seedBatch, n)
		devices := make([]*portico.Device, 0, end-start)
		hashes := make([][]byte, 0, end-start)
		for i := start; i < end; i++ {
			token, hash := secret.NewToken()
			p, details := profile(i, hash)
			devices = append(devices, &portico.Device{
				UserID: userID, Platform: p, Status: portico.StatusActive,
				Ownership: portico.OwnershipEmployee, Details: details,
				CreatedAt: now, RegisteredAt: now, LastCheckin: now,
			})
			tokens = append(tokens, token)
			hashes = append(hashes, hash)
		}
		if err := svc.SeedDevices(ctx, devices, hashes); err != nil {
			return nil, fmt.Errorf("seeding devices %d to %d: %w", start+1, end, err)
		}
	}
	return tokens, nil
}

// profile derives the i-th seeded device's details from its token hash.
// Checkins derives them again instead of keeping them, and sends exactly
// what was stored: a check-in with unchanged details is the read-only one
// that real agents make almost every time, not a write.
func profile(i int, hash []byte) (portico.Platform, portico.DeviceDetails) {
	rng := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(hash), binary.LittleEndian.Uint64(hash[8:])))
	p := portico.Platforms[i%len(portico.Platforms)]
	return p, sim.Profile(p, i, rng)
}

// Config is a check-in benchmark.
type Config struct {
	Server string
	// Tokens are the devices' tokens as Seed returned them; the check-ins
	// cycle through them.
	Tokens      []string
	Duration    time.Duration
	Concurrency int
}

// Result is what a benchmark measured. Latencies are of successful
// check-ins only, so that quick refusals do not flatter them.
type Result struct {
	OK, Errors    int
	Elapsed       time.Duration
	PerSecond     float64
	P50, P99, Max time.Duration
	// FirstError is the first failure's message, which usually explains
	// the rest.
	FirstError string
}

func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d check-ins in %s: %.0f per second; latency p50 %s, p99 %s, max %s; %d errors.",
		r.OK, r.Elapsed.Round(time.Millisecond), r.PerSecond,
		r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond), r.Errors)
	if r.FirstError != "" {
		fmt.Fprintf(&b, "\nFirst error: %s", r.FirstError)
	}
	return b.String()
}

// Checkins drives check-ins for cfg.Duration with cfg.Concurrency of them in
// flight, over one pool of kept-alive connections so that the server, not
// connection set-up, is measured.
func Checkins(ctx context.Context, cfg Config) (Result, error) {
	if len(cfg.Tokens) == 0 || cfg.Concurrency < 1 || cfg.Duration <= 0 {
		return Result{}, errors.New("bench: a check-in benchmark needs tokens, a positive concurrency and a positive duration")
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = cfg.Concurrency
	transport.MaxIdleConnsPerHost = cfg.Concurrency
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}

	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var (
		next       atomic.Int64
		firstError sync.Once
		res        Result
		wg         sync.WaitGroup
	)
	workers := make([]worker, cfg.Concurrency)
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)-1) % len(cfg.Tokens)
				token := cfg.Tokens[i]
				_, details := profile(i, secret.HashToken(token))
				d := sim.New(sim.Config{Server: cfg.Server, DeviceToken: token, Details: details, Client: client})
				began := time.Now()
				_, err := d.Checkin(ctx)
				took := time.Since(began)
				if ctx.Err() != nil {
					return // cut short by the end of the run: neither a success nor a failure
				}
				if err != nil {
					workers[w].errors++
					firstError.Do(func() { res.FirstError = err.Error() })
					continue
				}
				workers[w].latencies = append(workers[w].latencies, took)
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)

	var latencies []time.Duration
	for _, w := range workers {
		latencies = append(latencies, w.latencies...)
		res.Errors += w.errors
	}
	slices.Sort(latencies)
	res.OK = len(latencies)
	res.PerSecond = float64(res.OK) / res.Elapsed.Seconds()
	if n := len(latencies); n > 0 {
		res.P50 = percentile(latencies, 0.50)
		res.P99 = percentile(latencies, 0.99)
		res.Max = latencies[n-1]
	}
	return res, nil
}

type worker struct {
	latencies []time.Duration
	errors    int
}

// percentile is the nearest-rank percentile of sorted, non-empty latencies.
func percentile(sorted []time.Duration, q float64) time.Duration {
	return sorted[max(int(math.Ceil(float64(len(sorted))*q))-1, 0)]
}
