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
// enqueue and setUp are safe from any goroutine; run is the writer's own.
type writer struct {
	q        chan *girc.Event
	burst    float64
	interval time.Duration
	send     func(*girc.Event)
	now      func() time.Time

	mu   sync.Mutex
	up   bool
	wake chan struct{} // closed and replaced when up changes to true
}

func newWriter(burst int, interval time.Duration, send func(*girc.Event)) *writer {
	return &writer{
		q:        make(chan *girc.Event, writerQueueSize),
		burst:    float64(burst),
		interval: interval,
		send:     send,
		now:      time.Now,
		wake:     make(chan struct{}),
	}
}

// enqueue queues a line; false when the queue is full (the caller tells the
// user, it never blocks).
func (w *writer) enqueue(e *girc.Event) bool {
	select {
	case w.q <- e:
		return true
	default:
		return false
	}
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

// waitUp waits for the gate to be open.
func (w *writer) waitUp(ctx context.Context) bool {
	for {
		w.mu.Lock()
		up, wake := w.up, w.wake
		w.mu.Unlock()
		if up {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-wake:
		}
	}
}

// drain drops every queued line (the connection is gone for good).
func (w *writer) drain() {
	for {
		select {
		case <-w.q:
		default:
			return
		}
	}
}

// run sends queued lines until ctx ends.
func (w *writer) run(ctx context.Context) {
	tokens := w.burst
	last := w.now()
	for {
		var e *girc.Event
		select {
		case <-ctx.Done():
			return
		case e = <-w.q:
		}
		if !w.waitUp(ctx) {
			return
		}
		now := w.now()
		tokens = min(w.burst, tokens+float64(now.Sub(last))/float64(w.interval))
		last = now
		if tokens < 1 {
			d := time.Duration((1 - tokens) * float64(w.interval))
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
			tokens = 1
			last = w.now()
		}
		tokens--
		w.send(e)
	}
}
