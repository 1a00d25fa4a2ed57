package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"xgate/integration/harness"
)

// BenchmarkOutboxEnqueueClaimComplete measures the outbox round trip of one
// message: b.N messages over 100 keys are enqueued one by one, claimed in
// batches of 100 and completed one by one. msgs/s counts whole round trips.
//
// PostgreSQL runs on a cluster of its own with fsync and synchronous_commit on
// (the tests' cluster has them off), so that the figure is what an operator
// gets. SQLite runs as in production: WAL, synchronous=NORMAL.
func BenchmarkOutboxEnqueueClaimComplete(b *testing.B) {
	durable := &harness.Postgres{Durable: true}
	b.Cleanup(func() {
		if err := durable.Close(); err != nil {
			b.Error(err)
		}
	})
	pg := postgresBackend()
	pg.newDSN = func(t testing.TB) string { return durable.NewDatabase(t) }
	for _, be := range []testBackend{sqliteBackend(), pg} {
		b.Run(be.driver, func(b *testing.B) {
			benchmarkQueue(b, be.open(b).Outbox())
		})
	}
}

func benchmarkQueue(b *testing.B, q Queue) {
	ctx := context.Background()
	payload := make([]byte, 256)
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("user%d@example.org|+1555%04d", i, i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, _, err := q.Enqueue(ctx, QueueItem{Transport: "sms", Key: keys[i%len(keys)], Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
	for done := 0; done < b.N; {
		items, err := q.Claim(ctx, "sms", "bench", time.Now(), time.Minute, 100)
		if err != nil {
			b.Fatal(err)
		}
		if len(items) == 0 {
			b.Fatalf("nothing to claim with %d of %d done", done, b.N)
		}
		for _, it := range items {
			if err := q.Complete(ctx, it.ID); err != nil {
				b.Fatal(err)
			}
		}
		done += len(items)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
