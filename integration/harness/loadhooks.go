package harness

import "time"

// Hooks for long load runs (integration/ircload): process ids for CPU and
// memory figures, and draining a client's buffers so that counting a stream
// of stanzas costs neither quadratic scans nor unbounded memory.

// Pid is the xgate process id, or 0 when it does not run.
func (x *Xgate) Pid() int { return x.proc.pid() }

// Pid is the server's process id, or 0 when it does not run.
func (s *XMPPServer) Pid() int { return s.proc.pid() }

// Pid is ngircd's process id, or 0 when it does not run.
func (s *IRCServer) Pid() int { return s.proc.pid() }

// TakeAll removes every buffered stanza (also from the history that Received
// and failure reports use) and returns them with a channel that is closed
// when the next stanza arrives.
func (c *Client) TakeAll() ([]*Element, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.pending
	c.pending, c.history = nil, nil
	return out, c.notify
}

// TakeAll removes every received line (also from the transcript) and returns
// them with a channel that is signalled when a line arrives, and one closed
// when the connection has ended.
func (c *IRCClient) TakeAll() (lines []string, more, done <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.lines
	c.lines, c.all = nil, nil
	return out, c.more, c.done
}

// Write sends one line (CRLF added) without a test, for goroutines other than
// the test's. The write is bounded by DefaultTimeout; afterwards no deadline
// is left on the connection (Send leaves one, after which the reader's PONG
// would fail and the server drop the client).
func (c *IRCClient) Write(line string) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(DefaultTimeout))
	_, err := c.conn.Write([]byte(line + "\r\n"))
	_ = c.conn.SetWriteDeadline(time.Time{})
	return err
}
