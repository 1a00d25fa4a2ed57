package transports

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"xgate/store"
)

// TestWorkerRenewsLeases holds one item in a slow Handle and one waiting for
// the only slot: both leases are renewed past their original end, so nobody
// else can claim them, and Handle's time is not cut to the short lease.
func TestWorkerRenewsLeases(t *testing.T) {
	const lease = 30 * time.Millisecond // renewed every 10ms of real time
	q := newFakeQueue()
	extends := make(chan fakeEvent, 64)
	completes := make(chan int64, 4)
	q.hook = func(ev fakeEvent) {
		switch ev.op {
		case "extend":
			select { // renewals go on while the test looks elsewhere
			case extends <- ev:
			default:
			}
		case "complete":
			completes <- ev.items[0].ID
		}
	}
	a := q.add(t, "a", "slow", time.Time{})
	b := q.add(t, "b", "waits", time.Time{})
	clock := &fakeClock{t: t0}
	started, release := make(chan time.Duration, 1), make(chan struct{})
	w := &Worker{
		Queue: q, Transport: "test", Owner: "me", Concurrency: 1, Lease: lease, Poll: time.Hour, Now: clock.Now,
		Handle: func(ctx context.Context, it store.QueueItem) error {
			if it.ID == a {
				dl, _ := ctx.Deadline()
				started <- time.Until(dl)
				<-release
			}
			return nil
		},
	}
	startWorker(t, w)
	if budget := waitFor(t, started, "the slow delivery to start"); budget < time.Minute {
		t.Errorf("Handle's budget is %v, want the default HandleTimeout (2m), not a share of the lease", budget)
	}
	if owner, _ := q.leaseOf(b); owner != "me" {
		t.Fatalf("the waiting item is leased by %q, want it claimed ahead by me", owner)
	}

	// An hour later by the worker's clock, the leases run from then on.
	later := t0.Add(time.Hour)
	clock.Set(later)
	timeout := time.After(10 * time.Second)
	for renewed := false; !renewed; {
		select {
		case ev := <-extends:
			renewed = ev.next.Equal(later.Add(lease)) && len(ev.items) == 2 &&
				slices.Contains(ev.asked, a) && slices.Contains(ev.asked, b)
		case <-timeout:
			t.Fatal("timed out waiting for both leases to be renewed from the new time")
		}
	}
	if got, err := q.Claim(context.Background(), "test", "other", later, lease, 10); err != nil || len(got) != 0 {
		t.Fatalf("another worker claimed %+v, %v past the original leases", got, err)
	}
	close(release)
	done := []int64{waitFor(t, completes, "a delivery"), waitFor(t, completes, "the other delivery")}
	slices.Sort(done)
	if !slices.Equal(done, []int64{a, b}) {
		t.Errorf("completed %v, want [%d %d]", done, a, b)
	}
}

// TestWorkerLeaseLost: when another worker takes an item whose lease this one
// failed to renew in time, the renewal leaves it alone and warns.
func TestWorkerLeaseLost(t *testing.T) {
	const lease = 30 * time.Millisecond
	q := newFakeQueue()
	id := q.add(t, "k", "x", time.Time{})
	clock := &fakeClock{t: t0}
	warns := make(chan string, 16)
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	w := &Worker{
		Queue: q, Transport: "test", Owner: "me", Lease: lease, Poll: time.Hour, Now: clock.Now,
		Logger: slog.New(warnHandler{warns}),
		Handle: func(ctx context.Context, it store.QueueItem) error {
			close(started)
			<-release
			return nil
		},
	}
	startWorker(t, w)
	waitFor(t, started, "the delivery to start")
	// Another worker, whose clock is an hour ahead, sees the lease expired.
	stolenAt := t0.Add(time.Hour)
	if got, err := q.Claim(context.Background(), "test", "thief", stolenAt, time.Minute, 10); err != nil || len(got) != 1 {
		t.Fatalf("the thief claimed %+v, %v; want the item", got, err)
	}
	timeout := time.After(10 * time.Second)
	for warned := false; !warned; {
		select {
		case msg := <-warns:
			warned = strings.Contains(msg, "leases lost")
		case <-timeout:
			t.Fatal("timed out waiting for the lost lease to be logged")
		}
	}
	if owner, until := q.leaseOf(id); owner != "thief" || !until.Equal(stolenAt.Add(time.Minute)) {
		t.Errorf("lease of %q until %v, want the thief's, unchanged (until %v)", owner, until, stolenAt.Add(time.Minute))
	}
}

// TestWorkerTakesOverDeadWorkersItems: items claimed by a worker that died
// (claimed by owner A, never finished) come back to worker B once A's lease
// ends, and not before.
func TestWorkerTakesOverDeadWorkersItems(t *testing.T) {
	const lease = 30 * time.Second
	cases := []struct {
		name  string
		queue func(t *testing.T) store.Queue
	}{
		{"fake queue", func(*testing.T) store.Queue { return newFakeQueue() }},
		{"sqlite", func(t *testing.T) store.Queue { return openSQLite(t).Outbox() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			q := tc.queue(t)
			id, _, err := q.Enqueue(ctx, store.QueueItem{Transport: "test", Key: "k", Payload: []byte("x"), Created: t0})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := q.Claim(ctx, "test", "A", t0, lease, 10); err != nil || len(got) != 1 {
				t.Fatalf("A claimed %+v, %v; want the item", got, err)
			}
			// A is killed here: it never completes nor renews.
			claims := make(chan []store.QueueItem, 16)
			handled := make(chan int64, 1)
			clock := &fakeClock{t: t0}
			w := &Worker{
				Queue: claimNotifier{Queue: q, claims: claims}, Transport: "test", Owner: "B",
				Lease: lease, Poll: time.Hour, Now: clock.Now,
				Handle: func(_ context.Context, it store.QueueItem) error { handled <- it.ID; return nil },
			}
			stop := startWorker(t, w)
			for _, now := range []time.Time{t0, t0.Add(lease - time.Millisecond)} {
				clock.Set(now)
				w.Wake()
				if got := waitFor(t, claims, "a claim"); len(got) != 0 {
					t.Fatalf("B claimed %+v at +%v, during A's lease", got, now.Sub(t0))
				}
			}
			clock.Set(t0.Add(lease))
			w.Wake()
			if got := waitFor(t, handled, "B to deliver the item"); got != id {
				t.Fatalf("B delivered %d, want %d", got, id)
			}
			if err := stop(); err != nil { // the outcome is recorded
				t.Fatal(err)
			}
			if n, err := q.Depth(ctx, "test"); err != nil || n != 0 {
				t.Errorf("depth after B's delivery = %d, %v; want 0", n, err)
			}
		})
	}
}

// claimNotifier reports every successful Claim's items on claims.
type claimNotifier struct {
	store.Queue
	claims chan<- []store.QueueItem
}

func (c claimNotifier) Claim(ctx context.Context, transport, owner string, now time.Time, lease time.Duration, limit int) ([]store.QueueItem, error) {
	items, err := c.Queue.Claim(ctx, transport, owner, now, lease, limit)
	if err == nil {
		c.claims <- items
	}
	return items, err
}

// warnHandler sends the message of every record at warn level or above.
type warnHandler struct{ msgs chan<- string }

func (h warnHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h warnHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.msgs <- r.Message:
	default:
	}
	return nil
}
func (h warnHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h warnHandler) WithGroup(string) slog.Handler      { return h }
