package harness

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// IRCClient is a raw IRC test client: a line reader and writer on one TCP
// connection. PING is answered by the reader; every other line is kept for
// Expect.
type IRCClient struct {
	Nick string
	conn net.Conn

	mu    sync.Mutex
	lines []string      // received, not yet consumed by Expect
	all   []string      // transcript
	more  chan struct{} // signalled when a line arrives
	done  chan struct{}
}

// DialIRC connects to addr and registers nick; it returns once the server
// welcomed the client (001).
func DialIRC(t T, addr, nick string) *IRCClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("harness: irc dial %s: %v", addr, err)
	}
	c := &IRCClient{Nick: nick, conn: conn, more: make(chan struct{}, 1), done: make(chan struct{})}
	t.Cleanup(func() { c.Close() })
	go c.read()
	c.Send(t, "NICK "+nick)
	c.Send(t, "USER "+nick+" 0 * :test "+nick)
	c.Expect(t, 10*time.Second, " 001 ")
	return c
}

func (c *IRCClient) read() {
	defer close(c.done)
	r := bufio.NewReader(c.conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(line, "PING ") {
			fmt.Fprintf(c.conn, "PONG %s\r\n", line[5:])
			continue
		}
		c.mu.Lock()
		c.lines = append(c.lines, line)
		c.all = append(c.all, line)
		c.mu.Unlock()
		select {
		case c.more <- struct{}{}:
		default:
		}
	}
}

// Send writes one line (CRLF added).
func (c *IRCClient) Send(t T, line string) {
	t.Helper()
	c.SendBytes(t, []byte(line))
}

// SendBytes writes one line of raw bytes (for non-UTF-8 tests).
func (c *IRCClient) SendBytes(t T, line []byte) {
	t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.conn.Write(append(line, '\r', '\n'))
	// Clear the deadline: the reader's automatic PONG writes later, and a
	// stale deadline would make it fail (ngircd then drops the client).
	_ = c.conn.SetWriteDeadline(time.Time{})
	if err != nil {
		t.Fatalf("harness: irc %s: write: %v", c.Nick, err)
	}
}

// Expect waits for a received line that contains match, consumes it and the
// lines before it, and returns it.
func (c *IRCClient) Expect(t T, timeout time.Duration, match string) string {
	t.Helper()
	line, ok := c.Next(timeout, func(l string) bool { return strings.Contains(l, match) })
	if !ok {
		c.mu.Lock()
		tail := c.all[max(0, len(c.all)-30):]
		c.mu.Unlock()
		t.Fatalf("harness: irc %s: no line containing %q within %v; last lines:\n%s", c.Nick, match, timeout, strings.Join(tail, "\n"))
	}
	return line
}

// Next waits for a received line for which match is true, consuming the
// lines up to it; ok is false on timeout (nothing is consumed then).
func (c *IRCClient) Next(timeout time.Duration, match func(string) bool) (string, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		for i, l := range c.lines {
			if match(l) {
				c.lines = c.lines[i+1:]
				c.mu.Unlock()
				return l, true
			}
		}
		c.mu.Unlock()
		select {
		case <-c.more:
		case <-c.done:
			c.mu.Lock()
			c.mu.Unlock()
			// Connection closed: one last scan happened above.
			select {
			case <-deadline.C:
				return "", false
			case <-time.After(50 * time.Millisecond):
			}
		case <-deadline.C:
			return "", false
		}
	}
}

// Close closes the connection.
func (c *IRCClient) Close() { _ = c.conn.Close() }
