package harness

import (
	"context"
	"fmt"
	"net"
	"time"
)

// pollInterval is how often the harness polls an external process (a TCP
// connect, an HTTP GET). Polling with a deadline is how tests wait for other
// processes; waits inside the test process use channels.
const pollInterval = 50 * time.Millisecond

// WaitTCP waits until a TCP connection to addr succeeds, or ctx ends, or exited
// (may be nil) is closed: a server that died while starting fails fast instead
// of waiting out the deadline.
func WaitTCP(ctx context.Context, addr string, exited <-chan struct{}) error {
	var d net.Dialer
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var lastErr error
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := d.DialContext(cctx, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("harness: wait for %s: %w (last error: %v)", addr, ctx.Err(), lastErr)
		case <-exited:
			return fmt.Errorf("harness: wait for %s: the process exited (last error: %v)", addr, lastErr)
		case <-tick.C:
		}
	}
}

// WaitTCPClosed waits until nothing accepts connections on addr any more.
func WaitTCPClosed(ctx context.Context, addr string) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return nil
		}
		c.Close()
		select {
		case <-ctx.Done():
			return fmt.Errorf("harness: %s still accepts connections: %w", addr, ctx.Err())
		case <-tick.C:
		}
	}
}

// Eventually polls cond every 50 ms until it returns true or timeout passes,
// then fails the test with what and cond's last explanation. Use it for state
// held by other processes (an HTTP endpoint, a log file); wait on channels for
// state inside the test.
func Eventually(t T, timeout time.Duration, what string, cond func() (ok bool, why string)) {
	t.Helper()
	if err := Poll(context.Background(), timeout, cond); err != nil {
		t.Fatalf("harness: %s: %v", what, err)
	}
}

// Poll is Eventually without the test: it returns an error carrying cond's
// last explanation when timeout passes or ctx ends.
func Poll(ctx context.Context, timeout time.Duration, cond func() (ok bool, why string)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		ok, why := cond()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not true after %v: %s", timeout, why)
		case <-tick.C:
		}
	}
}

// waitChanged waits up to timeout until cond holds over what snapshot returns.
// snapshot gives the current state and a channel that is closed at the next
// change, so the wait sleeps until something happens, never on a timer. On
// timeout it fails the test with what and cond's last explanation.
func waitChanged[S any](t T, timeout time.Duration, what string, snapshot func() (S, <-chan struct{}), cond func(S) (ok bool, why string)) S {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		state, changed := snapshot()
		ok, why := cond(state)
		if ok {
			return state
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("harness: %s: not true after %v: %s", what, timeout, why)
			return state
		}
	}
}
