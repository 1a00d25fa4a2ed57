package irc

import "sync"

// inbox is a user's event queue: a bounded FIFO like a buffered channel,
// but its storage grows with what is waiting and is released when it
// empties. A channel preallocates its whole buffer (512 events are 8 KiB
// per user, connected or idle).
//
// Several goroutines put; one (the user's) takes.
type inbox struct {
	max int
	// ready has a token while events wait; the taker selects on it.
	ready chan struct{}

	mu    sync.Mutex
	q     []any
	head  int
	space chan struct{} // closed when a full inbox gets room; nil unless someone waits
}

// inboxKeep is the capacity an empty inbox keeps for the next events.
const inboxKeep = 16

func newInbox(max int) *inbox {
	return &inbox{max: max, ready: make(chan struct{}, 1)}
}

// len is the number of waiting events.
func (in *inbox) len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.q) - in.head
}

// tryPut queues ev unless the inbox is full; it never waits.
func (in *inbox) tryPut(ev any) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.q)-in.head >= in.max {
		return false
	}
	in.push(ev)
	return true
}

// put queues ev, waiting for room while the inbox is full; false when
// either stop channel closed first.
func (in *inbox) put(ev any, stop1, stop2 <-chan struct{}) bool {
	for {
		in.mu.Lock()
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

// push appends ev (in.mu held and room checked). A full backing array
// whose head was taken is compacted first, so it never outgrows the bound
// by more than append's slack.
func (in *inbox) push(ev any) {
	if in.head > 0 && len(in.q) == cap(in.q) {
		n := copy(in.q, in.q[in.head:])
		clear(in.q[n:])
		in.q = in.q[:n]
		in.head = 0
	}
	in.q = append(in.q, ev)
	in.signal()
}

// signal gives ready its token (in.mu held).
func (in *inbox) signal() {
	select {
	case in.ready <- struct{}{}:
	default:
	}
}

// take returns the first waiting event; ok is false when there is none. The
// taker calls it after receiving from ready; ready keeps a token while more
// events wait.
func (in *inbox) take() (ev any, ok bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := len(in.q) - in.head
	if n == 0 {
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
	} else {
		in.signal()
	}
	if n == in.max && in.space != nil {
		close(in.space)
		in.space = nil
	}
	return ev, true
}
