package irc

import (
	"context"
	"sync"
	"time"

	"github.com/lrstanley/girc"
)

// writerQueueSize bounds the lines waiting to be sent on one connection.
const writerQueueSize = 2048

// writer owns the outgoing side of one IRC connection: a bounded queue, a
// token bucket (burst lines at once, then one per interval) and a gate that
// holds lines while the connection is not registered. girc's own flood
// control is off (AllowFlood): it would block its caller and drop lines
// while disconnected.
//
// Memory matters here (one writer per connected IRC user): the queue is a
// slice that grows with what is waiting and is released when it empties,
// and the goroutine that sends runs only while lines are queued.
//
// enqueue and setUp are safe from any goroutine.
type writer struct {
	ctx      context.Context // ends the sending goroutine
	burst    float64
	interval time.Duration
	send     func(*girc.Event)
	now      func() time.Time

	mu      sync.Mutex
	q       []*girc.Event
	running bool // a goroutine is sending
	up      bool
	wake    chan struct{} // closed and replaced when up changes to true

	// The token bucket, used by the sending goroutine only (running hands
	// it from one goroutine to the next under mu).
	tokens float64
	last   time.Time
}

func newWriter(ctx context.Context, burst int, interval time.Duration, send func(*girc.Event)) *writer {
	w := &writer{
		ctx:      ctx,
		burst:    float64(burst),
		interval: interval,
		send:     send,
		now:      time.Now,
		wake:     make(chan struct{}),
		tokens:   float64(burst),
	}
	w.last = w.now()
	return w
}

// enqueue queues a line; false when the queue is full (the caller tells the
// user, it never blocks).
func (w *writer) enqueue(e *girc.Event) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.q) >= writerQueueSize {
		return false
	}
	w.q = append(w.q, e)
	if !w.running && w.ctx.Err() == nil {
		w.running = true
		go w.run()
	}
	return true
}

// setUp opens or closes the gate.
func (w *writer) setUp(up bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if up && !w.up {
		close(w.wake)
		w.wake = make(chan struct{})
	}
	w.up = up
}

// next waits for the gate to be open and takes the first queued line; nil
// when the queue is empty (the goroutine then ends) or ctx ended.
func (w *writer) next() *girc.Event {
	for {
		w.mu.Lock()
		if len(w.q) == 0 || w.ctx.Err() != nil {
			w.running = false
			w.q = nil
			w.mu.Unlock()
			return nil
		}
		if w.up {
			e := w.q[0]
			w.q[0] = nil
			w.q = w.q[1:]
			w.mu.Unlock()
			return e
		}
		wake := w.wake
		w.mu.Unlock()
		select {
		case <-w.ctx.Done():
		case <-wake:
		}
	}
}

// run sends queued lines until the queue is empty or ctx ends.
func (w *writer) run() {
	for {
		e := w.next()
		if e == nil {
			return
		}
		now := w.now()
		w.tokens = min(w.burst, w.tokens+float64(now.Sub(w.last))/float64(w.interval))
		w.last = now
		if w.tokens < 1 {
			d := time.Duration((1 - w.tokens) * float64(w.interval))
			t := time.NewTimer(d)
			select {
			case <-w.ctx.Done():
				t.Stop()
				w.mu.Lock()
				w.running = false
				w.q = nil
				w.mu.Unlock()
				return
			case <-t.C:
			}
			w.tokens = 1
			w.last = w.now()
		}
		w.tokens--
		w.send(e)
	}
}
