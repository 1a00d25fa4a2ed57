package transports

import (
	"context"
	"errors"
	"testing"
	"time"

	"xgate/store"
)

// A retry due before the next poll is attempted when it falls due, not at the
// poll: with Poll an hour away, the second attempt still comes.
func TestWorkerWakesForShortRetry(t *testing.T) {
	q := newFakeQueue()
	attempts := make(chan int, 4)
	w := &Worker{
		Queue: q, Transport: "test", Owner: "me", Poll: time.Hour,
		RetryMin: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond,
		Handle: func(_ context.Context, it store.QueueItem) error {
			attempts <- it.Attempts
			if it.Attempts == 0 {
				return errors.New("temporary")
			}
			return nil
		},
	}
	startWorker(t, w)
	q.add(t, "k", "x", time.Time{})
	w.Wake()
	if got := waitFor(t, attempts, "the first attempt"); got != 0 {
		t.Fatalf("first attempt saw %d earlier attempts", got)
	}
	if got := waitFor(t, attempts, "the retry, long before the next poll"); got != 1 {
		t.Fatalf("retry saw %d earlier attempts, want 1", got)
	}
}
