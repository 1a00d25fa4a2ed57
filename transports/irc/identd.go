package irc

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"xgate/transports/irc/ircconn"
)

// identd (RFC 1413): IRC servers ask port 113 of a connecting client which
// user owns the connection; an answer spares the user the "~" of an
// unverified name and lets the network ban one gateway user rather than
// the whole gateway.
const (
	// identTimeout bounds each query's read and its answer's write.
	identTimeout = 10 * time.Second
	// identMaxLine is the longest query line accepted (RFC 1413 queries
	// are at most "65535 , 65535" with some spaces).
	identMaxLine = 256
	// identMaxQueries is how many queries one ident connection may ask.
	identMaxQueries = 8
	// identMaxConns bounds the ident connections served at once; more are
	// closed at once.
	identMaxConns = 64
)

// identFor is the ident of a user (bare JID): up to 3 lower-case letters
// and digits of the localpart (starting with a letter: "x" is put first
// otherwise) and the first 6 hex digits of the SHA-256 of the lower-cased
// bare JID, e.g. "ali7a64ad" for alice@example.org. It is stable, at most
// 9 characters (within every server's USERLEN), and valid as an IRC user
// name.
func identFor(bare string) string {
	bare = strings.ToLower(bare)
	local, _, ok := strings.Cut(bare, "@")
	if !ok {
		local = ""
	}
	var b strings.Builder
	for _, r := range local {
		if b.Len() == 3 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			if b.Len() == 0 {
				b.WriteByte('x')
			}
			b.WriteRune(r)
		}
	}
	prefix := b.String()
	if prefix == "" {
		prefix = "x"
	}
	sum := sha256.Sum256([]byte(bare))
	return prefix + hex.EncodeToString(sum[:3])
}

// identKey is a connection as a query names it: our port, the server's.
type identKey struct{ local, remote uint16 }

// identEntry is who owns one IRC connection.
type identEntry struct {
	id    uint64
	peer  netip.Addr // the IRC server's address: only it may ask
	ident string
}

// identTable maps the open IRC connections to their users' idents. The
// dialer adds a connection before the server can ask, and its Close takes
// it out. Safe from any goroutine.
type identTable struct {
	mu   sync.Mutex
	m    map[identKey]identEntry
	next uint64
}

func (t *identTable) add(k identKey, peer netip.Addr, ident string) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[identKey]identEntry{}
	}
	t.next++
	t.m[k] = identEntry{id: t.next, peer: peer.Unmap(), ident: ident}
	return t.next
}

// remove forgets connection id (not a newer one on the same ports).
func (t *identTable) remove(k identKey, id uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.m[k]; ok && e.id == id {
		delete(t.m, k)
	}
}

// lookup is the ident of the connection k, if peer is its server.
func (t *identTable) lookup(k identKey, peer netip.Addr) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[k]
	if !ok || e.peer != peer.Unmap() {
		return "", false
	}
	return e.ident, true
}

// identDial is the dial function of s's connections when identd is on:
// it records each connection's ports in the ident table until the
// connection is closed. Without identd it is nil (ircconn dials).
func (t *Transport) identDial(s *session) func(ctx context.Context, addr string) (net.Conn, error) {
	if t.cfg.Budget.IdentdListener == nil {
		return nil
	}
	bind, ident := s.net.Bind, identFor(s.u.jid)
	return func(ctx context.Context, addr string) (net.Conn, error) {
		conn, err := ircconn.Dialer(bind).DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		la, lok := conn.LocalAddr().(*net.TCPAddr)
		ra, rok := conn.RemoteAddr().(*net.TCPAddr)
		if !lok || !rok {
			return conn, nil
		}
		k := identKey{local: uint16(la.Port), remote: uint16(ra.Port)}
		tbl := &t.budget.idents
		id := tbl.add(k, ra.AddrPort().Addr(), ident)
		return &identConn{Conn: conn, forget: func() { tbl.remove(k, id) }}, nil
	}
}

// identConn takes its connection out of the ident table when closed.
type identConn struct {
	net.Conn
	once   sync.Once
	forget func()
}

func (c *identConn) Close() error {
	c.once.Do(c.forget)
	return c.Conn.Close()
}

// serveIdentd serves identd on the configured listener until ctx ends; the
// function it returns waits for the server to stop. Without a listener it
// does nothing.
func (t *Transport) serveIdentd(ctx context.Context) (wait func()) {
	ln := t.cfg.Budget.IdentdListener
	if ln == nil {
		return func() {}
	}
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	var active atomic.Int32
	wg.Go(func() {
		defer func() {
			stop()
			ln.Close()
		}()
		for {
			conn, err := ln.Accept()
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
					return
				}
				// Out of descriptors and the like: wait a little.
				t.log.Warn("identd accept", "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
			if active.Add(1) > identMaxConns {
				active.Add(-1)
				conn.Close()
				continue
			}
			wg.Go(func() {
				defer active.Add(-1)
				unhook := context.AfterFunc(ctx, func() { conn.Close() })
				defer unhook()
				t.identSession(conn, identTimeout)
			})
		}
	})
	t.log.Info("identd listening", "addr", ln.Addr().String())
	return wg.Wait
}

// identSession answers the queries on one ident connection, then closes
// it; each query must come within timeout. Answers go only to the IRC
// server a connection goes to; anyone else learns NO-USER.
func (t *Transport) identSession(conn net.Conn, timeout time.Duration) {
	defer conn.Close()
	var peer netip.Addr
	if ra, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		peer = ra.AddrPort().Addr()
	}
	r := bufio.NewReaderSize(conn, identMaxLine)
	for range identMaxQueries {
		_ = conn.SetDeadline(time.Now().Add(timeout))
		line, err := readIdentLine(r)
		if err != nil {
			return
		}
		lport, rport, err := parseIdentQuery(line)
		var answer string
		switch {
		case errors.Is(err, errIdentPort):
			answer = fmt.Sprintf("%d , %d : ERROR : INVALID-PORT", lport, rport)
		case err != nil:
			return // not a query: nothing sensible to answer
		default:
			if id, ok := t.budget.idents.lookup(identKey{uint16(lport), uint16(rport)}, peer); ok {
				answer = fmt.Sprintf("%d , %d : USERID : UNIX : %s", lport, rport, id)
			} else {
				answer = fmt.Sprintf("%d , %d : ERROR : NO-USER", lport, rport)
			}
		}
		if _, err := conn.Write([]byte(answer + "\r\n")); err != nil {
			return
		}
	}
}

// errIdentLine is a line longer than identMaxLine.
var errIdentLine = errors.New("identd: query line too long")

// readIdentLine reads one line (without its CR LF) of at most identMaxLine
// bytes. A last line without a newline counts.
func readIdentLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", errIdentLine
	case err != nil && len(line) == 0:
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

// errIdentPort is a query whose ports are numbers but not ports.
var errIdentPort = errors.New("identd: port out of range")

// parseIdentQuery parses an RFC 1413 query, "<port-on-server> ,
// <port-on-client>" (our port first), spaces and tabs allowed around the
// numbers. Numbers outside 1-65535 give errIdentPort with the ports to
// echo (0 for one that is not a port number), anything else a plain error.
func parseIdentQuery(line string) (lport, rport int, err error) {
	a, b, ok := strings.Cut(line, ",")
	if !ok {
		return 0, 0, errors.New("identd: query without a comma")
	}
	a, b = strings.Trim(a, " \t"), strings.Trim(b, " \t")
	if !digits(a) || !digits(b) {
		return 0, 0, errors.New("identd: query ports are not numbers")
	}
	lport, lerr := strconv.Atoi(a)
	rport, rerr := strconv.Atoi(b)
	if lerr != nil || rerr != nil || lport < 1 || lport > 65535 || rport < 1 || rport > 65535 {
		return clampPort(lport, lerr), clampPort(rport, rerr), errIdentPort
	}
	return lport, rport, nil
}

// digits reports whether s is 1 to 10 ASCII digits.
func digits(s string) bool {
	if s == "" || len(s) > 10 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// clampPort is p for an echo in an INVALID-PORT answer: 0 when it is not a
// port number.
func clampPort(p int, err error) int {
	if err != nil || p < 0 || p > 65535 {
		return 0
	}
	return p
}
