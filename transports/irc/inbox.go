package irc

import "sync"

// inbox is a user's event queue: a bounded FIFO like a buffered channel,
// but its storage grows with what is waiting and is released when it
// empties. A channel preallocates its whole buffer (512 events are 8 KiB
// per user, connected or idle).
//
// Nothing waits on an idle inbox: the event put in an empty, idle inbox
// starts a drain (the start function given to newInbox), a goroutine that
// takes events until take reports none left, so an idle user costs no
// goroutine. running is set when a push starts a drain and cleared by the
// take that finds the inbox empty, both under mu: at most one drain runs at
// a time, and one drain's last take happens before the next one's start, so
// what the drain owns passes from one goroutine to the next.
//
// Several goroutines put; only the drain takes (or retires).
type inbox struct {
	max int
	// start starts a goroutine that drains the inbox. It is called with mu
	// held (so a close orders it), and must neither block nor use the inbox.
	start func()

	mu      sync.Mutex
	q       []any
	head    int
	running bool          // a drain is running (or starting)
	closed  bool          // refuses every push: retired or shut down
	space   chan struct{} // closed when a full inbox gets room; nil unless someone waits
}

// inboxKeep is the capacity an empty inbox keeps for the next events.
const inboxKeep = 16

func newInbox(max int, start func()) *inbox {
	return &inbox{max: max, start: start}
}

// tryPut queues ev unless the inbox is full or closed; it never waits.
func (in *inbox) tryPut(ev any) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed || len(in.q)-in.head >= in.max {
		return false
	}
	in.push(ev)
	return true
}

// put queues ev, waiting for room while the inbox is full; false when the
// inbox is closed or either stop channel closed first (a put after a stop
// never queues).
func (in *inbox) put(ev any, stop1, stop2 <-chan struct{}) bool {
	for {
		select {
		case <-stop1:
			return false
		case <-stop2:
			return false
		default:
		}
		in.mu.Lock()
		if in.closed {
			in.mu.Unlock()
			return false
		}
		if len(in.q)-in.head < in.max {
			in.push(ev)
			in.mu.Unlock()
			return true
		}
		if in.space == nil {
			in.space = make(chan struct{})
		}
		space := in.space
		in.mu.Unlock()
		select {
		case <-space:
		case <-stop1:
			return false
		case <-stop2:
			return false
		}
	}
}

// push appends ev (in.mu held, room checked, not closed) and starts a drain
// when none runs. A full backing array whose head was taken is compacted
// first, so it never outgrows the bound by more than append's slack.
func (in *inbox) push(ev any) {
	if in.head > 0 && len(in.q) == cap(in.q) {
		n := copy(in.q, in.q[in.head:])
		clear(in.q[n:])
		in.q = in.q[:n]
		in.head = 0
	}
	in.q = append(in.q, ev)
	in.wake()
}

// wake starts a drain unless one runs (in.mu held).
func (in *inbox) wake() {
	if !in.running {
		in.running = true
		in.start()
	}
}

// take returns the first waiting event. ok is false when there is none:
// the inbox is then idle and the drain that called take must end (the next
// push starts another). Only the drain calls it.
func (in *inbox) take() (ev any, ok bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := len(in.q) - in.head
	if n == 0 {
		in.running = false
		return nil, false
	}
	ev = in.q[in.head]
	in.q[in.head] = nil
	in.head++
	if in.head == len(in.q) {
		in.head = 0
		in.q = in.q[:0]
		if cap(in.q) > inboxKeep {
			in.q = nil
		}
	}
	if n == in.max {
		in.freeSpace()
	}
	return ev, true
}

// retire closes the inbox if nothing waits, and then the drain that called
// it must end; false (nothing changed) while events wait. Only the drain
// calls it.
func (in *inbox) retire() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.q)-in.head > 0 {
		return false
	}
	in.closed = true
	in.running = false
	in.q, in.head = nil, 0
	return true
}

// close shuts the inbox down: the events waiting are dropped, final is
// queued as the last event (a drain starts for it if none runs), and every
// later put fails, including those waiting for room. It reports whether
// the inbox was open; closing a closed inbox changes nothing. As no drain
// starts after close, whoever waits for the drains (Transport.Run) may
// start waiting once every inbox is closed.
func (in *inbox) close(final any) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return false
	}
	in.closed = true
	in.q, in.head = []any{final}, 0
	in.freeSpace()
	in.wake()
	return true
}

// freeSpace wakes the puts waiting for room (in.mu held).
func (in *inbox) freeSpace() {
	if in.space != nil {
		close(in.space)
		in.space = nil
	}
}
