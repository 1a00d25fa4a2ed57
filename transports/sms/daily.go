package sms

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"xgate/store"
)

// dailyGuard counts each user's messages per UTC day (the cost guard's
// daily_cap). With a store that keeps transport state (store.Digests: both
// backends do), the count is persisted under the state name
// "daily:<user>" as "<yyyy-mm-dd> <count>", so a restart does not forgive
// the day's messages; one row per user, overwritten when the day changes.
// Without one it is kept in memory only.
//
// Check-and-increment is a read-modify-write under a mutex: safe for the
// concurrent Deliver calls of one process. Several xgate processes on one
// database could each let a message through at the cap's edge (documented in
// docs/sms.md).
type dailyGuard struct {
	limit int
	state store.Digests // nil: memory only

	mu    sync.Mutex
	day   string         // the day of count (memory mode)
	count map[string]int // memory mode
}

func newDailyGuard(limit int, st store.Store) *dailyGuard {
	g := &dailyGuard{limit: limit, count: map[string]int{}}
	if d, ok := st.(store.Digests); ok {
		g.state = d
	}
	return g
}

// dailyKey is the state name of user's count.
func dailyKey(user string) string { return "daily:" + user }

// load returns user's count on day (0 when the stored one is of another
// day or absent).
func (g *dailyGuard) load(ctx context.Context, user, day string) (int, error) {
	if g.state == nil {
		if day != g.day {
			g.day, g.count = day, map[string]int{}
		}
		return g.count[user], nil
	}
	v, err := g.state.GetState(ctx, Name, dailyKey(user))
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	d, n, ok := strings.Cut(v, " ")
	if !ok || d != day {
		return 0, nil
	}
	c, err := strconv.Atoi(n)
	if err != nil || c < 0 {
		return 0, nil // a damaged value: start the day again rather than block the user
	}
	return c, nil
}

func (g *dailyGuard) save(ctx context.Context, user, day string, n int) error {
	if g.state == nil {
		g.count[user] = n
		return nil
	}
	return g.state.PutState(ctx, Name, dailyKey(user), day+" "+strconv.Itoa(n))
}

// reserve counts one message of user on day, unless the cap is reached
// (ok false). An error is a store failure: nothing was counted.
func (g *dailyGuard) reserve(ctx context.Context, user, day string) (ok bool, err error) {
	if g.limit <= 0 {
		return true, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	n, err := g.load(ctx, user, day)
	if err != nil {
		return false, fmt.Errorf("sms: daily count: %w", err)
	}
	if n >= g.limit {
		return false, nil
	}
	if err := g.save(ctx, user, day, n+1); err != nil {
		return false, fmt.Errorf("sms: daily count: %w", err)
	}
	return true, nil
}

// release gives back a reservation of a message that was not sent. A store
// failure is returned; the message then counts (in the operator's favour).
func (g *dailyGuard) release(ctx context.Context, user, day string) error {
	if g.limit <= 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	n, err := g.load(ctx, user, day)
	if err != nil || n == 0 {
		return err
	}
	return g.save(ctx, user, day, n-1)
}
