package transports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"xgate/store"
)

// Worker delivers the items of one durable queue (a transport's outbox, or its
// inbox) with retries, a give-up deadline, per-key pacing and ordering per key.
// It is the same machinery in both directions: what differs is Handle (Deliver
// to the network, or a stanza to the user) and OnGiveUp.
//
// # Delivery policy
//
// What the store hands out: Claim leases, for Lease, the due items
// (NextAttempt <= now) that are the oldest unfinished item of their Key. So two
// items with the same Key are never handled at the same time nor out of order,
// whatever Concurrency is, and however many xgate processes share the store.
//
// Attempts: each claimed item is handed to Handle once per attempt; up to
// Concurrency Handles run at once, across keys. The outcome of an attempt is:
//
//   - nil: delivered. The item is completed (Complete) and never handed out again.
//   - a temporary error (see IsTemporary; unclassified errors and a panicking
//     Handle count as temporary): the item is rescheduled (Retry) after a
//     jittered exponential backoff: attempt n waits between d/2 and d, where
//     d = RetryMin·2^(n-1) capped at RetryMax, and n = it.Attempts+1 (the store
//     counts an attempt in Retry). The retry is never scheduled later than the
//     item's Deadline, so the last attempt happens at the deadline.
//   - a temporary error at or after the item's Deadline (a zero Deadline never
//     expires): the worker gives up, as below.
//   - a permanent error: the worker gives up at once.
//
// Giving up: OnGiveUp is called once with the item and the last error, then the
// item is completed. For the outbox, OnGiveUp tells the sender with a stanza
// error whose condition and text come from ErrorOf: the permanent error's own
// condition, or "remote-server-timeout" for a temporary error past the deadline.
//
// Delivery is at least once: if xgate dies during Handle, or Complete fails, the
// item is handed out again when its lease expires. Handle must therefore be
// idempotent where the network allows it (the webhook transport sends an
// Idempotency-Key; inbound stanzas keep their id).
//
// Each attempt runs for at most HandleTimeout (default 2m): Handle's context
// expires then, and an attempt cut short that way is a temporary failure.
//
// # Leases
//
// Claim leases items for Lease (default 30s), and while the worker lives it
// renews the leases of every item it holds — claimed and not yet completed,
// rescheduled or handed back: waiting for a slot (a busy worker claims up to
// Concurrency items ahead, to claim in batches), held for its pacing turn, or
// being handled — every Lease/3, with one Extend call for all of them. So the
// lease bounds neither how long an item may wait nor how long Handle may run.
//
// What a sender can rely on: an item is with one worker at a time while that
// worker lives, and after a crash (xgate killed, host lost) the items it held
// and had not finished can be claimed again at most Lease after the crash, by
// the other workers or after a restart, and are claimed at their next Poll.
// A shorter Lease means a faster recovery and more frequent renewals.
//
// A renewal that does not reach the store within the lease (a store outage, or
// a process stalled for about 2/3 of Lease) may lose a lease: another worker
// may then claim the item and deliver it too (at least once). Extend reports
// fewer items than asked, and the worker logs it at warn level.
//
// # Pacing
//
// RateKey (optional) spaces the starts of Handles that share a rate key (a
// sending number) by the returned interval, without delaying other keys and
// without using a Concurrency slot while an item waits. An item that must wait
// is kept leased (and renewed) in memory until its turn when that turn is at
// most PaceHold away; otherwise it is handed back to the store (Retry, with
// its previous LastError) for the time of its turn, and when it is claimed
// again it keeps the turn it was given. PaceHold bounds how many items a busy
// rate key keeps in memory and away from other workers; it is not tied to the
// lease, which is renewed. Such a deferral may count as an attempt in the store:
// it only makes a later backoff longer (backoff is capped by RetryMax, and
// giving up depends on the Deadline, never on a count). Ordering per Key is not
// affected: a waiting item stays the unfinished head of its Key.
//
// # Waking and polling
//
// Wake makes the worker claim at once (the component calls it after Enqueue);
// wakes coalesce and never block. Without wakes, the worker claims every Poll,
// and when finished attempts free slots (the next item of their key may be due).
//
// # Shutdown
//
// When Run's context ends the worker stops claiming, hands the claimed items
// not yet started (waiting for a slot or their pacing turn) back to the store,
// due as before (the store counts that as an attempt), and lets the Handles in
// flight finish. Their context is cancelled only Grace after the worker's
// context ended; an attempt that then fails because of that cancellation is not
// recorded: the item stays leased and comes back when the lease expires. A Handle that ignores its
// context is waited for at most another Grace, then abandoned (its outcome is
// never recorded). Nothing is lost either way; at worst an item is delivered
// twice.
//
// # Metrics and logs
//
// With Metrics set, the worker counts attempts by result (delivered, retried,
// failed), errors by kind, the enqueue-to-delivered latency, and every
// DepthEvery it sets the queue depth gauge from a Depth query. Retries are
// logged at debug level, give-ups at warn, store failures once per change of
// state.
//
// A Worker's exported fields must not change after Run is called; Run must be
// called at most once per Worker.
type Worker struct {
	// Queue is the store queue to work on (store.Outbox() or store.Inbox()).
	Queue store.Queue
	// Transport is the transport name: it selects the queue's items and labels
	// metrics.
	Transport string
	// QueueName labels metrics and logs: "outbox" or "inbox".
	QueueName string
	// Owner identifies this process in leases (an instance id). Leases are
	// renewed by owner, so it must differ between processes sharing a store;
	// empty: a random one.
	Owner string

	// Handle makes one delivery attempt. Its error is classified with
	// IsTemporary. It must honour ctx.
	Handle func(ctx context.Context, it store.QueueItem) error
	// OnGiveUp is called once when the worker gives up on an item: err is
	// the permanent error, or the last temporary error at the deadline. The
	// item is completed after it returns. Optional.
	OnGiveUp func(ctx context.Context, it store.QueueItem, err error)
	// RateKey returns the pacing key of an item and the minimum interval between
	// the starts of two Handles for that key; an empty key or a zero interval
	// means unpaced. Optional. It must be fast: it runs on the dispatch loop.
	RateKey func(it store.QueueItem) (key string, interval time.Duration)

	// RetryMin and RetryMax bound the jittered exponential backoff
	// (defaults 2s and 10m).
	RetryMin, RetryMax time.Duration
	// Concurrency is how many Handles may run at once (default 8).
	Concurrency int
	// Batch caps how many items one Claim leases (default 64). The worker never
	// holds more than 2×Concurrency claimed items, pacing aside.
	Batch int
	// Lease is how long a claim, or a renewal, reserves an item for this
	// worker (default 30s); leases are renewed every Lease/3. It bounds how
	// long a dead worker's items stay out of reach. See Leases above.
	Lease time.Duration
	// HandleTimeout bounds one Handle (default 2m).
	HandleTimeout time.Duration
	// PaceHold is the furthest pacing turn an item waits for in memory
	// (default 1m); see Pacing above.
	PaceHold time.Duration
	// Poll is how often the worker claims when nothing wakes it (default 5s,
	// or Lease if shorter: nothing wakes a worker when another one's leases
	// expire).
	Poll time.Duration
	// Grace is how long in-flight Handles may go on after Run's context ends
	// before their own context is cancelled (default 10s).
	Grace time.Duration
	// DepthEvery is how often the depth gauge is refreshed (default 5s).
	DepthEvery time.Duration

	// Logger receives the worker's logs (default: discarded).
	Logger *slog.Logger
	// Metrics, when set, records the worker's metrics.
	Metrics *Metrics
	// Now is the clock (default time.Now); tests replace it. Timers (Poll,
	// pacing) use real time.
	Now func() time.Time

	wakeOnce sync.Once
	wakeCh   chan struct{}
}

// Defaults of the Worker fields left zero.
const (
	defaultRetryMin    = 2 * time.Second
	defaultRetryMax    = 10 * time.Minute
	defaultConcurrency = 8
	defaultBatch       = 64
	defaultLease       = 30 * time.Second
	defaultHandle      = 2 * time.Minute
	defaultPaceHold    = time.Minute
	defaultPoll        = 5 * time.Second
	defaultGrace       = 10 * time.Second
	defaultDepthEvery  = 5 * time.Second

	// storeTimeout bounds one store call made by the worker.
	storeTimeout = 15 * time.Second
	// maxLastError caps the error text stored with a retried item.
	maxLastError = 500
)

// Wake makes a running worker claim due items now instead of at the next Poll.
// It never blocks, coalesces with pending wakes, and may be called at any time,
// from any goroutine, before or after Run.
func (w *Worker) Wake() {
	select {
	case w.wakeChan() <- struct{}{}:
	default:
	}
}

func (w *Worker) wakeChan() chan struct{} {
	w.wakeOnce.Do(func() { w.wakeCh = make(chan struct{}, 1) })
	return w.wakeCh
}

// Run delivers items until ctx ends, then drains (see Shutdown in the Worker
// doc) and returns nil. It returns an error at once only when the Worker is
// misconfigured. Store errors are logged and retried, never returned.
func (w *Worker) Run(ctx context.Context) error {
	r, err := newRunner(w)
	if err != nil {
		return err
	}
	return r.run(ctx)
}

// runner is the state of one Run: the settings with defaults applied, and the
// dispatch loop's own state, which only the loop goroutine touches (running,
// pacer, claimFailing). Pool goroutines only run attempts and report back.
type runner struct {
	q                       store.Queue
	transport, queue, owner string
	handle                  func(context.Context, store.QueueItem) error
	onGiveUp                func(context.Context, store.QueueItem, error)
	rateKey                 func(store.QueueItem) (string, time.Duration)
	retryMin, retryMax      time.Duration
	concurrency, batch      int
	lease, poll, grace      time.Duration
	handleTimeout, paceHold time.Duration
	depthEvery              time.Duration
	log                     *slog.Logger
	m                       *Metrics
	now                     func() time.Time
	wake                    chan struct{}

	work chan job  // dispatch loop → pool; never holds more than concurrency jobs
	done chan bool // pool → dispatch loop: one per finished job; true if the item was released

	leases leases // the items whose leases the worker renews

	// hctx is the parent of Handle contexts: cancelled Grace after Run's ctx.
	hctx      context.Context
	hcancel   context.CancelFunc
	abandoned atomic.Bool

	running       int
	ready         []job // claimed, waiting for a free slot
	pacer         pacer
	claimFailing  bool
	depthFailing  bool
	extendFailing bool
}

// job is one claimed item on its way to an attempt.
type job struct {
	it store.QueueItem
}

func newRunner(w *Worker) (*runner, error) {
	switch {
	case w.Queue == nil:
		return nil, errors.New("transports: worker: no queue")
	case w.Handle == nil:
		return nil, errors.New("transports: worker: no handle func")
	case w.Transport == "":
		return nil, errors.New("transports: worker: no transport name")
	}
	r := &runner{
		q: w.Queue, transport: w.Transport, queue: w.QueueName, owner: w.Owner,
		handle: w.Handle, onGiveUp: w.OnGiveUp, rateKey: w.RateKey,
		retryMin: orDuration(w.RetryMin, defaultRetryMin), retryMax: orDuration(w.RetryMax, defaultRetryMax),
		concurrency: orInt(w.Concurrency, defaultConcurrency), batch: orInt(w.Batch, defaultBatch),
		lease: orDuration(w.Lease, defaultLease), poll: orDuration(w.Poll, min(defaultPoll, orDuration(w.Lease, defaultLease))),
		grace: orDuration(w.Grace, defaultGrace), depthEvery: orDuration(w.DepthEvery, defaultDepthEvery),
		handleTimeout: orDuration(w.HandleTimeout, defaultHandle), paceHold: orDuration(w.PaceHold, defaultPaceHold),
		log: w.Logger, m: w.Metrics, now: w.Now, wake: w.wakeChan(),
	}
	if r.queue == "" {
		r.queue = "queue"
	}
	if r.owner == "" {
		r.owner = fmt.Sprintf("worker-%016x", rand.Uint64())
	}
	r.leases.held = map[int64]struct{}{}
	if r.retryMax < r.retryMin {
		r.retryMax = r.retryMin
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("transport", r.transport, "queue", r.queue)
	if r.now == nil {
		r.now = time.Now
	}
	r.pacer = newPacer(r.paceHold)
	return r, nil
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func orInt(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

func (r *runner) run(ctx context.Context) error {
	r.hctx, r.hcancel = context.WithCancel(context.WithoutCancel(ctx))
	defer r.hcancel()
	r.work = make(chan job, r.concurrency)
	r.done = make(chan bool, r.concurrency)
	for range r.concurrency {
		go r.serve()
	}
	defer close(r.work)

	poll := time.NewTicker(r.poll)
	defer poll.Stop()
	depth := time.NewTicker(r.depthEvery)
	defer depth.Stop()
	hold := time.NewTimer(time.Hour)
	defer hold.Stop()
	renew := time.NewTicker(r.renewEvery())
	defer renew.Stop()

	r.updateDepth(ctx)
	want := true // claim when a slot is free
	for {
		if ctx.Err() != nil {
			return r.drain(renew.C)
		}
		now := r.now()
		r.fill(now)
		if want && r.running+len(r.ready) < r.concurrency {
			want = r.claim(ctx, now)
			continue
		}
		var holdC <-chan time.Time
		if at, ok := r.pacer.nextRelease(); ok && r.running < r.concurrency {
			hold.Reset(max(at.Sub(now), 0))
			holdC = hold.C
		}
		select {
		case <-ctx.Done():
		case <-r.wake:
			want = true
		case <-poll.C:
			want = true
		case released := <-r.done:
			r.running--
			want = want || released
			// Collect every other finished attempt before claiming once.
			for more := true; more; {
				select {
				case released := <-r.done:
					r.running--
					want = want || released
				default:
					more = false
				}
			}
		case <-holdC:
		case <-renew.C:
			r.renew(ctx)
		case <-depth.C:
			r.updateDepth(ctx)
			r.pacer.forget(r.now(), r.lease)
		}
	}
}

// claim leases due items for the free slots and up to Concurrency more (so that
// a busy worker claims a batch per Concurrency attempts rather than one item
// per attempt), and queues them (or holds them for their pacing turn). It
// reports whether more may be due.
func (r *runner) claim(ctx context.Context, now time.Time) bool {
	limit := min(r.batch, 2*r.concurrency-r.running-len(r.ready))
	cctx, cancel := context.WithTimeout(ctx, storeTimeout)
	items, err := r.q.Claim(cctx, r.transport, r.owner, now, r.lease, limit)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			r.storeFailed("claim", &r.claimFailing, err)
		}
		return false
	}
	r.storeRecovered("claim", &r.claimFailing)
	for _, it := range items {
		r.leases.add(it.ID) // until finished or handed back
		r.dispatch(ctx, job{it: it}, now)
	}
	return len(items) == limit
}

// dispatch queues j for a free slot, or holds or defers it for its pacing turn.
func (r *runner) dispatch(ctx context.Context, j job, now time.Time) {
	key, interval := r.safeRateKey(j.it)
	if key == "" || interval <= 0 {
		r.ready = append(r.ready, j)
		return
	}
	if deferTo := r.pacer.place(j, key, interval, now); !deferTo.IsZero() {
		r.deferItem(ctx, j.it, deferTo)
	}
}

// fill starts attempts while slots are free: first the held items whose pacing
// turn has come, then the claimed items in claim order.
func (r *runner) fill(now time.Time) {
	for r.running < r.concurrency {
		j, ok := r.pacer.release(now)
		if !ok {
			break
		}
		r.start(j)
	}
	for r.running < r.concurrency && len(r.ready) > 0 {
		r.start(r.ready[0])
		r.ready[0] = job{}
		r.ready = r.ready[1:]
	}
}

func (r *runner) start(j job) {
	r.running++
	r.work <- j // never blocks: running <= concurrency = cap(work)
}

// deferItem hands a claimed item back to the store, due at at: a paced item
// until its turn, or an item not started when Run ends.
func (r *runner) deferItem(ctx context.Context, it store.QueueItem, at time.Time) {
	r.leases.release(it.ID)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err := r.q.Retry(sctx, it.ID, at, it.LastError); err != nil {
		r.pacer.unreserve(it.ID)
		r.m.storeError(r.transport, r.queue)
		r.log.Warn("cannot hand item back; it comes back when its lease expires", "id", it.ID, "err", err)
		return
	}
	r.log.Debug("item handed back", "id", it.ID, "until", at)
}

func (r *runner) safeRateKey(it store.QueueItem) (key string, interval time.Duration) {
	if r.rateKey == nil {
		return "", 0
	}
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("rate key func panicked; item not paced", "id", it.ID, "panic", fmt.Sprint(p))
			key, interval = "", 0
		}
	}()
	return r.rateKey(it)
}

// drain runs after Run's ctx ended: see Shutdown in the Worker doc. The
// leases of the deliveries in flight are still renewed on renew.
func (r *runner) drain(renew <-chan time.Time) error {
	for _, h := range r.pacer.drain() {
		r.deferItem(context.Background(), h.j.it, h.slot)
	}
	for _, j := range r.ready {
		r.deferItem(context.Background(), j.it, j.it.NextAttempt)
	}
	r.ready = nil
	if r.running > 0 {
		r.log.Info("draining in-flight deliveries", "in_flight", r.running, "grace", r.grace)
	}
	grace := time.NewTimer(r.grace)
	defer grace.Stop()
	cancelled := false
	for r.running > 0 {
		select {
		case <-r.done:
			r.running--
		case <-renew:
			r.renew(context.Background())
		case <-grace.C:
			if cancelled {
				r.abandoned.Store(true)
				r.log.Warn("abandoning deliveries that ignore cancellation; their items come back when their lease expires",
					"in_flight", r.running)
				return nil
			}
			cancelled = true
			r.hcancel()
			grace.Reset(r.grace)
		}
	}
	return nil
}

func (r *runner) updateDepth(ctx context.Context) {
	if r.m == nil {
		return
	}
	dctx, cancel := context.WithTimeout(ctx, storeTimeout)
	n, err := r.q.Depth(dctx, r.transport)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			r.storeFailed("depth", &r.depthFailing, err)
		}
		return
	}
	r.storeRecovered("depth", &r.depthFailing)
	r.m.setDepth(r.transport, r.queue, n)
}

// storeFailed logs a failing store call once per change of state.
func (r *runner) storeFailed(op string, failing *bool, err error) {
	r.m.storeError(r.transport, r.queue)
	if *failing {
		r.log.Debug("store still failing", "op", op, "err", err)
		return
	}
	*failing = true
	r.log.Warn("store failing; retrying", "op", op, "err", err)
}

func (r *runner) storeRecovered(op string, failing *bool) {
	if *failing {
		*failing = false
		r.log.Info("store answering again", "op", op)
	}
}
