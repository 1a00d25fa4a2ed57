package irc

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"xgate/transports"
)

// outQueueSize bounds the stanzas waiting for the XMPP stream.
const outQueueSize = 8192

// replyQueueSize bounds the error replies of HandleStanza (the XMPP
// reader) that found the main queue full.
const replyQueueSize = 256

// outbound is the single queue of stanzas to XMPP users. Its goroutine
// writes them in order with Uplink.Send (which waits for the write); while
// the stream is down it waits and retries, so a short outage loses nothing.
//
// Back-pressure: when the queue is full and the stream is up, send waits
// for room, so the user's goroutine stops taking events, its IRC readers
// stop reading and the IRC server's TCP window closes: a burst is slowed,
// not dropped. Waiting ends with the caller's ctx (the transport's
// lifetime) and when the stream goes down: a dead stream must not freeze
// the IRC side, so while it is down the queue only buffers, and a stanza
// that finds it full is dropped (logged). The XMPP reader never waits
// (post).
type outbound struct {
	q       chan *el
	replies chan *el // post's overflow, written before q
	log     *slog.Logger

	mu    sync.Mutex
	down  bool          // the last Send found the stream down
	downc chan struct{} // closed while down

	// waiting, set by tests before use, is called when send starts to wait.
	waiting func()
}

func newOutbound(log *slog.Logger) *outbound {
	return &outbound{
		q:       make(chan *el, outQueueSize),
		replies: make(chan *el, replyQueueSize),
		log:     log,
		downc:   make(chan struct{}),
	}
}

// send queues a stanza, waiting for room while the stream is up (see
// outbound). It reports whether the stanza was queued. Safe from any
// goroutine but the XMPP reader's (use post there).
func (o *outbound) send(ctx context.Context, e *el) bool {
	select {
	case o.q <- e:
		return true
	default:
	}
	for {
		down, downc := o.state()
		if down {
			select {
			case o.q <- e:
				return true
			default:
				o.log.Warn("xmpp stream down and output queue full: dropped a stanza", "stanza", e.name.Local)
				return false
			}
		}
		if o.waiting != nil {
			o.waiting()
		}
		select {
		case o.q <- e:
			return true
		case <-downc:
			// Try once more, then drop: the stream is down.
		case <-ctx.Done():
			o.log.Debug("shutting down: dropped a stanza to xmpp", "stanza", e.name.Local)
			return false
		}
	}
}

// post queues a stanza without ever waiting: for the XMPP reader's own
// answers (errors to the stanzas it cannot hand over). A full main queue
// overflows into a small queue of its own; when both are full the stanza is
// dropped (logged).
func (o *outbound) post(e *el) bool {
	select {
	case o.q <- e:
		return true
	default:
	}
	select {
	case o.replies <- e:
		return true
	default:
		o.log.Warn("xmpp output queue full: dropped an error reply", "stanza", e.name.Local)
		return false
	}
}

// state reports whether the stream is known to be down, and a channel
// closed when it goes down.
func (o *outbound) state() (bool, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.down, o.downc
}

// setDown records the stream's state as the last Send found it.
func (o *outbound) setDown(down bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case down && !o.down:
		close(o.downc)
	case !down && o.down:
		o.downc = make(chan struct{})
	}
	o.down = down
}

// run writes queued stanzas until ctx ends.
func (o *outbound) run(ctx context.Context, up transports.Uplink) {
	for {
		var e *el
		select {
		case <-ctx.Done():
			return
		case e = <-o.replies:
		case e = <-o.q:
		}
		if !o.write(ctx, up, e) {
			return
		}
	}
}

// write sends e, retrying while the stream is down; false when ctx ended.
func (o *outbound) write(ctx context.Context, up transports.Uplink, e *el) bool {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		err := up.Send(ctx, e.reader())
		if err == nil || !errors.Is(err, transports.ErrStreamDown) {
			o.setDown(false)
			if err != nil && ctx.Err() == nil {
				o.log.Warn("send stanza", "err", err)
			}
			return true
		}
		o.setDown(true)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
}
