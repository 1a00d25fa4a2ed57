package transports

import (
	"context"
	"sync"
	"time"
)

// leases is the set of items whose leases the worker renews: claimed, and not
// yet completed, rescheduled or handed back (see Leases in the Worker doc).
//
// The dispatch loop adds items when it claims them, drops those it hands back,
// and renews; pool goroutines drop an item just before they record its
// outcome in the store. A renewal holds the lock for its one Extend call, so
// an item is never finished by this worker while a renewal that asks for it
// is under way: when Extend extends fewer items than asked, the missing ones
// were lost to another owner, not completed here meanwhile.
type leases struct {
	mu   sync.Mutex
	held map[int64]struct{}
}

func (l *leases) add(id int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held[id] = struct{}{}
}

// release stops renewing id: the worker is about to finish it, or gives it up
// to come back when its lease expires.
func (l *leases) release(id int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.held, id)
}

// renewEvery is the renewal period: a third of the lease, so a lease survives
// one late or failed renewal.
func (r *runner) renewEvery() time.Duration {
	return max(r.lease/3, time.Millisecond)
}

// renew extends the leases of every held item to now+Lease in one store call.
func (r *runner) renew(ctx context.Context) {
	r.leases.mu.Lock()
	defer r.leases.mu.Unlock()
	if len(r.leases.held) == 0 {
		return
	}
	ids := make([]int64, 0, len(r.leases.held))
	for id := range r.leases.held {
		ids = append(ids, id)
	}
	// Bounded by the renewal period too: a renewal later than that is useless
	// (the next one is due) and would hold up the pool.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(storeTimeout, r.renewEvery()))
	n, err := r.q.Extend(sctx, r.owner, ids, r.now().Add(r.lease))
	cancel()
	if err != nil {
		r.storeFailed("extend", &r.extendFailing, err)
		return
	}
	r.storeRecovered("extend", &r.extendFailing)
	if n < len(ids) {
		r.log.Warn("leases lost: another worker may deliver these items too (at least once)",
			"held", len(ids), "renewed", n)
	}
}
