package transports

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"xgate/store"
)

// openSQLite opens a fresh embedded store in a temporary directory.
func openSQLite(t testing.TB) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.DriverSQLite, filepath.Join(t.TempDir(), "xgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// TestWorkerWithSQLite runs the worker against the real embedded store: every
// item is delivered once after its failures, in order per key.
func TestWorkerWithSQLite(t *testing.T) {
	const keys, perKey = 6, 10
	st := openSQLite(t)
	q := st.Outbox()
	ctx := context.Background()
	for i := range perKey {
		for k := range keys {
			_, _, err := q.Enqueue(ctx, store.QueueItem{
				Transport: "test", Key: fmt.Sprintf("key%d", k), Payload: []byte(fmt.Sprintf("key%d %d", k, i)),
				NextAttempt: time.Now(), Created: time.Now(),
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	var mu sync.Mutex
	delivered := map[string]int{}
	var problems []string
	all := make(chan struct{})
	total := 0
	w := &Worker{
		Queue: q, Transport: "test", Owner: "me", Concurrency: 4,
		RetryMin: time.Millisecond, RetryMax: time.Millisecond, Poll: 5 * time.Millisecond,
		Handle: func(ctx context.Context, it store.QueueItem) error {
			var key string
			var seq int
			if _, err := fmt.Sscanf(string(it.Payload), "%s %d", &key, &seq); err != nil {
				return Permanent("bad-request", "bad payload", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if delivered[key] != seq {
				problems = append(problems, fmt.Sprintf("%s: item %d attempted after %d delivered", key, seq, delivered[key]))
			}
			if it.Attempts == 0 && seq%4 == 1 {
				return Temporary("flaky", nil)
			}
			delivered[key]++
			if total++; total == keys*perKey {
				close(all)
			}
			return nil
		},
	}
	stop := startWorker(t, w)
	waitFor(t, all, "every item delivered")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
	if n, err := q.Depth(ctx, "test"); err != nil || n != 0 {
		t.Errorf("depth after delivery = %d, %v; want 0", n, err)
	}
}

// BenchmarkWorkerSQLite measures enqueue-free delivery throughput of the
// worker on the embedded store (claim + complete per item).
func BenchmarkWorkerSQLite(b *testing.B) {
	st := openSQLite(b)
	q := st.Outbox()
	ctx := context.Background()
	for i := range b.N {
		_, _, err := q.Enqueue(ctx, store.QueueItem{
			Transport: "test", Key: fmt.Sprintf("key%d", i%64), Payload: []byte("x"),
			NextAttempt: time.Now(), Created: time.Now(),
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	all := make(chan struct{})
	var mu sync.Mutex
	n := 0
	w := &Worker{
		Queue: q, Transport: "test", Owner: "me", Concurrency: 8, Poll: time.Hour,
		Handle: func(context.Context, store.QueueItem) error {
			mu.Lock()
			defer mu.Unlock()
			if n++; n == b.N {
				close(all)
			}
			return nil
		},
	}
	b.ResetTimer()
	startWorker(b, w)
	<-all
	b.StopTimer()
}
