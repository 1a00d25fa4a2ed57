package irc

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"xgate/transports"
)

// outQueueSize bounds the stanzas waiting for the XMPP stream.
const outQueueSize = 8192

// outbound is the single queue of stanzas to XMPP users. Its goroutine
// writes them in order with Uplink.Send; while the stream is down it waits
// and retries, so a short outage loses nothing. When the queue is full the
// newest stanza is dropped and counted in the log: IRC is live, and the
// user goroutines must never block on the XMPP side.
type outbound struct {
	q   chan *el
	log *slog.Logger
}

func newOutbound(log *slog.Logger) *outbound {
	return &outbound{q: make(chan *el, outQueueSize), log: log}
}

// send queues a stanza. Safe from any goroutine; never blocks.
func (o *outbound) send(e *el) {
	select {
	case o.q <- e:
	default:
		o.log.Warn("xmpp output queue full: dropped a stanza", "stanza", e.name.Local)
	}
}

// run writes queued stanzas until ctx ends.
func (o *outbound) run(ctx context.Context, up transports.Uplink) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-o.q:
			for wait := 50 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
				err := up.Send(ctx, e.reader())
				if err == nil || !errors.Is(err, transports.ErrStreamDown) {
					if err != nil && ctx.Err() == nil {
						o.log.Warn("send stanza", "err", err)
					}
					break
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
		}
	}
}
