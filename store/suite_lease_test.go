package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// testQueueExtend checks lease renewal: the owner keeps its items past the
// original lease; nobody else can renew them; finished, retried and unknown
// items are left alone.
func testQueueExtend(t *testing.T, q Queue) {
	ctx := context.Background()
	const lease = 30 * time.Second
	claim := func(owner string, now time.Time) []int64 {
		t.Helper()
		items, err := q.Claim(ctx, "sms", owner, now, lease, 500)
		if err != nil {
			t.Fatalf("Claim(%s): %v", owner, err)
		}
		var ids []int64
		for _, it := range items {
			ids = append(ids, it.ID)
		}
		return ids
	}
	extend := func(owner string, ids []int64, until time.Time, want int) {
		t.Helper()
		n, err := q.Extend(ctx, owner, ids, until)
		if err != nil || n != want {
			t.Fatalf("Extend(%s, %v, +%v) = %d, %v; want %d", owner, ids, until.Sub(base), n, err, want)
		}
	}

	t.Run("owner keeps the lease past its end", func(t *testing.T) {
		id := enqueue(t, q, QueueItem{Transport: "sms", Key: "keep"})
		if got := claim("w1", base); !slices.Equal(got, []int64{id}) {
			t.Fatalf("claimed %v, want [%d]", got, id)
		}
		extend("w1", []int64{id}, base.Add(50*time.Second), 1)
		extend("w1", []int64{id}, base.Add(90*time.Second), 1) // again, later
		if got := claim("w2", base.Add(89*time.Second)); len(got) != 0 {
			t.Fatalf("claimed %v while the extended lease runs", got)
		}
		// The owner died after its last renewal: the item comes back then.
		if got := claim("w2", base.Add(90*time.Second)); !slices.Equal(got, []int64{id}) {
			t.Fatalf("claimed %v after the extended lease, want [%d]", got, id)
		}
		complete(t, q, id)
	})

	t.Run("another owner cannot extend", func(t *testing.T) {
		id := enqueue(t, q, QueueItem{Transport: "sms", Key: "steal"})
		claim("w1", base)
		extend("w2", []int64{id}, base.Add(time.Hour), 0)
		extend("", []int64{id}, base.Add(time.Hour), 0)
		// w2's attempt changed nothing: the lease ends as claimed.
		if got := claim("w2", base.Add(lease)); !slices.Equal(got, []int64{id}) {
			t.Fatalf("claimed %v after w1's lease, want [%d]", got, id)
		}
		// w1 lost its lease: its renewal must not take the item back.
		extend("w1", []int64{id}, base.Add(time.Hour), 0)
		extend("w2", []int64{id}, base.Add(2*lease), 1)
		if got := claim("w3", base.Add(2*lease-time.Millisecond)); len(got) != 0 {
			t.Fatalf("claimed %v during w2's lease", got)
		}
		complete(t, q, id)
	})

	t.Run("finished and unknown items are not extended", func(t *testing.T) {
		done := enqueue(t, q, QueueItem{Transport: "sms", Key: "d"})
		retried := enqueue(t, q, QueueItem{Transport: "sms", Key: "r"})
		held := enqueue(t, q, QueueItem{Transport: "sms", Key: "h"})
		if got := claim("w1", base); !slices.Equal(got, []int64{done, retried, held}) {
			t.Fatalf("claimed %v, want [%d %d %d]", got, done, retried, held)
		}
		complete(t, q, done)
		if err := q.Retry(ctx, retried, base.Add(10*time.Second), "busy"); err != nil {
			t.Fatal(err)
		}
		extend("w1", []int64{done, retried, held, held + 1000}, base.Add(time.Hour), 1)
		extend("w1", nil, base.Add(time.Hour), 0)
		// The retried item is due at its retry time, not at the renewal.
		if got := claim("w2", base.Add(10*time.Second)); !slices.Equal(got, []int64{retried}) {
			t.Fatalf("claimed %v, want only the retried item %d", got, retried)
		}
		if n, err := q.Depth(ctx, "sms"); err != nil || n != 2 {
			t.Errorf("Depth = %d, %v; want 2 (the done item stays done)", n, err)
		}
		complete(t, q, retried, held)
	})

	t.Run("a few hundred ids in one call", func(t *testing.T) {
		const n = 300
		var ids []int64
		for i := range n {
			ids = append(ids, enqueue(t, q, QueueItem{Transport: "sms", Key: fmt.Sprint("many", i)}))
		}
		got := claim("w1", base)
		if len(got) != n {
			t.Fatalf("claimed %d items, want %d", len(got), n)
		}
		extend("w1", ids, base.Add(time.Hour), n)
		if got := claim("w2", base.Add(time.Hour-time.Millisecond)); len(got) != 0 {
			t.Fatalf("claimed %d items during the extended leases", len(got))
		}
		if got := claim("w2", base.Add(time.Hour)); len(got) != n {
			t.Fatalf("claimed %d items after the extended leases, want %d", len(got), n)
		}
	})
}
