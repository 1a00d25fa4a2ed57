// Package ircconn is one IRC client connection that costs little to keep
// open: the goroutine that calls Run is the only one it has. It dials,
// registers (PASS, WEBIRC, IRCv3 capability negotiation with SASL PLAIN or
// EXTERNAL, NICK, USER), answers the server's PINGs, pings an idle server
// and hands every other line, parsed by girc, to the caller. Any goroutine
// may Write.
//
// girc's Client keeps six goroutines, a per-line goroutine, two 4 KiB
// buffers and ~45 handler maps per connection (about 50 KiB), which a
// gateway holding one connection per user cannot afford; its message model
// (girc.Event, ParseEvent, Bytes) is used as it is.
package ircconn

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/lrstanley/girc"
)

// Defaults for the zero values of Config.
const (
	defaultPingInterval = 60 * time.Second
	defaultPingTimeout  = 30 * time.Second
	defaultRegisterWait = 60 * time.Second
	dialTimeout         = 10 * time.Second
	writeTimeout        = 30 * time.Second
	quitWait            = 2 * time.Second

	// readBuffer holds a usual line with tags; longer lines grow it up to
	// maxLine (8191 bytes of tags plus 512 of message, with slack), and it
	// shrinks back once they are read.
	readBuffer = 1024
	maxLine    = 16384
)

// SASL is a SASL login: Mech is "PLAIN" (Account and Password) or
// "EXTERNAL" (the TLS client certificate).
type SASL struct {
	Mech     string
	Account  string
	Password string
}

// Config is what a connection needs.
type Config struct {
	// Addr is host:port.
	Addr string
	// TLS, when set, wraps the connection (ServerName, RootCAs and the
	// client certificate are the caller's).
	TLS *tls.Config
	// Bind is the local address to connect from ("" for any).
	Bind string
	// Dial opens the TCP connection (honouring Bind); nil uses net.Dialer.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// Slot, when set, is taken before dialing and released once the server
	// registered us (001) or the attempt ended: it bounds how many
	// connections to one server register at once, since servers refuse or
	// reset bursts of connections from one address.
	Slot func(ctx context.Context) (release func(), err error)

	Nick, User, Realname string
	// Pass is the server password (PASS), "" for none.
	Pass string
	// WebIRC are the parameters of WEBIRC (password, gateway, host name,
	// address), sent first; nil for none.
	WebIRC []string
	// Caps are the IRCv3 capabilities requested when the server offers
	// them; "sasl" is added when SASL is set.
	Caps []string
	SASL *SASL

	// PingInterval is how long the server may stay silent before we PING
	// it; PingTimeout how long we then wait for any line. RegisterTimeout
	// bounds the registration (until 001).
	PingInterval, PingTimeout, RegisterTimeout time.Duration
}

// ServerError is the server's ERROR line that ended the connection.
type ServerError struct{ Text string }

func (e *ServerError) Error() string { return e.Text }

// SASLError is a refused SASL login (902, 904, 905, 906, or a mechanism
// the server does not offer): the connection is closed.
type SASLError struct{ Text string }

func (e *SASLError) Error() string { return "SASL login refused: " + e.Text }

// TimeoutError says the server did not answer a PING, or did not finish
// the registration, in time.
type TimeoutError struct{ What string }

func (e *TimeoutError) Error() string { return "timed out " + e.What }

// ErrNotConnected is returned by Write before the connection is open or
// after it closed.
var ErrNotConnected = errors.New("irc: not connected")

// Conn is one connection. Run drives it; Write, Quit and Close may be
// called from any goroutine.
type Conn struct {
	cfg Config

	// mu guards conn, closed and quitting, briefly: the reader checks them
	// and must never wait behind a write. wmu serialises writes (a write
	// may wait for the socket up to writeTimeout).
	mu       sync.Mutex
	wmu      sync.Mutex
	conn     net.Conn
	closed   bool // Close or Quit was called: Run ends without an error
	quitting bool

	// Owned by Run's goroutine.
	buf        []byte
	r, w       int
	discarding bool // skipping the rest of an over-long line
	registered bool
	nick       string // the nick tried during registration
	offered    map[string]string
	pending    int // CAP REQs not answered yet
	capEnded   bool
	pinged     bool
	armed      time.Time // when the idle read deadline was last set
	failure    error     // the SASL failure or server ERROR to return
	release    func()    // gives the registration slot back; nil when none is held
}

// New returns a connection that is not open yet; Run opens it.
func New(cfg Config) *Conn {
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = defaultPingInterval
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = defaultPingTimeout
	}
	if cfg.RegisterTimeout <= 0 {
		cfg.RegisterTimeout = defaultRegisterWait
	}
	if cfg.User == "" {
		cfg.User = cfg.Nick
	}
	if cfg.Realname == "" {
		cfg.Realname = cfg.Nick
	}
	return &Conn{cfg: cfg, nick: cfg.Nick}
}

// Run connects, registers and reads until the connection ends, calling
// handle with every line except PING and PONG, in order, on Run's
// goroutine (handle may block: reading waits, and TCP slows the server).
// It returns nil after Close or Quit (or when ctx ends), and otherwise why
// the connection ended: a *ServerError, *SASLError, *TimeoutError, or a
// network error.
func (c *Conn) Run(ctx context.Context, handle func(*girc.Event)) error {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if c.cfg.Slot != nil {
		release, err := c.cfg.Slot(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return c.ended(err)
		}
		c.release = release
		defer c.releaseSlot()
	}
	conn, err := c.dial(ctx)
	if err != nil {
		if c.isClosed() {
			return nil
		}
		return err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		conn.Close()
		return nil
	}
	c.conn = conn
	c.mu.Unlock()
	defer c.Close()

	_ = conn.SetReadDeadline(time.Now().Add(c.cfg.RegisterTimeout))
	if err := c.register(); err != nil {
		return c.ended(err)
	}
	c.buf = make([]byte, readBuffer)
	for {
		line, err := c.readLine(conn)
		if err != nil {
			return c.ended(err)
		}
		e := girc.ParseEvent(line)
		if e == nil {
			continue // empty or malformed: nothing to act on
		}
		if c.protocol(e) {
			continue
		}
		handle(e)
		if c.failure != nil {
			return c.ended(c.failure)
		}
	}
}

// ended is Run's result for err: nil when we closed the connection.
func (c *Conn) ended(err error) error {
	if c.failure != nil {
		err = c.failure
	}
	var se *SASLError
	if c.isClosed() && !errors.As(err, &se) {
		return nil
	}
	return err
}

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// dial opens the TCP (and TLS) connection.
func (c *Conn) dial(ctx context.Context) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var conn net.Conn
	var err error
	if c.cfg.Dial != nil {
		conn, err = c.cfg.Dial(dctx, c.cfg.Addr)
	} else {
		conn, err = Dialer(c.cfg.Bind).DialContext(dctx, "tcp", c.cfg.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", c.cfg.Addr, err)
	}
	if c.cfg.TLS == nil {
		return conn, nil
	}
	tc := tls.Client(conn, c.cfg.TLS)
	if err := tc.HandshakeContext(dctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", c.cfg.Addr, err)
	}
	return tc, nil
}

// Dialer is a dialer from bind, a local IP address ("" for any).
func Dialer(bind string) *net.Dialer {
	var d net.Dialer
	if a, err := netip.ParseAddr(bind); err == nil {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(a.Unmap(), 0))
	}
	return &d
}

// Config is the connection's configuration (with defaults filled in).
func (c *Conn) Config() Config { return c.cfg }

// register sends the registration: WEBIRC and PASS first, then CAP LS
// (the server holds the registration until CAP END), NICK and USER.
func (c *Conn) register() error {
	var lines []*girc.Event
	if len(c.cfg.WebIRC) > 0 {
		lines = append(lines, &girc.Event{Command: "WEBIRC", Params: c.cfg.WebIRC})
	}
	if c.cfg.Pass != "" {
		lines = append(lines, &girc.Event{Command: girc.PASS, Params: []string{c.cfg.Pass}})
	}
	lines = append(lines,
		&girc.Event{Command: girc.CAP, Params: []string{girc.CAP_LS, "302"}},
		&girc.Event{Command: girc.NICK, Params: []string{c.cfg.Nick}},
		&girc.Event{Command: girc.USER, Params: []string{c.cfg.User, "0", "*", c.cfg.Realname}},
	)
	for _, l := range lines {
		if err := c.Write(l); err != nil {
			return err
		}
	}
	return nil
}

// Write sends one line now. The caller paces (and splits) lines.
func (c *Conn) Write(e *girc.Event) error {
	b := append(e.Bytes(), '\r', '\n')
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	conn := c.conn
	ok := conn != nil && (!c.closed || c.quitting)
	c.mu.Unlock()
	if !ok {
		return ErrNotConnected
	}
	_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := conn.Write(b); err != nil {
		return fmt.Errorf("irc: write %s: %w", e.Command, err)
	}
	return nil
}

// Quit sends QUIT with reason and closes the connection once the server
// has closed its side, or after a short wait.
func (c *Conn) Quit(reason string) {
	c.mu.Lock()
	if c.closed || c.conn == nil {
		c.closed = true
		c.mu.Unlock()
		return
	}
	c.closed, c.quitting = true, true
	conn := c.conn
	c.mu.Unlock()
	if err := c.Write(&girc.Event{Command: girc.QUIT, Params: []string{reason}}); err != nil {
		conn.Close()
		return
	}
	// Run reads until the server closes the connection (after it relayed
	// the QUIT) or this deadline passes, then closes it.
	_ = conn.SetReadDeadline(time.Now().Add(quitWait))
}

// Close closes the connection at once; Run then returns nil.
func (c *Conn) Close() error {
	c.mu.Lock()
	c.closed, c.quitting = true, false
	conn := c.conn
	c.mu.Unlock()
	if conn == nil {
		return nil
	}
	return conn.Close()
}

// readLine returns the next line without its CR LF. It keeps the
// connection alive: silence for PingInterval sends a PING, and silence
// for PingTimeout more ends the connection.
func (c *Conn) readLine(conn net.Conn) (string, error) {
	for {
		if i := bytes.IndexByte(c.buf[c.r:c.w], '\n'); i >= 0 {
			line := c.buf[c.r : c.r+i]
			c.r += i + 1
			if c.r == c.w {
				c.r, c.w = 0, 0
				if len(c.buf) > readBuffer {
					c.buf = make([]byte, readBuffer) // an over-long line is gone
				}
			}
			if c.discarding {
				c.discarding = false
				continue
			}
			return string(bytes.TrimSuffix(line, []byte{'\r'})), nil
		}
		if c.r > 0 {
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
		}
		if c.w == len(c.buf) {
			if len(c.buf) >= maxLine {
				c.discarding, c.w = true, 0 // no sane server sends this
			} else {
				c.buf = append(c.buf, make([]byte, len(c.buf))...)
			}
		}
		c.armIdle(conn)
		n, err := conn.Read(c.buf[c.w:])
		c.w += n
		if n > 0 && c.pinged {
			c.pinged, c.armed = false, time.Time{}
		}
		if err == nil {
			continue
		}
		if c.isClosed() {
			return "", err // Close or Quit: Run returns nil
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return "", fmt.Errorf("read: %w", err)
		}
		if !c.registered {
			return "", &TimeoutError{What: "waiting for the server to register us"}
		}
		if c.pinged {
			return "", &TimeoutError{What: fmt.Sprintf("waiting for an answer to PING (%s)", c.cfg.PingTimeout)}
		}
		c.pinged = true
		_ = conn.SetReadDeadline(time.Now().Add(c.cfg.PingTimeout))
		if err := c.Write(&girc.Event{Command: girc.PING, Params: []string{"xgate"}}); err != nil {
			return "", err
		}
	}
}

// armIdle moves the read deadline to PingInterval from now, at most once
// a second (a deadline is a timer update).
func (c *Conn) armIdle(conn net.Conn) {
	if !c.registered || c.pinged {
		return
	}
	now := time.Now()
	if now.Sub(c.armed) < time.Second || c.isClosed() {
		return // recently armed, or Quit's deadline must stand
	}
	_ = conn.SetReadDeadline(now.Add(c.cfg.PingInterval))
	c.armed = now
}

// protocol handles what the connection answers itself: PING, the
// capability negotiation, SASL and nick collisions during registration. It
// reports whether the line is consumed (not handed to the caller).
func (c *Conn) protocol(e *girc.Event) bool {
	switch e.Command {
	case girc.PING:
		_ = c.Write(&girc.Event{Command: girc.PONG, Params: e.Params})
		return true
	case girc.PONG:
		return true
	case girc.ERROR:
		c.failure = &ServerError{Text: e.Last()} // the server closes next
	case girc.RPL_WELCOME:
		c.registered, c.armed = true, time.Time{}
		c.releaseSlot()
	case girc.CAP:
		c.capability(e)
	case girc.AUTHENTICATE:
		c.authenticate(e)
	case girc.RPL_SASLSUCCESS, girc.ERR_SASLALREADY:
		c.endCaps()
	case girc.RPL_NICKLOCKED, girc.ERR_SASLFAIL, girc.ERR_SASLTOOLONG, girc.ERR_SASLABORTED:
		if !c.registered {
			c.failure = &SASLError{Text: e.Last()}
		}
	case girc.ERR_NICKNAMEINUSE, girc.ERR_NICKCOLLISION, girc.ERR_UNAVAILRESOURCE, girc.ERR_ERRONEUSNICKNAME:
		if !c.registered {
			c.nextNick(e.Command == girc.ERR_ERRONEUSNICKNAME)
		}
	}
	return false
}

// releaseSlot gives the registration slot back, once.
func (c *Conn) releaseSlot() {
	if c.release != nil {
		c.release()
		c.release = nil
	}
}

// nextNick tries another nick during registration: the same with "_"
// appended, or "xgate" when the server refused the nick itself.
func (c *Conn) nextNick(erroneous bool) {
	switch {
	case erroneous && c.nick != "xgate":
		c.nick = "xgate"
	case len(c.nick) < 30:
		c.nick += "_"
	default:
		c.nick = "xgate" + fmt.Sprint(time.Now().UnixNano()%10000)
	}
	_ = c.Write(&girc.Event{Command: girc.NICK, Params: []string{c.nick}})
}

// endCaps ends the capability negotiation once.
func (c *Conn) endCaps() {
	if c.capEnded {
		return
	}
	c.capEnded = true
	_ = c.Write(&girc.Event{Command: girc.CAP, Params: []string{girc.CAP_END}})
}

// capability follows CAP LS (possibly multi-line), ACK, NAK and NEW.
func (c *Conn) capability(e *girc.Event) {
	if len(e.Params) < 3 {
		return
	}
	sub, list := e.Params[1], e.Last()
	switch sub {
	case girc.CAP_LS, girc.CAP_NEW:
		if c.offered == nil {
			c.offered = map[string]string{}
		}
		for _, tok := range strings.Fields(list) {
			name, val, _ := strings.Cut(tok, "=")
			c.offered[name] = val
		}
		if sub == girc.CAP_LS && len(e.Params) > 3 && e.Params[2] == "*" {
			return // more LS lines follow
		}
		want := c.wanted()
		c.offered = nil
		if len(want) == 0 {
			if sub == girc.CAP_LS {
				c.endCaps()
			}
			return
		}
		c.pending++
		_ = c.Write(&girc.Event{Command: girc.CAP, Params: []string{girc.CAP_REQ, strings.Join(want, " ")}})
	case girc.CAP_ACK, girc.CAP_NAK:
		c.pending--
		if c.capEnded || c.registered {
			return
		}
		if sub == girc.CAP_ACK && c.cfg.SASL != nil && hasCap(list, "sasl") {
			_ = c.Write(&girc.Event{Command: girc.AUTHENTICATE, Params: []string{c.cfg.SASL.Mech}})
			return
		}
		if c.pending <= 0 {
			c.endCaps()
		}
	}
}

// wanted is what to request of the offered capabilities.
func (c *Conn) wanted() []string {
	var want []string
	for _, name := range c.cfg.Caps {
		if _, ok := c.offered[name]; ok {
			want = append(want, name)
		}
	}
	if s := c.cfg.SASL; s != nil && !c.registered {
		if mechs, ok := c.offered["sasl"]; ok {
			if mechs != "" && !hasCap(strings.ReplaceAll(mechs, ",", " "), s.Mech) {
				c.failure = &SASLError{Text: "the server offers SASL " + mechs + ", not " + s.Mech}
				return nil
			}
			want = append(want, "sasl")
		}
	}
	return want
}

// hasCap reports whether the space-separated list has name (a "-name"
// in an ACK is a removal, not a match).
func hasCap(list, name string) bool {
	for _, tok := range strings.Fields(list) {
		if n, _, _ := strings.Cut(tok, "="); strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}
