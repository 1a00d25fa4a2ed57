package ircconn

import (
	"net"
	"testing"
	"time"

	"github.com/lrstanley/girc"
)

// loopConn is a net.Conn whose reads return the same bytes again and
// again: the read path without a socket.
type loopConn struct {
	net.Conn
	data []byte
	off  int
}

func (l *loopConn) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

func (l *loopConn) SetReadDeadline(time.Time) error { return nil }

// BenchmarkReadParse is the connection's read path per line: framing from
// the read buffer, then girc's parser (a channel message with server-time
// and msgid tags).
func BenchmarkReadParse(b *testing.B) {
	line := "@time=2026-11-25T12:00:00.000Z;msgid=abc123 :bob!b@host.example PRIVMSG #chan :hello there, a line of usual length\r\n"
	c := New(Config{Nick: "a"})
	c.buf = make([]byte, readBuffer)
	c.registered = true
	conn := &loopConn{data: []byte(line)}
	b.ReportAllocs()
	for b.Loop() {
		l, err := c.readLine(conn)
		if err != nil {
			b.Fatal(err)
		}
		if girc.ParseEvent(l) == nil {
			b.Fatal("unparsed")
		}
	}
}
