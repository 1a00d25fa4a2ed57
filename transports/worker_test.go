package transports

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"xgate/store"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// giveUp records OnGiveUp calls.
type giveUps struct {
	mu   sync.Mutex
	errs map[int64][]error
}

func (g *giveUps) record(_ context.Context, it store.QueueItem, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.errs == nil {
		g.errs = map[int64][]error{}
	}
	g.errs[it.ID] = append(g.errs[it.ID], err)
}

func (g *giveUps) of(id int64) []error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.errs[id]
}

func TestWorkerOutcomes(t *testing.T) {
	errPerm := Permanent("item-not-found", "no such number", errors.New("404"))
	errTemp := Temporary("network down", errors.New("dial: refused"))
	cases := []struct {
		name     string
		handle   func() error
		deadline time.Time
		wantOp   string // "complete" or "retry"
		giveUp   bool
		wantCond string        // condition of the give-up error
		nextMin  time.Duration // for retries: bounds of next - now
		nextMax  time.Duration
		lastErr  string // substring of the stored error
		result   string // attempts metric incremented
		kind     string // errors metric incremented ("" none)
	}{
		{name: "delivered", handle: func() error { return nil },
			wantOp: "complete", result: resultDelivered},
		{name: "permanent gives up at once", handle: func() error { return errPerm },
			deadline: t0.Add(time.Hour), wantOp: "complete", giveUp: true, wantCond: "item-not-found",
			result: resultFailed, kind: kindPermanent},
		{name: "temporary past deadline gives up", handle: func() error { return errTemp },
			deadline: t0.Add(-time.Second), wantOp: "complete", giveUp: true, wantCond: "remote-server-timeout",
			result: resultFailed, kind: kindDeadline},
		{name: "temporary at deadline gives up", handle: func() error { return errTemp },
			deadline: t0, wantOp: "complete", giveUp: true, wantCond: "remote-server-timeout",
			result: resultFailed, kind: kindDeadline},
		{name: "temporary retries within deadline", handle: func() error { return errTemp },
			deadline: t0.Add(time.Hour), wantOp: "retry", nextMin: 5 * time.Second, nextMax: 10 * time.Second,
			lastErr: "network down", result: resultRetried, kind: kindTemporary},
		{name: "retry is clamped to the deadline", handle: func() error { return errTemp },
			deadline: t0.Add(time.Second), wantOp: "retry", nextMin: time.Second, nextMax: time.Second,
			result: resultRetried, kind: kindTemporary},
		{name: "unclassified error is temporary", handle: func() error { return errors.New("boom") },
			wantOp: "retry", nextMin: 5 * time.Second, nextMax: 10 * time.Second, lastErr: "boom",
			result: resultRetried, kind: kindTemporary},
		{name: "panic is recovered and retried", handle: func() error { panic("kaboom") },
			wantOp: "retry", nextMin: 5 * time.Second, nextMax: 10 * time.Second, lastErr: "panicked: kaboom",
			result: resultRetried, kind: kindPanic},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := newFakeQueue()
			events := make(chan fakeEvent, 16)
			q.hook = func(ev fakeEvent) {
				if ev.op != "claim" {
					events <- ev
				}
			}
			id := q.add(t, "k", "payload", tc.deadline)
			clock := &fakeClock{t: t0}
			var g giveUps
			m := NewMetrics(prometheus.NewRegistry())
			w := &Worker{
				Queue: q, Transport: "test", QueueName: "outbox", Owner: "me",
				Handle:   func(context.Context, store.QueueItem) error { return tc.handle() },
				OnGiveUp: g.record, RetryMin: 10 * time.Second, RetryMax: time.Hour,
				Poll: time.Hour, Now: clock.Now, Metrics: m,
			}
			stop := startWorker(t, w)
			ev := waitFor(t, events, "the attempt's outcome")
			if err := stop(); err != nil { // the attempt has finished recording
				t.Fatal(err)
			}
			if ev.op != tc.wantOp {
				t.Fatalf("outcome %q, want %q", ev.op, tc.wantOp)
			}
			if ev.items[0].ID != id {
				t.Fatalf("outcome for item %d, want %d", ev.items[0].ID, id)
			}
			gu := g.of(id)
			switch {
			case tc.giveUp && len(gu) != 1:
				t.Fatalf("OnGiveUp called %d times, want once", len(gu))
			case tc.giveUp:
				if cond, _ := ErrorOf(gu[0]); cond != tc.wantCond {
					t.Errorf("give-up condition %q, want %q", cond, tc.wantCond)
				}
			case len(gu) != 0:
				t.Fatalf("OnGiveUp called for an item that must not give up: %v", gu)
			}
			if tc.wantOp == "retry" {
				if d := ev.next.Sub(t0); d < tc.nextMin || d > tc.nextMax {
					t.Errorf("retry in %v, want within [%v, %v]", d, tc.nextMin, tc.nextMax)
				}
				if !strings.Contains(ev.lastErr, tc.lastErr) {
					t.Errorf("stored error %q, want it to contain %q", ev.lastErr, tc.lastErr)
				}
				if it, done, _ := q.state(id); done || it.Attempts != 1 {
					t.Errorf("after retry: done=%v attempts=%d, want pending with 1 attempt", done, it.Attempts)
				}
			}
			if got := testutil.ToFloat64(m.attempts.WithLabelValues("test", "outbox", tc.result)); got != 1 {
				t.Errorf("attempts{result=%s} = %v, want 1", tc.result, got)
			}
			if tc.kind != "" {
				if got := testutil.ToFloat64(m.errors.WithLabelValues("test", "outbox", tc.kind)); got != 1 {
					t.Errorf("errors{kind=%s} = %v, want 1", tc.kind, got)
				}
			}
		})
	}
}

// TestWorkerRetriesWithGrowingBackoff fails an item four times, then lets it
// through: every retry waits within the backoff bounds, never less than the
// one before, and the item is delivered once.
func TestWorkerRetriesWithGrowingBackoff(t *testing.T) {
	const failures = 4
	q := newFakeQueue()
	events := make(chan fakeEvent, 16)
	q.hook = func(ev fakeEvent) {
		if ev.op != "claim" {
			events <- ev
		}
	}
	id := q.add(t, "k", "payload", time.Time{})
	clock := &fakeClock{t: t0}
	var mu sync.Mutex
	calls := 0
	w := &Worker{
		Queue: q, Transport: "test", Owner: "me",
		Handle: func(context.Context, store.QueueItem) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls <= failures {
				return Temporary("try later", nil)
			}
			return nil
		},
		RetryMin: time.Second, RetryMax: 4 * time.Second, Poll: time.Hour, Now: clock.Now,
	}
	startWorker(t, w)
	var prev time.Duration
	for n := 1; n <= failures; n++ {
		ev := waitFor(t, events, fmt.Sprintf("retry %d", n))
		if ev.op != "retry" {
			t.Fatalf("attempt %d: %s, want retry", n, ev.op)
		}
		d := min(time.Second<<(n-1), 4*time.Second)
		wait := ev.next.Sub(clock.Now())
		if wait < d/2 || wait > d {
			t.Errorf("attempt %d: waits %v, want within [%v, %v]", n, wait, d/2, d)
		}
		if d < 4*time.Second && wait < prev { // jitter may shrink it once capped
			t.Errorf("attempt %d: waits %v, less than the previous %v", n, wait, prev)
		}
		prev = wait
		// Not due yet: the worker must not hand it out early.
		if it, _, _ := q.state(id); it.Attempts != n {
			t.Fatalf("attempts = %d, want %d", it.Attempts, n)
		}
		clock.Set(ev.next)
		w.Wake()
	}
	if ev := waitFor(t, events, "delivery"); ev.op != "complete" {
		t.Fatalf("final outcome %s, want complete", ev.op)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != failures+1 {
		t.Errorf("Handle called %d times, want %d", calls, failures+1)
	}
}

// TestWorkerOrderPerKey runs many keys through 8 concurrent handlers with
// failures on the way: within a key, an item is never attempted before the one
// before it is delivered, and two items of a key never run at once.
func TestWorkerOrderPerKey(t *testing.T) {
	const keys, perKey = 40, 15
	q := newFakeQueue()
	all := make(chan struct{})
	var completed int
	var cmu sync.Mutex
	q.hook = func(ev fakeEvent) {
		if ev.op != "complete" {
			return
		}
		cmu.Lock()
		defer cmu.Unlock()
		if completed++; completed == keys*perKey {
			close(all)
		}
	}
	// Interleave keys so claims mix them.
	for i := range perKey {
		for k := range keys {
			q.add(t, fmt.Sprintf("key%d", k), fmt.Sprintf("key%d %d", k, i), time.Time{})
		}
	}
	var (
		mu        sync.Mutex
		delivered = map[string]int{} // key → items delivered
		inFlight  = map[string]bool{}
		running   int
		maxRun    int
		problems  []string
	)
	handle := func(ctx context.Context, it store.QueueItem) error {
		var key string
		var seq int
		if _, err := fmt.Sscanf(string(it.Payload), "%s %d", &key, &seq); err != nil {
			return Permanent("bad-request", "bad payload", err)
		}
		mu.Lock()
		if inFlight[key] {
			problems = append(problems, fmt.Sprintf("%s: two items in flight", key))
		}
		if delivered[key] != seq {
			problems = append(problems, fmt.Sprintf("%s: item %d attempted after %d delivered", key, seq, delivered[key]))
		}
		inFlight[key] = true
		running++
		maxRun = max(maxRun, running)
		mu.Unlock()
		defer func() {
			mu.Lock()
			inFlight[key] = false
			running--
			mu.Unlock()
		}()
		if it.Attempts == 0 && (seq+len(key))%3 == 0 {
			return Temporary("flaky", nil) // fail every third item once
		}
		mu.Lock()
		delivered[key]++
		mu.Unlock()
		return nil
	}
	w := &Worker{
		Queue: q, Transport: "test", Owner: "me", Handle: handle, Concurrency: 8,
		RetryMin: time.Microsecond, RetryMax: time.Microsecond, Poll: 2 * time.Millisecond,
	}
	startWorker(t, w)
	waitFor(t, all, "every item delivered")
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
	for k := range keys {
		if got := delivered[fmt.Sprintf("key%d", k)]; got != perKey {
			t.Errorf("key%d: %d delivered, want %d", k, got, perKey)
		}
	}
	if maxRun > 8 {
		t.Errorf("%d handlers ran at once, want at most 8", maxRun)
	}
}

// TestWorkerRateKey checks that deliveries sharing a rate key start about the
// interval apart, while an unpaced key is not held up, both when waiting items
// are held in memory and when they are handed back to the store. (The exact
// spacing of the pacer's decisions is checked in TestPacer: here the times are
// taken inside Handle, after goroutine scheduling, hence the slack.)
func TestWorkerRateKey(t *testing.T) {
	const interval = 80 * time.Millisecond
	const n = 4
	cases := []struct {
		name      string
		paceHold  time.Duration
		wantDefer bool
	}{
		{name: "held in memory"}, // default PaceHold: a minute
		{name: "handed back to the store", paceHold: interval, wantDefer: true}, // holds at most one interval
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := newFakeQueue()
			all := make(chan struct{})
			var cmu sync.Mutex
			completed, retries := 0, 0
			q.hook = func(ev fakeEvent) {
				cmu.Lock()
				defer cmu.Unlock()
				switch ev.op {
				case "retry":
					retries++
				case "complete":
					if completed++; completed == 2*n {
						close(all)
					}
				}
			}
			for i := range n {
				q.add(t, fmt.Sprintf("to%d", i), "paced", time.Time{}) // distinct order keys, one rate key
			}
			for range n {
				q.add(t, "other", "free", time.Time{}) // one order key, unpaced
			}
			var mu sync.Mutex
			var paced, free []time.Time
			w := &Worker{
				Queue: q, Transport: "test", Owner: "me", Concurrency: 2, PaceHold: tc.paceHold,
				Poll: 5 * time.Millisecond,
				Handle: func(ctx context.Context, it store.QueueItem) error {
					now := time.Now()
					mu.Lock()
					defer mu.Unlock()
					if string(it.Payload) == "paced" {
						paced = append(paced, now)
					} else {
						free = append(free, now)
					}
					return nil
				},
				RateKey: func(it store.QueueItem) (string, time.Duration) {
					if string(it.Payload) == "paced" {
						return "+15550001", interval
					}
					return "", 0
				},
			}
			startWorker(t, w)
			waitFor(t, all, "every item delivered")
			mu.Lock()
			defer mu.Unlock()
			// Allow for goroutine scheduling between the decision and the record.
			const slack = 25 * time.Millisecond
			for i := 1; i < len(paced); i++ {
				if d := paced[i].Sub(paced[i-1]); d < interval-slack {
					t.Errorf("paced deliveries %d and %d are %v apart, want >= %v", i-1, i, d, interval)
				}
			}
			if last := free[len(free)-1]; !last.Before(paced[n-1]) {
				t.Errorf("unpaced key finished %v after the last paced delivery: it was held up",
					last.Sub(paced[n-1]))
			}
			cmu.Lock()
			defer cmu.Unlock()
			if tc.wantDefer != (retries > 0) {
				t.Errorf("%d items handed back to the store, want some: %v", retries, tc.wantDefer)
			}
		})
	}
}

func TestWorkerWake(t *testing.T) {
	q := newFakeQueue()
	claims := make(chan struct{}, 16)
	q.hook = func(ev fakeEvent) {
		if ev.op == "claim" {
			claims <- struct{}{}
		}
	}
	handled := make(chan int64, 1)
	w := &Worker{
		Queue: q, Transport: "test", Owner: "me", Poll: time.Hour,
		Handle: func(_ context.Context, it store.QueueItem) error { handled <- it.ID; return nil },
	}
	startWorker(t, w)
	waitFor(t, claims, "the first claim") // the queue was empty: now idle until woken
	id := q.add(t, "k", "x", time.Time{})
	w.Wake()
	w.Wake() // coalesced, never blocks
	if got := waitFor(t, handled, "the woken delivery"); got != id {
		t.Fatalf("handled %d, want %d", got, id)
	}
}

func TestWorkerDrain(t *testing.T) {
	t.Run("in-flight delivery finishes", func(t *testing.T) {
		q := newFakeQueue()
		id := q.add(t, "k", "x", time.Time{})
		started, release := make(chan struct{}), make(chan struct{})
		var mu sync.Mutex
		calls := 0
		w := &Worker{
			Queue: q, Transport: "test", Owner: "me", Concurrency: 1, Poll: time.Hour, Grace: time.Minute,
			Handle: func(ctx context.Context, it store.QueueItem) error {
				mu.Lock()
				calls++
				mu.Unlock()
				if it.ID == id {
					close(started)
					<-release
				}
				return nil
			},
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stopped := make(chan error, 1)
		go func() { stopped <- w.Run(ctx) }()
		waitFor(t, started, "the delivery to start")
		cancel()
		// Give the worker reasons to claim again: it must not.
		id2 := q.add(t, "k2", "y", time.Time{})
		w.Wake()
		close(release)
		if err := waitFor(t, stopped, "Run to return"); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if _, done, _ := q.state(id); !done {
			t.Error("the in-flight item was not completed")
		}
		if _, done, lease := q.state(id2); done || !lease.IsZero() {
			t.Error("an item was claimed after shutdown began")
		}
		mu.Lock()
		defer mu.Unlock()
		if calls != 1 {
			t.Errorf("Handle called %d times, want 1", calls)
		}
	})
	t.Run("claimed items not started are handed back", func(t *testing.T) {
		q := newFakeQueue()
		a := q.add(t, "a", "x", time.Time{})
		b := q.add(t, "b", "x", time.Time{})
		started, release := make(chan struct{}), make(chan struct{})
		w := &Worker{
			Queue: q, Transport: "test", Owner: "me", Concurrency: 1, Poll: time.Hour,
			Handle: func(ctx context.Context, it store.QueueItem) error {
				if it.ID == a {
					close(started)
					<-release
				}
				return nil
			},
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stopped := make(chan error, 1)
		go func() { stopped <- w.Run(ctx) }()
		waitFor(t, started, "the delivery to start")
		if _, _, lease := q.state(b); lease.IsZero() {
			t.Fatal("the second item was not claimed ahead")
		}
		cancel()
		close(release)
		if err := waitFor(t, stopped, "Run to return"); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if _, done, _ := q.state(a); !done {
			t.Error("the in-flight item was not completed")
		}
		it, done, lease := q.state(b)
		if done || !lease.IsZero() || it.NextAttempt.After(time.Now()) {
			t.Errorf("waiting item: done=%v lease=%v next=%v, want handed back and due", done, lease, it.NextAttempt)
		}
	})
	t.Run("cancelled after grace stays leased", func(t *testing.T) {
		q := newFakeQueue()
		id := q.add(t, "k", "x", time.Time{})
		started := make(chan struct{})
		w := &Worker{
			Queue: q, Transport: "test", Owner: "me", Poll: time.Hour, Grace: 20 * time.Millisecond,
			Handle: func(ctx context.Context, it store.QueueItem) error {
				close(started)
				<-ctx.Done()
				return Temporary("cancelled", ctx.Err())
			},
		}
		stop := startWorker(t, w)
		waitFor(t, started, "the delivery to start")
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		it, done, lease := q.state(id)
		if done || it.Attempts != 0 || !lease.After(time.Now()) {
			t.Errorf("done=%v attempts=%d lease until %v: want untouched and still leased", done, it.Attempts, lease)
		}
	})
	t.Run("handler ignoring its context is abandoned", func(t *testing.T) {
		q := newFakeQueue()
		id := q.add(t, "k", "x", time.Time{})
		started, release := make(chan struct{}), make(chan struct{})
		defer close(release)
		w := &Worker{
			Queue: q, Transport: "test", Owner: "me", Poll: time.Hour, Grace: 10 * time.Millisecond,
			Handle: func(ctx context.Context, it store.QueueItem) error {
				close(started)
				<-release
				return nil
			},
		}
		stop := startWorker(t, w)
		waitFor(t, started, "the delivery to start")
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if _, done, _ := q.state(id); done {
			t.Error("an abandoned item was completed")
		}
	})
}

func TestWorkerStoreErrorsAreRetried(t *testing.T) {
	q := newFakeQueue()
	q.claimErr = errors.New("database is locked")
	failed := make(chan struct{}, 64)
	q.hook = func(ev fakeEvent) {
		if ev.op == "claim failed" {
			failed <- struct{}{}
		}
	}
	handled := make(chan struct{}, 1)
	m := NewMetrics(prometheus.NewRegistry())
	w := &Worker{
		Queue: q, Transport: "test", Owner: "me", Poll: 5 * time.Millisecond, Metrics: m,
		Handle: func(context.Context, store.QueueItem) error { handled <- struct{}{}; return nil },
	}
	q.add(t, "k", "x", time.Time{})
	startWorker(t, w)
	waitFor(t, failed, "a failing claim")
	waitFor(t, failed, "a second failing claim")
	q.mu.Lock()
	q.claimErr = nil
	q.mu.Unlock()
	waitFor(t, handled, "delivery after the store recovered")
	if got := testutil.ToFloat64(m.errors.WithLabelValues("test", "queue", kindStore)); got < 2 {
		t.Errorf("store errors counted %v, want >= 2", got)
	}
}

func TestWorkerConfigErrors(t *testing.T) {
	handle := func(context.Context, store.QueueItem) error { return nil }
	cases := []struct {
		name string
		w    *Worker
		want string
	}{
		{"no queue", &Worker{Transport: "t", Handle: handle}, "no queue"},
		{"no handle", &Worker{Queue: newFakeQueue(), Transport: "t"}, "no handle"},
		{"no transport", &Worker{Queue: newFakeQueue(), Handle: handle}, "no transport"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.w.Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	cases := []struct {
		n      int
		lo, hi time.Duration
	}{
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{3, 2 * time.Second, 4 * time.Second},
		{5, 4 * time.Second, 8 * time.Second}, // capped at max 8s
		{200, 4 * time.Second, 8 * time.Second},
		{0, 500 * time.Millisecond, time.Second},
	}
	for _, tc := range cases {
		for _, r := range []float64{0, 0.5, 0.999999} {
			got := backoff(tc.n, time.Second, 8*time.Second, func() float64 { return r })
			if got < tc.lo || got > tc.hi {
				t.Errorf("backoff(%d) with rnd %v = %v, want within [%v, %v]", tc.n, r, got, tc.lo, tc.hi)
			}
		}
	}
}

func TestMetricsRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := NewMetrics(reg), NewMetrics(reg)
	a.result("sms", "outbox", resultDelivered)
	b.result("sms", "outbox", resultDelivered)
	if got := testutil.ToFloat64(a.attempts.WithLabelValues("sms", "outbox", resultDelivered)); got != 2 {
		t.Errorf("shared counter = %v, want 2", got)
	}
	var nilM *Metrics
	nilM.result("sms", "outbox", resultDelivered) // must not panic
	if n, err := testutil.GatherAndCount(reg); err != nil || n == 0 {
		t.Errorf("gathered %d metrics, err %v", n, err)
	}
}

func BenchmarkWorker(b *testing.B) {
	q := newFakeQueue()
	all := make(chan struct{})
	var completed, claims int
	var mu sync.Mutex
	q.hook = func(ev fakeEvent) {
		mu.Lock()
		defer mu.Unlock()
		switch ev.op {
		case "claim":
			claims++
		case "complete":
			if completed++; completed == b.N {
				close(all)
			}
		}
	}
	for i := range b.N {
		q.add(b, fmt.Sprintf("key%d", i%64), "x", time.Time{})
	}
	w := &Worker{
		Queue: q, Transport: "test", Owner: "me", Concurrency: 8, Poll: time.Hour,
		Handle: func(context.Context, store.QueueItem) error { return nil },
	}
	b.ResetTimer()
	startWorker(b, w)
	<-all
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	b.ReportMetric(float64(b.N)/float64(claims), "items/claim")
}
