package component

import (
	"net"
	"sync/atomic"
	"time"
)

// deadlineConn guards a stream's connection against a race in mellium v0.22.0:
// Session.Send, SendIQ and the handshake turn context cancellation into
// SetDeadline(aLongTimeAgo) from a goroutine that can still run after the call
// returned, when the caller cancels its context right away (as every caller
// with a timeout does). The next write, or the first read after the handshake,
// then fails with "i/o timeout" and the stream drops for nothing.
//
// Once live is set (right after the handshake), deadlineConn ignores deadline
// changes from the session and instead bounds each Write by writeTimeout, so a
// frozen server still cannot block a writer for long; reads have no deadline
// (the keepalive notices a dead server).
type deadlineConn struct {
	net.Conn
	writeTimeout time.Duration
	live         atomic.Bool
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	if c.live.Load() && c.writeTimeout > 0 {
		if err := c.Conn.SetWriteDeadline(time.Now().Add(c.writeTimeout)); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(b)
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	if c.live.Load() {
		return nil
	}
	return c.Conn.SetDeadline(t)
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	if c.live.Load() {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	if c.live.Load() {
		return nil
	}
	return c.Conn.SetWriteDeadline(t)
}
