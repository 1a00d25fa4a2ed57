package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// base is a fixed "now" for queue tests: Claim takes the time as an argument,
// so leases and retries are tested without waiting.
var base = time.UnixMilli(1_800_000_000_000).UTC()

func enqueue(t *testing.T, q Queue, it QueueItem) int64 {
	t.Helper()
	id, inserted, err := q.Enqueue(context.Background(), it)
	if err != nil || !inserted {
		t.Fatalf("Enqueue(%+v) = %d, %v, %v; want inserted", it, id, inserted, err)
	}
	return id
}

// claimIDs claims and returns the ids handed out, in order.
func claimIDs(t *testing.T, q Queue, transport string, now time.Time, limit int) []int64 {
	t.Helper()
	items, err := q.Claim(context.Background(), transport, "w1", now, time.Minute, limit)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	var ids []int64
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	return ids
}

func complete(t *testing.T, q Queue, ids ...int64) {
	t.Helper()
	for _, id := range ids {
		if err := q.Complete(context.Background(), id); err != nil {
			t.Fatalf("Complete(%d): %v", id, err)
		}
	}
}

func testQueueFields(t *testing.T, q Queue) {
	ctx := context.Background()
	tests := []QueueItem{
		{Transport: "sms", Key: "alice|+1555", RemoteID: "SM1", Payload: []byte("<message>héllo</message>"),
			NextAttempt: base.Add(-time.Second), Deadline: base.Add(time.Hour), Created: base.Add(-2 * time.Second)},
		{Transport: "sms", Key: "bob|+1555", Payload: []byte{0, 1, 2, 255}, Attempts: 3, LastError: "earlier failure",
			NextAttempt: base, Created: base.Add(-time.Minute)}, // no deadline
		{Transport: "sms", Key: "carol|+1555"}, // everything zero: due now, created now
	}
	var ids []int64
	for _, it := range tests {
		ids = append(ids, enqueue(t, q, it))
	}
	items, err := q.Claim(ctx, "sms", "w1", base, time.Minute, 10)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if len(items) != len(tests) {
		t.Fatalf("Claim returned %d items, want %d", len(items), len(tests))
	}
	for i, got := range items {
		want := tests[i]
		want.ID = ids[i]
		if want.Created.IsZero() {
			if time.Since(got.Created) > time.Minute || got.Created.After(time.Now()) {
				t.Errorf("item %d: Created = %v, want about now", i, got.Created)
			}
			want.Created = got.Created
		}
		if got.ID != want.ID || got.Transport != want.Transport || got.Key != want.Key || got.RemoteID != want.RemoteID ||
			!bytes.Equal(got.Payload, want.Payload) || got.Attempts != want.Attempts || got.LastError != want.LastError ||
			!got.NextAttempt.Equal(want.NextAttempt) || !got.Deadline.Equal(want.Deadline) || !got.Created.Equal(want.Created) {
			t.Errorf("item %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
}

func testQueueOrder(t *testing.T, q Queue) {
	ctx := context.Background()
	a1 := enqueue(t, q, QueueItem{Transport: "sms", Key: "a"})
	a2 := enqueue(t, q, QueueItem{Transport: "sms", Key: "a"})
	b1 := enqueue(t, q, QueueItem{Transport: "sms", Key: "b"})
	a3 := enqueue(t, q, QueueItem{Transport: "sms", Key: "a"})
	enqueue(t, q, QueueItem{Transport: "email", Key: "a"}) // same key, other transport: its own order

	steps := []struct {
		name     string
		now      time.Time
		retry    []int64 // retried to now+10s before claiming
		complete []int64 // completed before claiming
		want     []int64
	}{
		{name: "one per key, oldest first", now: base, want: []int64{a1, b1}},
		{name: "all heads leased", now: base},
		{name: "a1 retried: not due, a2 must wait", now: base, retry: []int64{a1}},
		{name: "a1 due again before a2", now: base.Add(11 * time.Second), want: []int64{a1}},
		{name: "a1 done: a2", now: base.Add(11 * time.Second), complete: []int64{a1}, want: []int64{a2}},
		{name: "a2 retried with a3 waiting", now: base.Add(11 * time.Second), retry: []int64{a2}},
		{name: "a2 again", now: base.Add(22 * time.Second), want: []int64{a2}},
		{name: "rest in order", now: base.Add(22 * time.Second), complete: []int64{a2, b1}, want: []int64{a3}},
	}
	for _, st := range steps {
		for _, id := range st.retry {
			if err := q.Retry(ctx, id, st.now.Add(10*time.Second), "busy"); err != nil {
				t.Fatalf("%s: Retry(%d): %v", st.name, id, err)
			}
		}
		complete(t, q, st.complete...)
		if got := claimIDs(t, q, "sms", st.now, 100); !slices.Equal(got, st.want) {
			t.Fatalf("%s: claimed %v, want %v", st.name, got, st.want)
		}
	}
	// a3's lease ends: it is handed out again, the completed ones are not.
	items, _ := q.Claim(ctx, "sms", "w2", base.Add(2*time.Hour), time.Minute, 10)
	if len(items) != 1 || items[0].ID != a3 {
		t.Fatalf("after lease expiry: %+v, want a3 again", items)
	}
	complete(t, q, a3)
	if err := q.Retry(ctx, a1, base, "x"); err != nil {
		t.Errorf("Retry of a completed item = %v, want nil (no-op)", err)
	}
	if n, _ := q.Depth(ctx, "sms"); n != 0 {
		t.Errorf("Depth(sms) = %d after completing everything (a retried tombstone came back?)", n)
	}
}

func testQueueLease(t *testing.T, q Queue) {
	ctx := context.Background()
	id := enqueue(t, q, QueueItem{Transport: "sms", Key: "k"})
	first, err := q.Claim(ctx, "sms", "w1", base, 30*time.Second, 10)
	if err != nil || len(first) != 1 || first[0].ID != id {
		t.Fatalf("first Claim = %+v, %v", first, err)
	}
	if again, _ := q.Claim(ctx, "sms", "w2", base.Add(29*time.Second), 30*time.Second, 10); len(again) != 0 {
		t.Fatalf("Claim during the lease handed out %+v", again)
	}
	// w1 died: after the lease the item goes to w2, attempts unchanged.
	second, err := q.Claim(ctx, "sms", "w2", base.Add(30*time.Second), 30*time.Second, 10)
	if err != nil || len(second) != 1 || second[0].ID != id || second[0].Attempts != 0 {
		t.Fatalf("Claim after lease expiry = %+v, %v; want item %d again", second, err, id)
	}
	if again, _ := q.Claim(ctx, "sms", "w3", base.Add(59*time.Second), 30*time.Second, 10); len(again) != 0 {
		t.Fatalf("Claim during the second lease handed out %+v", again)
	}
	// Retry releases the lease at once.
	if err := q.Retry(ctx, id, base.Add(40*time.Second), "timeout"); err != nil {
		t.Fatal(err)
	}
	third, _ := q.Claim(ctx, "sms", "w3", base.Add(40*time.Second), 30*time.Second, 10)
	if len(third) != 1 || third[0].Attempts != 1 || third[0].LastError != "timeout" || !third[0].NextAttempt.Equal(base.Add(40*time.Second)) {
		t.Fatalf("Claim after Retry = %+v; want attempts 1, last error, next attempt", third)
	}
}

func testQueueDedupe(t *testing.T, q Queue) {
	ctx := context.Background()
	mustEnqueue := func(it QueueItem, wantInserted bool) int64 {
		t.Helper()
		id, inserted, err := q.Enqueue(ctx, it)
		if err != nil || inserted != wantInserted {
			t.Fatalf("Enqueue(%s/%s) = %d, %v, %v; want inserted=%v", it.Transport, it.RemoteID, id, inserted, err, wantInserted)
		}
		return id
	}
	id1 := mustEnqueue(QueueItem{Transport: "sms", Key: "k", RemoteID: "SM1", Payload: []byte("one")}, true)
	if id := mustEnqueue(QueueItem{Transport: "sms", Key: "k", RemoteID: "SM1", Payload: []byte("dup")}, false); id != id1 {
		t.Errorf("duplicate returned id %d, want the original %d", id, id1)
	}
	mustEnqueue(QueueItem{Transport: "email", Key: "k", RemoteID: "SM1"}, true) // per transport
	mustEnqueue(QueueItem{Transport: "sms", Key: "k"}, true)                    // empty remote ids never collide
	mustEnqueue(QueueItem{Transport: "sms", Key: "k"}, true)
	if n, _ := q.Depth(ctx, "sms"); n != 3 {
		t.Errorf("Depth(sms) = %d, want 3", n)
	}
	items, _ := q.Claim(ctx, "sms", "w", base, time.Minute, 10)
	if len(items) != 1 || items[0].ID != id1 || string(items[0].Payload) != "one" {
		t.Fatalf("Claim = %+v; want the original item", items)
	}
	complete(t, q, id1)
	// The tombstone still deduplicates.
	if id := mustEnqueue(QueueItem{Transport: "sms", Key: "k", RemoteID: "SM1"}, false); id != id1 {
		t.Errorf("duplicate after Complete returned id %d, want %d", id, id1)
	}
	if n, err := q.Prune(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("Prune(an hour ago) = %d, %v; want 0", n, err)
	}
	if n, err := q.Prune(ctx, time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Errorf("Prune(now) = %d, %v; want 1 tombstone", n, err)
	}
	if id := mustEnqueue(QueueItem{Transport: "sms", Key: "k", RemoteID: "SM1"}, true); id <= id1 {
		t.Errorf("re-enqueued after Prune with id %d, want > %d", id, id1)
	}
}

func testQueueDepthPrune(t *testing.T, q Queue) {
	ctx := context.Background()
	var sms []int64
	for i := range 5 {
		sms = append(sms, enqueue(t, q, QueueItem{Transport: "sms", Key: fmt.Sprint(i % 2)}))
	}
	enqueue(t, q, QueueItem{Transport: "email", Key: "x"})
	enqueue(t, q, QueueItem{Transport: "email", Key: "x"})
	check := func(when string, wantSMS, wantAll int) {
		t.Helper()
		if n, err := q.Depth(ctx, "sms"); err != nil || n != wantSMS {
			t.Errorf("%s: Depth(sms) = %d, %v; want %d", when, n, err, wantSMS)
		}
		if n, err := q.Depth(ctx, ""); err != nil || n != wantAll {
			t.Errorf("%s: Depth(\"\") = %d, %v; want %d", when, n, err, wantAll)
		}
	}
	check("enqueued", 5, 7)
	claimIDs(t, q, "sms", base, 10) // leased items are still unfinished
	check("leased", 5, 7)
	complete(t, q, sms[0], sms[1])
	check("two done", 3, 5)
	if err := q.Retry(ctx, sms[2], base.Add(time.Hour), "x"); err != nil {
		t.Fatal(err)
	}
	check("retried", 3, 5)
	if n, err := q.Prune(ctx, time.Now().Add(time.Minute)); err != nil || n != 2 {
		t.Errorf("Prune = %d, %v; want 2", n, err)
	}
	check("pruned", 3, 5)
	if n, err := q.Prune(ctx, time.Now().Add(time.Minute)); err != nil || n != 0 {
		t.Errorf("second Prune = %d, %v; want 0", n, err)
	}
}

func testQueueMisuse(t *testing.T, q Queue) {
	ctx := context.Background()
	id := enqueue(t, q, QueueItem{Transport: "sms", Key: "k"})
	if err := q.Complete(ctx, id+1000); err != ErrNotFound {
		t.Errorf("Complete(unknown) = %v, want ErrNotFound", err)
	}
	if err := q.Retry(ctx, id+1000, base, "x"); err != ErrNotFound {
		t.Errorf("Retry(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := q.Claim(ctx, "sms", "w", base, 0, 10); err == nil {
		t.Error("Claim with lease 0: no error")
	}
	if items, err := q.Claim(ctx, "sms", "w", base, time.Minute, 0); err != nil || len(items) != 0 {
		t.Errorf("Claim with limit 0 = %v, %v; want nothing", items, err)
	}
	if items, _ := q.Claim(ctx, "email", "w", base, time.Minute, 10); len(items) != 0 {
		t.Errorf("Claim(email) handed out an sms item: %+v", items)
	}
	complete(t, q, id)
	if err := q.Complete(ctx, id); err != nil {
		t.Errorf("second Complete = %v, want nil (no-op)", err)
	}
	if items, _ := q.Claim(ctx, "sms", "w", base.Add(time.Hour), time.Minute, 10); len(items) != 0 {
		t.Errorf("completed item handed out again: %+v", items)
	}
}

// testQueueConcurrent runs producers and claimers side by side on the given
// queues (one queue table, opened through one or several stores, as several
// processes would) and checks that no item is handed out twice, that no two
// items of a key are out at once, and that each key's items are handed out in
// the order they were enqueued. Producers enqueue while claimers complete, so
// the head hand-over between Enqueue and Complete is raced too: a lost head
// would leave its key stuck and the test would time out.
func testQueueConcurrent(t *testing.T, qs ...Queue) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const (
		keys      = 16
		perKey    = 8
		producers = 4
		claimers  = 4
		total     = keys * perKey
	)
	var (
		mu       sync.Mutex
		want     = map[string][]int64{} // per key, in enqueue order
		got      = map[string][]int64{} // per key, in hand-out order
		claimed  = map[int64]string{}   // id -> owner
		inFlight = map[string]int64{}   // key -> id out
		done     int
		problems []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for p := range producers {
		q := qs[p%len(qs)]
		wg.Go(func() {
			// Producer p owns keys p, p+producers, ...: one writer per key
			// gives each key a defined order.
			for i := range perKey * keys / producers {
				key := fmt.Sprintf("k%02d", p+producers*(i%(keys/producers)))
				id, inserted, err := q.Enqueue(ctx, QueueItem{Transport: "sms", Key: key, Payload: []byte(key)})
				if err != nil || !inserted {
					fail("producer %d: Enqueue = %d, %v, %v", p, id, inserted, err)
					return
				}
				mu.Lock()
				want[key] = append(want[key], id)
				mu.Unlock()
			}
		})
	}
	for w := range claimers {
		q := qs[w%len(qs)]
		owner := fmt.Sprintf("w%d", w)
		wg.Go(func() {
			for ctx.Err() == nil {
				items, err := q.Claim(ctx, "sms", owner, time.Now(), time.Minute, 3)
				if err != nil {
					fail("%s: Claim: %v", owner, err)
					return
				}
				mu.Lock()
				for _, it := range items {
					if prev, ok := claimed[it.ID]; ok {
						problems = append(problems, fmt.Sprintf("item %d handed to %s and %s", it.ID, prev, owner))
					}
					if other, ok := inFlight[it.Key]; ok {
						problems = append(problems, fmt.Sprintf("key %s: %d handed out while %d is out", it.Key, it.ID, other))
					}
					claimed[it.ID], inFlight[it.Key] = owner, it.ID
					got[it.Key] = append(got[it.Key], it.ID)
				}
				finished := done == total
				mu.Unlock()
				if finished {
					return
				}
				for _, it := range items {
					// Out of the books before Complete: the next item of the
					// key can be claimed the moment Complete commits.
					mu.Lock()
					delete(inFlight, it.Key)
					mu.Unlock()
					if err := q.Complete(ctx, it.ID); err != nil {
						fail("%s: Complete(%d): %v", owner, it.ID, err)
						return
					}
					mu.Lock()
					done++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	if ctx.Err() != nil {
		t.Fatalf("claimers did not finish: %d of %d done", done, total)
	}
	for key, ids := range want {
		if len(ids) != perKey || !slices.Equal(got[key], ids) {
			t.Errorf("key %s handed out as %v, want %v", key, got[key], ids)
		}
	}
	if n, _ := qs[0].Depth(context.Background(), "sms"); n != 0 {
		t.Errorf("Depth after all done = %d", n)
	}
}

func testQueuesSeparate(t *testing.T, s Store) {
	ctx := context.Background()
	enqueue(t, s.Outbox(), QueueItem{Transport: "sms", Key: "k", RemoteID: "SM1"})
	// The same remote id in the other queue is not a duplicate.
	enqueue(t, s.Inbox(), QueueItem{Transport: "sms", Key: "k", RemoteID: "SM1"})
	enqueue(t, s.Inbox(), QueueItem{Transport: "sms", Key: "k"})
	if n, _ := s.Outbox().Depth(ctx, ""); n != 1 {
		t.Errorf("outbox depth = %d, want 1", n)
	}
	if n, _ := s.Inbox().Depth(ctx, ""); n != 2 {
		t.Errorf("inbox depth = %d, want 2", n)
	}
}
