package component

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp"
	mcomponent "mellium.im/xmpp/component"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stream"

	"xgate/transports"
)

// Errors of the stream. Compare with errors.Is.
var (
	// ErrSecretRefused: the server answered the handshake with not-authorized,
	// that is the secret (or the domain) does not match its component config.
	// The secret itself is never part of any error or log line.
	ErrSecretRefused = errors.New("the server refused the component secret (not-authorized)")
	// ErrQueueFull: Post found the send queue full (the server is not reading
	// fast enough, or is frozen and the keepalive has not noticed yet).
	ErrQueueFull = errors.New("component: send queue is full")
)

// Defaults for the zero values of StreamConfig.
const (
	DefaultKeepalive        = 30 * time.Second
	DefaultKeepaliveTimeout = 15 * time.Second
	DefaultReconnectMin     = 500 * time.Millisecond
	DefaultReconnectMax     = 30 * time.Second
	DefaultQueueSize        = 256
)

// maxCloseWait bounds how long a graceful close waits for the server's
// </stream:stream> before dropping the connection.
const maxCloseWait = 2 * time.Second

// maxStableAfter: a stream that stayed up this long (or ReconnectMax, if
// shorter) was healthy, and the backoff starts again from ReconnectMin. A
// server that accepts the handshake and drops the stream at once (ejabberd
// with a broken domain_balancing does) thus still gets ever slower retries.
const maxStableAfter = 10 * time.Second

// Reasons a stream went down or an attempt failed: log field "reason" and the
// "reason" label of xgate_stream_reconnects_total.
const (
	reasonDial        = "dial"         // TCP connection failed
	reasonHandshake   = "handshake"    // connection dropped or timed out during the handshake
	reasonAuth        = "auth"         // secret refused (not-authorized)
	reasonConflict    = "conflict"     // another component holds the domain, or we were replaced
	reasonClosed      = "closed"       // the server ended the stream (</stream:stream>, system-shutdown)
	reasonStreamError = "stream_error" // any other stream error from the server
	reasonNetwork     = "network"      // read error: connection reset, EOF without </stream:stream>
	reasonKeepalive   = "keepalive"    // no answer to the keepalive ping in time
	reasonWrite       = "write"        // writing a stanza failed or timed out
	reasonShutdown    = "shutdown"     // Run's context ended
)

// StreamConfig configures one XEP-0114 stream for one domain.
type StreamConfig struct {
	// Server is host:port of the XMPP server's component listener.
	Server string
	// Domain is the component domain (irc.example.org).
	Domain string
	// ServerDomain is the XMPP server's own domain (config xmpp.domain), the
	// target of the keepalive ping. Empty: the parent of Domain
	// (irc.example.org → example.org); set it when that is not a host the
	// server serves, or a ping may wait for an s2s timeout.
	ServerDomain string
	// Secret is the shared component secret. It is never logged nor put in
	// an error.
	Secret []byte

	// Keepalive is the interval between XEP-0199 pings to ServerDomain;
	// KeepaliveTimeout is how long an answer may take. Any answer, result or
	// error, proves the stream alive; no answer in time closes the connection
	// and reconnects, so a dead or frozen server is noticed within
	// Keepalive+KeepaliveTimeout. KeepaliveTimeout also bounds the TCP dial,
	// the handshake and each stanza write (and, capped at 2s, the wait for
	// the server's </stream:stream> on shutdown). Zero values use the
	// defaults (30s, 15s); a negative Keepalive disables the ping.
	Keepalive, KeepaliveTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the jittered exponential backoff
	// between attempts (see Backoff). Zero values use the defaults (500ms,
	// 30s). The backoff starts again from ReconnectMin after a stream that
	// stayed up for at least ReconnectMax or 10s, whichever is shorter.
	ReconnectMin, ReconnectMax time.Duration
	// QueueSize is the capacity of the send queue shared by Send and Post.
	// Zero uses DefaultQueueSize.
	QueueSize int

	// Dial opens the TCP connection; nil uses a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives one line per state change; nil discards.
	Logger *slog.Logger
	// Metrics may be nil.
	Metrics *Metrics
}

// Stream keeps one component stream to the XMPP server up: dial, handshake,
// serve, and after any loss back off and start again with a fresh session.
//
// Goroutine safety: Send, SendElement, Post, Up, Watch and WaitUp are safe
// from any goroutine. Send and SendElement wait for the write and must not be
// called from the handler given to NewStream (while a handler runs, the
// session's writer may be held by that very handler: the call would block
// until its ctx ends). Handlers answer through the xmlstream.TokenReadEncoder
// they are given, or hand stanzas to Post, which never blocks.
//
// All writes go through one sender goroutine per connection, in the order
// Send/Post accepted them.
type Stream struct {
	cfg    StreamConfig
	h      xmpp.Handler
	log    *slog.Logger
	m      *Metrics
	domain jid.JID
	server jid.JID
	cfgErr error

	queue chan outItem

	mu      sync.Mutex
	cur     *streamLink   // the link that is up, nil while down
	changed chan struct{} // closed and replaced on every up/down transition

	running atomic.Bool

	// Test hooks, set before Run.
	wait      func(ctx context.Context, d time.Duration) error // the backoff sleep
	jitter    func() float64                                   // Backoff.Rand
	closeWait time.Duration
}

// outItem is one stanza waiting for the sender: its tokens, already read from
// the caller's reader, the link that was up when it was accepted (it is never
// written to a later connection), and for Send the channel for the result.
type outItem struct {
	link *streamLink
	toks []xml.Token
	ctx  context.Context // Send's; nil for Post
	done chan error      // nil for Post
}

func (it outItem) reply(err error) {
	if it.done != nil {
		it.done <- err // buffered: never blocks
	}
}

// NewStream returns a stream for cfg whose stanzas are handled by h. Nothing
// happens until Run. Configuration errors (invalid domain, no secret, no
// server) are returned by Run.
//
// h is called on the stream's reader goroutine for every incoming stanza
// except the answers to the stream's own keepalive pings. A handler error
// that is not a stream.Error is counted (xgate_errors_total kind "handler"),
// logged at debug level and otherwise ignored: one bad stanza must not cost
// the whole stream. A stream.Error returned by h is sent to the server and
// ends the stream. h must not block for long: the reader waits for it, and
// Run waits for the handler in progress before it reconnects or returns.
func NewStream(cfg StreamConfig, h xmpp.Handler) *Stream {
	if cfg.Keepalive == 0 {
		cfg.Keepalive = DefaultKeepalive
	}
	if cfg.KeepaliveTimeout <= 0 {
		cfg.KeepaliveTimeout = DefaultKeepaliveTimeout
	}
	if cfg.ReconnectMin <= 0 {
		cfg.ReconnectMin = DefaultReconnectMin
	}
	if cfg.ReconnectMax <= 0 {
		cfg.ReconnectMax = DefaultReconnectMax
	}
	if cfg.ReconnectMax < cfg.ReconnectMin {
		cfg.ReconnectMax = cfg.ReconnectMin
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.Dial == nil {
		d := &net.Dialer{KeepAlive: 30 * time.Second}
		cfg.Dial = d.DialContext
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Stream{
		cfg:       cfg,
		h:         h,
		m:         cfg.Metrics,
		log:       logger.With("domain", cfg.Domain),
		queue:     make(chan outItem, cfg.QueueSize),
		changed:   make(chan struct{}),
		wait:      sleepCtx,
		closeWait: min(maxCloseWait, cfg.KeepaliveTimeout),
	}
	s.domain, s.server, s.cfgErr = parseStreamAddrs(cfg)
	switch {
	case s.cfgErr != nil:
	case cfg.Server == "":
		s.cfgErr = fmt.Errorf("component: stream %s: no server address", cfg.Domain)
	case len(cfg.Secret) == 0:
		s.cfgErr = fmt.Errorf("component: stream %s: empty secret", cfg.Domain)
	}
	s.m.StreamUp(cfg.Domain, false)
	return s
}

// parseStreamAddrs parses the component domain and the keepalive target.
func parseStreamAddrs(cfg StreamConfig) (domain, server jid.JID, err error) {
	domain, err = jid.Parse(cfg.Domain)
	if err != nil || domain.Localpart() != "" || domain.Resourcepart() != "" {
		return jid.JID{}, jid.JID{}, fmt.Errorf("component: stream domain %q: not a valid domain", cfg.Domain)
	}
	target := cfg.ServerDomain
	if target == "" {
		_, parent, ok := strings.Cut(domain.Domainpart(), ".")
		if !ok || parent == "" {
			return jid.JID{}, jid.JID{}, fmt.Errorf("component: stream %s: no server domain to ping (set ServerDomain)", cfg.Domain)
		}
		target = parent
	}
	server, err = jid.Parse(target)
	if err != nil || server.Localpart() != "" || server.Resourcepart() != "" {
		return jid.JID{}, jid.JID{}, fmt.Errorf("component: stream %s: server domain %q: not a valid domain", cfg.Domain, target)
	}
	return domain, server, nil
}

// Domain is the component domain of the stream.
func (s *Stream) Domain() string { return s.cfg.Domain }

// Run keeps the stream up until ctx ends: dial → handshake → serve → on any
// loss (the server closed the stream, was killed or froze, a network error,
// the handshake was refused, a conflict) back off and reconnect with a new
// session. When ctx ends it writes what Send/Post had already accepted, closes
// the stream gracefully (</stream:stream>, waiting briefly for the server's)
// and returns nil. It returns an error only for an invalid configuration or
// when called while already running.
func (s *Stream) Run(ctx context.Context) error {
	if s.cfgErr != nil {
		return s.cfgErr
	}
	if !s.running.CompareAndSwap(false, true) {
		return fmt.Errorf("component: stream %s: Run is already running", s.cfg.Domain)
	}
	defer s.running.Store(false)
	defer s.drain()

	b := Backoff{Min: s.cfg.ReconnectMin, Max: s.cfg.ReconnectMax, Rand: s.jitter}
	var fl failureLog
	for {
		res := s.connectOnce(ctx, fl.failures+1)
		if ctx.Err() != nil {
			return nil
		}
		if res.wasUp && res.uptime >= min(s.cfg.ReconnectMax, maxStableAfter) {
			b.Reset()
		}
		delay := b.Next()
		s.m.Reconnect(s.cfg.Domain, res.reason)
		s.logFailure(&fl, res, delay)
		if s.wait(ctx, delay) != nil {
			return nil
		}
	}
}

// connResult is how one connection ended.
type connResult struct {
	wasUp  bool
	uptime time.Duration
	reason string
	err    error
}

// failureLog keeps repeated identical failures from flooding the log.
type failureLog struct {
	failures   int    // consecutive failed attempts since the stream was last up
	lastReason string // reason of the last failure
	sameCount  int    // consecutive failures with lastReason
	lastWarn   time.Time
}

// repeatLogEvery: a repeated identical failure is logged at warning level on
// the 1st, 2nd, 4th, 8th… occurrence, and at least this often; the others at
// debug level.
const repeatLogEvery = 10 * time.Minute

func (s *Stream) logFailure(fl *failureLog, res connResult, delay time.Duration) {
	errText := "<nil>"
	if res.err != nil {
		errText = res.err.Error()
	}
	if res.wasUp {
		// A state change: always logged.
		s.log.Warn("component stream down", "reason", res.reason, "err", errText,
			"uptime", res.uptime.Round(time.Millisecond), "retry_in", delay.Round(time.Millisecond))
		*fl = failureLog{}
		return
	}
	fl.failures++
	if res.reason == fl.lastReason {
		fl.sameCount++
	} else {
		fl.lastReason, fl.sameCount = res.reason, 1
	}
	now := time.Now()
	level := slog.LevelDebug
	if fl.sameCount&(fl.sameCount-1) == 0 || now.Sub(fl.lastWarn) >= repeatLogEvery {
		level = slog.LevelWarn
		if res.reason == reasonAuth {
			level = slog.LevelError
		}
		fl.lastWarn = now
	}
	s.log.Log(context.Background(), level, "component stream connect failed",
		"server", s.cfg.Server, "reason", res.reason, "err", errText,
		"attempt", fl.failures, "retry_in", delay.Round(time.Millisecond))
}

// connectOnce runs one connection from dial to teardown.
func (s *Stream) connectOnce(ctx context.Context, attempt int) connResult {
	dctx, cancel := context.WithTimeout(ctx, s.cfg.KeepaliveTimeout)
	conn, err := s.cfg.Dial(dctx, "tcp", s.cfg.Server)
	cancel()
	if err != nil {
		return connResult{reason: reasonDial, err: fmt.Errorf("component: dial %s: %w", s.cfg.Server, err)}
	}

	hctx, cancel := context.WithTimeout(ctx, s.cfg.KeepaliveTimeout)
	// NewSession honours hctx through deadlines; closing the connection too
	// makes sure no read outlives the timeout.
	stop := context.AfterFunc(hctx, func() { _ = conn.Close() })
	dc := &deadlineConn{Conn: conn, writeTimeout: s.cfg.KeepaliveTimeout}
	sess, err := mcomponent.NewSession(hctx, s.domain, s.cfg.Secret, dc)
	dc.live.Store(true) // before hctx is cancelled: see deadlineConn
	if !stop() && err == nil {
		err = hctx.Err()
	}
	cancel()
	if err != nil {
		_ = conn.Close()
		reason, err := s.classifyHandshake(err)
		return connResult{reason: reason, err: err}
	}

	l := &streamLink{
		sess:  sess,
		conn:  conn,
		dead:  make(chan struct{}),
		gone:  make(chan struct{}),
		flush: make(chan struct{}),
	}
	s.setUp(l)
	s.log.Info("component stream up", "server", s.cfg.Server, "attempt", attempt)
	return s.serve(ctx, l)
}

// classifyHandshake turns a handshake failure into a reason and an error for
// the operator. The secret is not in it: mellium's errors carry only the
// server's stream error or the I/O error.
func (s *Stream) classifyHandshake(err error) (string, error) {
	var se stream.Error
	if errors.As(err, &se) {
		switch se.Err {
		case stream.NotAuthorized.Err:
			return reasonAuth, fmt.Errorf("component: handshake for %s: %w; check that it matches the server's component configuration", s.cfg.Domain, ErrSecretRefused)
		case stream.Conflict.Err:
			return reasonConflict, fmt.Errorf("component: handshake for %s: another component is already connected for this domain (%s)", s.cfg.Domain, streamErrorText(se))
		case stream.HostUnknown.Err:
			return reasonStreamError, fmt.Errorf("component: handshake for %s: the server has no component for this domain (%s)", s.cfg.Domain, streamErrorText(se))
		}
		return reasonStreamError, fmt.Errorf("component: handshake for %s: stream error %s", s.cfg.Domain, streamErrorText(se))
	}
	return reasonHandshake, fmt.Errorf("component: handshake for %s: %w", s.cfg.Domain, err)
}

// classifyServe turns the end of Serve into a reason.
func classifyServe(err error) (string, error) {
	if err == nil {
		return reasonClosed, errors.New("component: the server closed the stream")
	}
	var se stream.Error
	if errors.As(err, &se) {
		switch se.Err {
		case stream.Conflict.Err:
			return reasonConflict, fmt.Errorf("component: the server replaced this stream (%s)", streamErrorText(se))
		case stream.SystemShutdown.Err:
			return reasonClosed, fmt.Errorf("component: the server is shutting down (%s)", streamErrorText(se))
		}
		return reasonStreamError, fmt.Errorf("component: stream error from the server: %s", streamErrorText(se))
	}
	var syn *xml.SyntaxError
	if errors.As(err, &syn) && syn.Msg == "unexpected EOF" {
		return reasonNetwork, errors.New("component: the server closed the connection without ending the stream")
	}
	return reasonNetwork, fmt.Errorf("component: read: %w", err)
}

// streamErrorText is the condition and the server's text, if any, shortened.
func streamErrorText(se stream.Error) string {
	t := se.Err
	for _, txt := range se.Text {
		if txt.Value != "" {
			t += ": " + txt.Value
			break
		}
	}
	const maxLen = 200
	if len(t) > maxLen {
		t = t[:maxLen] + "…"
	}
	return t
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setUp makes l the current link and wakes the watchers.
func (s *Stream) setUp(l *streamLink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = l
	s.notifyLocked()
	s.m.StreamUp(s.cfg.Domain, true)
}

// setDown marks the stream down if l is still the current link.
func (s *Stream) setDown(l *streamLink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != l || l == nil {
		return
	}
	s.cur = nil
	s.notifyLocked()
	s.m.StreamUp(s.cfg.Domain, false)
}

func (s *Stream) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Up reports whether the stream is up: handshake done, not yet known lost.
func (s *Stream) Up() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur != nil
}

// Watch returns the current state and a channel that is closed at the next
// up/down transition. Loop on it to follow the state without missing a change:
//
//	for {
//		up, changed := s.Watch()
//		if up { flush() }
//		select { case <-changed: case <-ctx.Done(): return }
//	}
func (s *Stream) Watch() (up bool, changed <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur != nil, s.changed
}

// WaitUp returns nil as soon as the stream is up, or ctx's error.
func (s *Stream) WaitUp(ctx context.Context) error {
	for {
		up, changed := s.Watch()
		if up {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Send writes the first element read from r (a whole stanza) and waits until
// it is written or ctx ends. It reads r completely before returning.
// It returns transports.ErrStreamDown (possibly wrapping the I/O error) when
// the stream is down or goes down before the stanza is written, and ctx's
// error if ctx ends first: the stanza may then still be written.
//
// Do not call Send from the stream's handler (see Stream); use Post.
func (s *Stream) Send(ctx context.Context, r xml.TokenReader) error {
	toks, err := bufferElement(r)
	if err != nil {
		return fmt.Errorf("component: send: %w", err)
	}
	return s.sendTokens(ctx, toks)
}

// SendElement is like Send but wraps payload in start (as mellium's
// Session.SendElement), for example
// SendElement(ctx, body, stanza.Message{To: to, From: from, Type: stanza.ChatMessage}.StartElement()).
func (s *Stream) SendElement(ctx context.Context, payload xml.TokenReader, start xml.StartElement) error {
	toks, err := bufferElement(wrapElement(payload, start))
	if err != nil {
		return fmt.Errorf("component: send: %w", err)
	}
	return s.sendTokens(ctx, toks)
}

func (s *Stream) sendTokens(ctx context.Context, toks []xml.Token) error {
	s.mu.Lock()
	l := s.cur
	s.mu.Unlock()
	if l == nil {
		return transports.ErrStreamDown
	}
	it := outItem{link: l, toks: toks, ctx: ctx, done: make(chan error, 1)}
	select {
	case s.queue <- it:
	case <-l.dead:
		return transports.ErrStreamDown
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-it.done:
		return err
	case <-l.gone:
		// The link was torn down: its sender and drain are over, so an item
		// enqueued in a race with the drain will never be written.
		select {
		case err := <-it.done:
			return err
		default:
			return transports.ErrStreamDown
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Post queues the first element read from r for the sender and returns at
// once. It reads r completely before returning, so r may read from the
// handler's input. It is safe from a handler. It returns
// transports.ErrStreamDown while the stream is down and ErrQueueFull when the
// queue is full; a nil return means the stanza will be written on the current
// stream unless that stream is lost first (then it is dropped and counted as
// xgate_errors_total kind "dropped").
func (s *Stream) Post(r xml.TokenReader) error {
	toks, err := bufferElement(r)
	if err != nil {
		return fmt.Errorf("component: post: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return transports.ErrStreamDown
	}
	select {
	case s.queue <- outItem{link: s.cur, toks: toks}:
		return nil
	default:
		s.m.Error(s.cfg.Domain, "queue_full")
		return ErrQueueFull
	}
}

// drain empties the queue after a link is gone: those stanzas were accepted
// for a stream that no longer exists.
func (s *Stream) drain() {
	for {
		select {
		case it := <-s.queue:
			s.m.Error(s.cfg.Domain, "dropped")
			it.reply(transports.ErrStreamDown)
		default:
			return
		}
	}
}
