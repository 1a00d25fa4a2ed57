package component

import (
	"bytes"
	"context"
	"crypto/sha1" // #nosec G505 -- XEP-0114 mandates SHA-1
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// fakeServer is a minimal XEP-0114 server on 127.0.0.1 for the stream tests:
// it accepts connections, checks the SHA-1 handshake, answers pings to its
// own domain and records everything else as events. Tests steer it per
// connection (close gracefully, drop, freeze, send raw XML) and per mode for
// new connections (accept, refuse the secret, conflict).
type fakeServer struct {
	t            *testing.T
	ln           net.Listener
	domain       string // the component domain it expects
	serverDomain string // its own domain, the ping target
	secret       string

	mu      sync.Mutex
	mode    string // for new connections: "ok", "refuse", "conflict"
	conns   []*fakeConn
	events  []fakeEvent
	changed chan struct{} // closed and replaced on every new event
	done    chan struct{}
	wg      sync.WaitGroup
}

type fakeEvent struct {
	kind string // accept, authed, refused, conflict, ping, stanza, client-close, eof
	conn int    // connection number, from 1
	at   time.Time
	el   fakeElement // for ping and stanza
}

// fakeElement is a top-level element as the server read it.
type fakeElement struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Inner   string     `xml:",innerxml"`
}

func (e fakeElement) attr(name string) string {
	for _, a := range e.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

type fakeConn struct {
	n        int
	c        net.Conn
	wmu      sync.Mutex
	frozen   chan struct{} // closed by freeze
	freezeMu sync.Once
	noReply  atomic.Bool // do not answer the client's </stream:stream>
	srv      *fakeServer
}

func newFakeServer(t *testing.T, domain, serverDomain, secret string) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	f := &fakeServer{
		t: t, ln: ln, domain: domain, serverDomain: serverDomain, secret: secret,
		mode: "ok", changed: make(chan struct{}), done: make(chan struct{}),
	}
	f.wg.Go(f.acceptLoop)
	t.Cleanup(f.close)
	return f
}

func (f *fakeServer) addr() string { return f.ln.Addr().String() }

func (f *fakeServer) setMode(m string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode = m
}

func (f *fakeServer) close() {
	close(f.done)
	_ = f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		_ = c.c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *fakeServer) record(ev fakeEvent) {
	ev.at = time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, ev)
	close(f.changed)
	f.changed = make(chan struct{})
}

// next waits for the first event of kind at index ≥ *from and advances *from
// past it. It fails the test after timeout.
func (f *fakeServer) next(kind string, from *int, timeout time.Duration) fakeEvent {
	f.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		for i := *from; i < len(f.events); i++ {
			if f.events[i].kind == kind {
				*from = i + 1
				ev := f.events[i]
				f.mu.Unlock()
				return ev
			}
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			f.t.Fatalf("fake server: no %q event within %s; events: %v", kind, timeout, f.kinds())
			return fakeEvent{}
		}
	}
}

// count is the number of events of kind so far.
func (f *fakeServer) count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, ev := range f.events {
		if ev.kind == kind {
			n++
		}
	}
	return n
}

func (f *fakeServer) kinds() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var k []string
	for _, ev := range f.events {
		k = append(k, fmt.Sprintf("%s#%d", ev.kind, ev.conn))
	}
	return k
}

// conn returns connection n (from 1).
func (f *fakeServer) conn(n int) *fakeConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns[n-1]
}

func (f *fakeServer) acceptLoop() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		fc := &fakeConn{n: len(f.conns) + 1, c: c, frozen: make(chan struct{}), srv: f}
		f.conns = append(f.conns, fc)
		mode := f.mode
		f.mu.Unlock()
		f.record(fakeEvent{kind: "accept", conn: fc.n})
		f.wg.Go(func() { fc.serve(mode) })
	}
}

func (fc *fakeConn) write(s string) {
	fc.wmu.Lock()
	defer fc.wmu.Unlock()
	_, _ = io.WriteString(fc.c, s)
}

// send writes raw XML (a stanza) to the client.
func (fc *fakeConn) send(raw string) { fc.write(raw) }

// closeGraceful ends the stream like a server restart: </stream:stream>, then
// the connection is closed once the client answers in kind.
func (fc *fakeConn) closeGraceful() {
	fc.write(`</stream:stream>`)
}

// drop closes the TCP connection without a word (server killed).
func (fc *fakeConn) drop() { _ = fc.c.Close() }

// freeze stops reading and answering, leaving the connection open (SIGSTOP).
func (fc *fakeConn) freeze() { fc.freezeMu.Do(func() { close(fc.frozen) }) }

func (fc *fakeConn) serve(mode string) {
	f := fc.srv
	defer fc.c.Close()
	d := xml.NewDecoder(fc.c)
	start, err := nextStart(d)
	if err != nil || start.Name.Local != "stream" {
		f.record(fakeEvent{kind: "eof", conn: fc.n})
		return
	}
	id := fmt.Sprintf("stream-%d", fc.n)
	fc.write(`<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:component:accept' id='` + id + `' from='` + f.domain + `'>`)

	hs, err := nextStart(d)
	if err != nil || hs.Name.Local != "handshake" {
		f.record(fakeEvent{kind: "eof", conn: fc.n})
		return
	}
	var h struct {
		Text string `xml:",chardata"`
	}
	if err := d.DecodeElement(&h, &hs); err != nil {
		f.record(fakeEvent{kind: "eof", conn: fc.n})
		return
	}
	sum := sha1.Sum([]byte(id + f.secret)) // #nosec G401 -- XEP-0114
	switch {
	case mode == "refuse" || strings.TrimSpace(h.Text) != hex.EncodeToString(sum[:]):
		fc.write(`<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Unable to authenticate</text></stream:error></stream:stream>`)
		f.record(fakeEvent{kind: "refused", conn: fc.n})
		return
	case mode == "conflict":
		fc.write(`<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Component already connected</text></stream:error></stream:stream>`)
		f.record(fakeEvent{kind: "conflict", conn: fc.n})
		return
	}
	fc.write(`<handshake/>`)
	f.record(fakeEvent{kind: "authed", conn: fc.n})

	for {
		tok, err := d.Token()
		if err != nil {
			f.record(fakeEvent{kind: "eof", conn: fc.n})
			return
		}
		select {
		case <-fc.frozen:
			// Frozen: what arrives is never processed. Wait to be torn down.
			<-f.done
			return
		default:
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if t.Name.Local == "stream" {
				f.record(fakeEvent{kind: "client-close", conn: fc.n})
				if fc.noReply.Load() {
					<-f.done // keep the connection open, say nothing
					return
				}
				fc.write(`</stream:stream>`)
				return
			}
		case xml.StartElement:
			var el fakeElement
			if err := d.DecodeElement(&el, &t); err != nil {
				f.record(fakeEvent{kind: "eof", conn: fc.n})
				return
			}
			if el.XMLName.Space == "http://etherx.jabber.org/streams" {
				// mellium echoes a stream error it received; not a stanza.
				f.record(fakeEvent{kind: "client-stream-" + el.XMLName.Local, conn: fc.n})
				continue
			}
			if el.XMLName.Local == "iq" && el.attr("type") == "get" && el.attr("to") == f.serverDomain &&
				strings.Contains(el.Inner, "urn:xmpp:ping") {
				select {
				case <-fc.frozen:
					<-f.done
					return
				default:
				}
				fc.write(`<iq type='result' id='` + el.attr("id") + `' from='` + f.serverDomain + `' to='` + el.attr("from") + `'/>`)
				f.record(fakeEvent{kind: "ping", conn: fc.n, el: el})
				continue
			}
			f.record(fakeEvent{kind: "stanza", conn: fc.n, el: el})
		}
	}
}

// nextStart returns the next start element, skipping the XML declaration and
// whitespace.
func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.ProcInst, xml.CharData:
		default:
			return xml.StartElement{}, errors.New("unexpected token before element")
		}
	}
}

// logBuffer collects slog output of a test, safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the log lines containing all of substrs.
func (b *logBuffer) lines(substrs ...string) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		ok := l != ""
		for _, s := range substrs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

func newTestLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// streamHarness runs a Stream against a fakeServer and records the backoff delays.
type streamHarness struct {
	t    *testing.T
	srv  *fakeServer
	s    *Stream
	logs *logBuffer
	m    *Metrics

	mu      sync.Mutex
	delays  []time.Duration
	changed chan struct{}
	gate    chan struct{} // if non-nil, each backoff wait also waits for a receive from gate

	cancel context.CancelFunc
	done   chan error
}

type streamHarnessOpt func(*StreamConfig)

func startStreamHarness(t *testing.T, h xmpp.Handler, opts ...streamHarnessOpt) *streamHarness {
	t.Helper()
	hs := newStreamHarness(t, newFakeServer(t, testDomain, testServerDomain, testSecret), h, opts...)
	hs.run()
	return hs
}

// newStreamHarness builds the stream without running it, so tests can set hooks.
func newStreamHarness(t *testing.T, srv *fakeServer, h xmpp.Handler, opts ...streamHarnessOpt) *streamHarness {
	t.Helper()
	logger, logs := newTestLogger()
	hs := &streamHarness{
		t: t, srv: srv, logs: logs,
		m:       NewMetrics(prometheus.NewRegistry()),
		changed: make(chan struct{}),
	}
	cfg := StreamConfig{
		Server:           srv.addr(),
		Domain:           testDomain,
		ServerDomain:     testServerDomain,
		Secret:           []byte(testSecret),
		Keepalive:        -1, // tests that need it turn it on
		KeepaliveTimeout: 2 * time.Second,
		ReconnectMin:     10 * time.Millisecond,
		ReconnectMax:     80 * time.Millisecond,
		Logger:           logger,
		Metrics:          hs.m,
	}
	for _, o := range opts {
		o(&cfg)
	}
	hs.s = NewStream(cfg, h)
	hs.s.wait = func(ctx context.Context, d time.Duration) error {
		hs.mu.Lock()
		hs.delays = append(hs.delays, d)
		close(hs.changed)
		hs.changed = make(chan struct{})
		gate := hs.gate
		hs.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return sleepCtx(ctx, d)
	}
	t.Cleanup(func() {
		if strings.Contains(logs.String(), string(cfg.Secret)) {
			t.Errorf("the secret appears in the log:\n%s", logs.String())
		}
	})
	return hs
}

func (hs *streamHarness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	hs.cancel = cancel
	hs.done = make(chan error, 1)
	go func() { hs.done <- hs.s.Run(ctx) }()
	hs.t.Cleanup(func() {
		cancel()
		select {
		case <-hs.done:
		case <-time.After(waitLong):
			hs.t.Error("Run did not return after cancel")
		}
	})
}

// stop cancels Run and returns its result.
func (hs *streamHarness) stop() error {
	hs.t.Helper()
	hs.cancel()
	select {
	case err := <-hs.done:
		hs.done <- err // for the cleanup
		return err
	case <-time.After(waitLong):
		hs.t.Fatal("Run did not return after cancel")
		return nil
	}
}

// waitDelays waits until at least n backoff delays were recorded.
func (hs *streamHarness) waitDelays(n int) []time.Duration {
	hs.t.Helper()
	deadline := time.After(waitLong)
	for {
		hs.mu.Lock()
		if len(hs.delays) >= n {
			d := append([]time.Duration(nil), hs.delays...)
			hs.mu.Unlock()
			return d
		}
		ch := hs.changed
		hs.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			hs.t.Fatalf("only %d backoff delays recorded, want %d", len(hs.delays), n)
		}
	}
}

func (hs *streamHarness) waitUp() {
	hs.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := hs.s.WaitUp(ctx); err != nil {
		hs.t.Fatalf("WaitUp: %v", err)
	}
}

// waitDown waits until the stream is down and returns when it noticed.
func (hs *streamHarness) waitDown() time.Time {
	hs.t.Helper()
	deadline := time.After(waitLong)
	for {
		up, changed := hs.s.Watch()
		if !up {
			return time.Now()
		}
		select {
		case <-changed:
		case <-deadline:
			hs.t.Fatal("stream still up")
		}
	}
}

func (hs *streamHarness) reconnects(reason string) float64 {
	return testutil.ToFloat64(hs.m.reconnects.WithLabelValues(testDomain, reason))
}

// gotStanza is what a test handler saw.
type gotStanza struct {
	Name string
	ID   string `xml:"id,attr"`
	Type string `xml:"type,attr"`
	From string `xml:"from,attr"`
	Body string `xml:"body"`
}

// collect is a handler that decodes each stanza onto ch.
func collectStanzas(ch chan<- gotStanza) xmpp.Handler {
	return xmpp.HandlerFunc(func(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
		var g gotStanza
		if err := decodeGot(t, start, &g); err != nil {
			return err
		}
		g.Name = start.Name.Local
		ch <- g
		return nil
	})
}

// decodeGot decodes the stanza a handler was given: t starts after start.
func decodeGot(t xml.TokenReader, start *xml.StartElement, v any) error {
	return xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t)).Decode(v)
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLong):
		t.Fatal("nothing received")
		var zero T
		return zero
	}
}

func chatMessage(to, body string) xml.TokenReader {
	return stanza.Message{
		To:   jid.MustParse(to),
		From: jid.MustParse(testDomain),
		Type: stanza.ChatMessage,
	}.Wrap(xmlstream.Wrap(xmlstream.Token(xml.CharData(body)), xml.StartElement{Name: xml.Name{Local: "body"}}))
}
