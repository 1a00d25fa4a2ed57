package transports

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"time"

	"xgate/store"
)

// serve is one pool goroutine: it runs attempts until the work channel closes.
func (r *runner) serve() {
	for j := range r.work {
		r.done <- r.attempt(j)
	}
}

// attempt runs Handle once for j and records the outcome in the store. It
// reports whether the item's lease was released (completed or rescheduled).
func (r *runner) attempt(j job) bool {
	it := j.it
	// The lease is renewed while Handle runs: only HandleTimeout bounds it.
	hctx, cancel := context.WithTimeout(r.hctx, r.handleTimeout)
	err := r.safeHandle(hctx, it)
	cancel()

	if err != nil && r.hctx.Err() != nil {
		r.leases.release(it.ID)
		r.log.Info("delivery interrupted by shutdown; the item comes back when its lease expires",
			"id", it.ID, "err", err)
		return false
	}
	if r.abandoned.Load() {
		r.leases.release(it.ID)
		return false
	}
	// The outcome must be recorded even while Run is shutting down.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(r.hctx), storeTimeout)
	defer scancel()
	now := r.now()

	switch {
	case err == nil:
		r.m.result(r.transport, r.queue, resultDelivered)
		r.m.observeLatency(r.transport, r.queue, now.Sub(it.Created))
		return r.complete(sctx, it)
	case !IsTemporary(err):
		r.m.errorKind(r.transport, r.queue, kindPermanent)
		r.giveUp(sctx, it, err)
		return r.complete(sctx, it)
	case !it.Deadline.IsZero() && !now.Before(it.Deadline):
		r.m.errorKind(r.transport, r.queue, kindTemporary)
		r.m.errorKind(r.transport, r.queue, kindDeadline)
		r.giveUp(sctx, it, err)
		return r.complete(sctx, it)
	default:
		r.m.errorKind(r.transport, r.queue, kindTemporary)
		next := now.Add(backoff(it.Attempts+1, r.retryMin, r.retryMax, rand.Float64))
		if !it.Deadline.IsZero() && next.After(it.Deadline) {
			next = it.Deadline
		}
		r.leases.release(it.ID)
		if rerr := r.q.Retry(sctx, it.ID, next, lastError(err)); rerr != nil {
			r.m.storeError(r.transport, r.queue)
			r.log.Error("cannot reschedule item; it comes back when its lease expires",
				"id", it.ID, "err", rerr)
			return false
		}
		r.m.result(r.transport, r.queue, resultRetried)
		r.log.Debug("delivery failed; retrying", "id", it.ID, "attempt", it.Attempts+1,
			"next", next, "err", err)
		r.wakeAt(next)
		return true
	}
}

// safeHandle runs Handle; a panic becomes a temporary error.
func (r *runner) safeHandle(ctx context.Context, it store.QueueItem) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.m.errorKind(r.transport, r.queue, kindPanic)
			r.log.Error("delivery handler panicked; retrying", "id", it.ID,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("transports: handler panicked: %v", p)
		}
	}()
	return r.handle(ctx, it)
}

func (r *runner) giveUp(ctx context.Context, it store.QueueItem, err error) {
	r.m.result(r.transport, r.queue, resultFailed)
	cond, _ := ErrorOf(err)
	r.log.Warn("delivery failed; giving up", "id", it.ID, "attempts", it.Attempts+1,
		"condition", cond, "err", err)
	if r.onGiveUp == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("give-up callback panicked", "id", it.ID,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	r.onGiveUp(ctx, it, err)
}

func (r *runner) complete(ctx context.Context, it store.QueueItem) bool {
	r.leases.release(it.ID)
	if err := r.q.Complete(ctx, it.ID); err != nil {
		r.m.storeError(r.transport, r.queue)
		r.log.Error("cannot complete item; it will be handled again when its lease expires",
			"id", it.ID, "err", err)
		return false
	}
	return true
}

// backoff is the wait before attempt n+1 after attempt n failed: equal jitter
// over d = min·2^(n-1) capped at max, so the wait is in [d/2, d] and never
// shrinks from one attempt to the next until d reaches max. rnd returns a
// float in [0, 1).
func backoff(n int, minD, maxD time.Duration, rnd func() float64) time.Duration {
	d := minD
	for i := 1; i < n && d < maxD; i++ {
		d *= 2
	}
	d = min(d, maxD)
	half := d / 2
	return half + time.Duration(rnd()*float64(d-half))
}

// lastError is the text stored with a rescheduled item, for operators.
func lastError(err error) string {
	s := err.Error()
	if len(s) > maxLastError {
		s = strings.ToValidUTF8(s[:maxLastError], "")
	}
	return s
}

// wakeAt makes the dispatch loop claim again when a retry falls due before the
// next poll would notice it: a short backoff then means a short wait.
func (r *runner) wakeAt(at time.Time) {
	d := at.Sub(r.now())
	if d >= r.poll {
		return
	}
	time.AfterFunc(max(d, 0), func() {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	})
}
