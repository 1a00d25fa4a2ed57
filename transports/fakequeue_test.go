package transports

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"xgate/store"
)

// fakeQueue is an in-memory store.Queue with the real contract: Claim hands out
// only the due, unleased oldest unfinished item of each key, oldest first;
// Retry releases the lease and counts an attempt; expired leases come back;
// Extend renews only the leases its owner still holds.
type fakeQueue struct {
	mu       sync.Mutex
	nextID   int64
	items    map[int64]*fakeItem
	byKey    map[string][]int64 // transport+key → unfinished ids, oldest first
	remote   map[string]int64
	claimErr error
	// hook, when set, is called (outside the lock) after every change.
	hook func(ev fakeEvent)
}

type fakeItem struct {
	it         store.QueueItem
	done       bool
	owner      string
	leaseUntil time.Time
}

type fakeEvent struct {
	op      string // "claim", "complete", "retry", "extend"
	items   []store.QueueItem
	next    time.Time // retry: when due again; extend: the new lease end
	lastErr string
	owner   string  // claim, extend
	asked   []int64 // extend: the ids asked for (items: those extended)
}

func newFakeQueue() *fakeQueue {
	return &fakeQueue{items: map[int64]*fakeItem{}, byKey: map[string][]int64{}, remote: map[string]int64{}}
}

func (q *fakeQueue) emit(ev fakeEvent) {
	if q.hook != nil {
		q.hook(ev)
	}
}

func (q *fakeQueue) Enqueue(ctx context.Context, it store.QueueItem) (int64, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if it.RemoteID != "" {
		if id, ok := q.remote[it.Transport+"\x00"+it.RemoteID]; ok {
			return id, false, nil
		}
	}
	q.nextID++
	it.ID = q.nextID
	if it.Created.IsZero() {
		it.Created = time.Now()
	}
	q.items[it.ID] = &fakeItem{it: it}
	k := it.Transport + "\x00" + it.Key
	q.byKey[k] = append(q.byKey[k], it.ID)
	if it.RemoteID != "" {
		q.remote[it.Transport+"\x00"+it.RemoteID] = it.ID
	}
	return it.ID, true, nil
}

func (q *fakeQueue) Claim(ctx context.Context, transport, owner string, now time.Time, lease time.Duration, limit int) ([]store.QueueItem, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q.mu.Lock()
	if err := q.claimErr; err != nil {
		q.mu.Unlock()
		q.emit(fakeEvent{op: "claim failed"})
		return nil, err
	}
	var heads []*fakeItem
	for _, ids := range q.byKey {
		fi := q.items[ids[0]]
		if fi.it.Transport != transport || fi.it.NextAttempt.After(now) || fi.leaseUntil.After(now) {
			continue
		}
		heads = append(heads, fi)
	}
	slices.SortFunc(heads, func(a, b *fakeItem) int { return cmp.Compare(a.it.ID, b.it.ID) })
	var out []store.QueueItem
	for _, fi := range heads[:min(limit, len(heads))] {
		fi.owner, fi.leaseUntil = owner, now.Add(lease)
		out = append(out, fi.it)
	}
	q.mu.Unlock()
	q.emit(fakeEvent{op: "claim", items: out, owner: owner})
	return out, nil
}

func (q *fakeQueue) unfinished(id int64) (*fakeItem, error) {
	fi := q.items[id]
	if fi == nil || fi.done {
		return nil, errors.New("fake queue: no unfinished item")
	}
	return fi, nil
}

func (q *fakeQueue) Complete(ctx context.Context, id int64) error {
	q.mu.Lock()
	fi, err := q.unfinished(id)
	if err != nil {
		q.mu.Unlock()
		return err
	}
	fi.done, fi.owner, fi.leaseUntil = true, "", time.Time{}
	k := fi.it.Transport + "\x00" + fi.it.Key
	ids := q.byKey[k]
	if ids[0] == id { // the usual case: the head
		ids = ids[1:]
	} else {
		ids = slices.DeleteFunc(ids, func(x int64) bool { return x == id })
	}
	if len(ids) == 0 {
		delete(q.byKey, k)
	} else {
		q.byKey[k] = ids
	}
	it := fi.it
	q.mu.Unlock()
	q.emit(fakeEvent{op: "complete", items: []store.QueueItem{it}})
	return nil
}

func (q *fakeQueue) Retry(ctx context.Context, id int64, next time.Time, lastErr string) error {
	q.mu.Lock()
	fi, err := q.unfinished(id)
	if err != nil {
		q.mu.Unlock()
		return err
	}
	fi.it.Attempts++
	fi.it.NextAttempt, fi.it.LastError, fi.owner, fi.leaseUntil = next, lastErr, "", time.Time{}
	it := fi.it
	q.mu.Unlock()
	q.emit(fakeEvent{op: "retry", items: []store.QueueItem{it}, next: next, lastErr: lastErr})
	return nil
}

func (q *fakeQueue) Extend(ctx context.Context, owner string, ids []int64, until time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	q.mu.Lock()
	var out []store.QueueItem
	for _, id := range ids {
		fi := q.items[id]
		if fi == nil || fi.done || owner == "" || fi.owner != owner {
			continue
		}
		fi.leaseUntil = until
		out = append(out, fi.it)
	}
	q.mu.Unlock()
	q.emit(fakeEvent{op: "extend", items: out, next: until, owner: owner, asked: slices.Clone(ids)})
	return len(out), nil
}

func (q *fakeQueue) Depth(ctx context.Context, transport string) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, fi := range q.items {
		if !fi.done && (transport == "" || fi.it.Transport == transport) {
			n++
		}
	}
	return n, nil
}

func (q *fakeQueue) Prune(ctx context.Context, before time.Time) (int64, error) { return 0, nil }

// state returns a copy of item id, whether it is done and its lease expiry.
func (q *fakeQueue) state(id int64) (store.QueueItem, bool, time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	fi := q.items[id]
	return fi.it, fi.done, fi.leaseUntil
}

// leaseOf returns the owner of item id and its lease expiry.
func (q *fakeQueue) leaseOf(id int64) (string, time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	fi := q.items[id]
	return fi.owner, fi.leaseUntil
}

// add enqueues an item for transport "test" with a text payload.
func (q *fakeQueue) add(t testing.TB, key, payload string, deadline time.Time) int64 {
	t.Helper()
	id, _, err := q.Enqueue(context.Background(), store.QueueItem{
		Transport: "test", Key: key, Payload: []byte(payload), Deadline: deadline,
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// startWorker runs w until the test ends (or stop is called) and returns stop,
// which cancels Run and returns its error.
func startWorker(t testing.TB, w *Worker) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(10 * time.Second):
				err = errors.New("worker did not stop")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// waitFor receives from c or fails the test after a deadline.
func waitFor[T any](t testing.TB, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}
