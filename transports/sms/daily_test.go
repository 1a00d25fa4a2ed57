package sms

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"xgate/store"
	"xgate/transports"
)

// TestDailyCapSurvivesRestart: the count is in the store, so a new
// Transport on the same store (xgate restarted) still refuses.
func TestDailyCapSurvivesRestart(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DailyCap = 2 })
	ctx := context.Background()
	for _, id := range []string{"1", "2"} {
		if err := e.t.Deliver(ctx, msg(id, "+15550002000", "x")); err != nil {
			t.Fatal(err)
		}
	}
	restarted, err := New(e.t.cfg) // same config, same store: a restart
	if err != nil {
		t.Fatal(err)
	}
	err = restarted.Deliver(ctx, msg("3", "+15550002000", "x"))
	if cond, _ := transports.ErrorOf(err); cond != "policy-violation" {
		t.Fatalf("after restart: want policy-violation, got %v", err)
	}
	if got := len(e.tw.Messages()); got != 2 {
		t.Errorf("stand-in got %d messages, want 2", got)
	}
	v, err := e.st.(store.Digests).GetState(ctx, Name, dailyKey(alice))
	if day := time.Now().UTC().Format(time.DateOnly); err != nil || v != day+" 2" {
		t.Errorf("stored count = %q, %v; want %q", v, err, day+" 2")
	}
	restarted.now = func() time.Time { return time.Now().Add(24 * time.Hour) }
	if err := restarted.Deliver(ctx, msg("4", "+15550002000", "x")); err != nil {
		t.Errorf("next day after restart: %v", err)
	}
}

// TestDailyCapConcurrent: concurrent Deliver calls never let more than the
// cap through.
func TestDailyCapConcurrent(t *testing.T) {
	const limit, tries = 5, 20
	e := newEnv(t, func(c *Config) { c.DailyCap = limit })
	ctx := context.Background()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ok, cap int
	)
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.t.Deliver(ctx, msg(fmt.Sprint("c", i), "+15550002000", "x"))
			cond, _ := transports.ErrorOf(err)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case cond == "policy-violation":
				cap++
			default:
				t.Errorf("message %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if ok != limit || cap != tries-limit {
		t.Errorf("sent %d, refused %d; want %d and %d", ok, cap, limit, tries-limit)
	}
	if got := len(e.tw.Messages()); got != limit {
		t.Errorf("stand-in got %d messages, want %d", got, limit)
	}
}

// TestDailyGuardLoad covers stored values of another day or damaged ones.
func TestDailyGuardLoad(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	g := newDailyGuard(3, e.st)
	st := e.st.(store.Digests)
	tests := []struct {
		name, stored string
		want         int
	}{
		{"today", "2025-01-02 2", 2},
		{"yesterday", "2025-01-01 3", 0},
		{"damaged count", "2025-01-02 x", 0},
		{"no separator", "garbage", 0},
		{"negative", "2025-01-02 -4", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := st.PutState(ctx, Name, dailyKey("u@x"), tc.stored); err != nil {
				t.Fatal(err)
			}
			n, err := g.load(ctx, "u@x", "2025-01-02")
			if err != nil || n != tc.want {
				t.Errorf("load = %d, %v; want %d", n, err, tc.want)
			}
		})
	}
	t.Run("release never goes below zero", func(t *testing.T) {
		if err := g.release(ctx, "nobody@x", "2025-01-02"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.GetState(ctx, Name, dailyKey("nobody@x")); err == nil {
			t.Error("release of nothing stored a count")
		}
	})
	t.Run("memory only without state", func(t *testing.T) {
		g := newDailyGuard(1, nil)
		if ok, err := g.reserve(ctx, "u", "d"); !ok || err != nil {
			t.Fatalf("first: %v %v", ok, err)
		}
		if ok, _ := g.reserve(ctx, "u", "d"); ok {
			t.Error("second reserved over the cap")
		}
		if ok, _ := g.reserve(ctx, "u", "d2"); !ok {
			t.Error("next day refused")
		}
	})
}
