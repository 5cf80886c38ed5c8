package bench_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/bench"
	"github.com/portico-mdm/portico/internal/server/servertest"
	"github.com/portico-mdm/portico/internal/store"
)

func TestSeedAndCheckins(t *testing.T) {
	e := servertest.New(t)
	u := e.AddUser("bench", false)
	const n = 120
	tokens, err := bench.Seed(e.Op, e.Service, u.ID, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(tokens) != n {
		t.Fatalf("%d tokens, want %d", len(tokens), n)
	}
	devices, err := e.Service.AllDevices(e.Op, store.DeviceFilter{UserID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	platforms := map[portico.Platform]int{}
	for _, d := range devices {
		platforms[d.Platform]++
		if d.Status != portico.StatusActive || d.LastCheckin.IsZero() || d.Details.Model == "" || d.Details.Validate() != nil {
			t.Errorf("seeded %+v", d)
		}
	}
	if len(devices) != n || len(platforms) != len(portico.Platforms) {
		t.Errorf("seeded %d devices on %v", len(devices), platforms)
	}
	if _, err := bench.Seed(context.Background(), e.Service, u.ID, 1); portico.ErrorCode(err) != portico.EFORBIDDEN {
		t.Errorf("seeding without the operator: %v", err)
	}

	res, err := bench.Checkins(context.Background(), bench.Config{
		Server: e.URL, Tokens: tokens, Duration: time.Second, Concurrency: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if res.OK == 0 || res.Errors != 0 || res.FirstError != "" {
		t.Errorf("ok %d, errors %d: %s", res.OK, res.Errors, res.FirstError)
	}
	if res.P50 <= 0 || res.P50 > res.P99 || res.P99 > res.Max || res.Elapsed < time.Second || res.PerSecond <= 0 {
		t.Errorf("implausible numbers: %+v", res)
	}
	if s := res.String(); !strings.Contains(s, "check-ins in") || strings.Contains(s, "First error") {
		t.Errorf("String() = %q", s)
	}
	for _, d := range devices[:5] {
		after, err := e.Service.Device(e.Op, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		// An unchanged check-in's time is batched, never written at once:
		// the bench sent exactly the seeded details.
		if !after.LastCheckin.Equal(d.LastCheckin) {
			t.Errorf("device %d's check-in rewrote it: %+v, seeded %+v", d.ID, after, d)
		}
	}
}

func TestCheckinsCountsRefusals(t *testing.T) {
	e := servertest.New(t)
	res, err := bench.Checkins(context.Background(), bench.Config{
		Server: e.URL, Tokens: []string{"not-a-token"}, Duration: 200 * time.Millisecond, Concurrency: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 0 || res.Errors == 0 || !strings.Contains(res.FirstError, "device token is not valid") {
		t.Errorf("%+v", res)
	}
	if !strings.Contains(res.String(), "\nFirst error: checking in: This device token is not valid.") {
		t.Errorf("String() = %q", res.String())
	}
	if _, err := bench.Checkins(context.Background(), bench.Config{Server: e.URL, Duration: time.Second, Concurrency: 1}); err == nil {
		t.Error("a benchmark without tokens ran")
	}
}
