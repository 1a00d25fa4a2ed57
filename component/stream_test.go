package component

import (
	"context"
	"encoding/xml"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/stanza"

	"xgate/transports"
)

const (
	testDomain       = "gw.localhost"
	testServerDomain = "localhost"
	testSecret       = "s3cret-Zq9-never-logged"
	waitLong         = 5 * time.Second
)

func TestStreamConnectsAndHandlesStanzas(t *testing.T) {
	got := make(chan gotStanza, 10)
	hs := startStreamHarness(t, collectStanzas(got))
	hs.waitUp()
	ev := 0
	hs.srv.next("authed", &ev, waitLong)

	// The nested body must not be mistaken for the message's own.
	hs.srv.conn(1).send(`<message from='alice@localhost/pc' to='bob@gw.localhost' id='m1' type='chat'><body>hello</body><x xmlns='urn:example'><body>nested</body></x></message>`)
	g := recv(t, got)
	if g.Name != "message" || g.ID != "m1" || g.From != "alice@localhost/pc" || g.Body != "hello" {
		t.Errorf("handler got %+v, want message m1 from alice@localhost/pc with body hello", g)
	}

	if err := hs.s.Send(context.Background(), chatMessage("alice@localhost", "hi alice")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	out := hs.srv.next("stanza", &ev, waitLong)
	if out.el.XMLName.Local != "message" || out.el.attr("to") != "alice@localhost" || !strings.Contains(out.el.Inner, "hi alice") {
		t.Errorf("server got %+v, want the message to alice", out.el)
	}
	if in, outN := testutil.ToFloat64(hs.m.stanzas.WithLabelValues(testDomain, "in")),
		testutil.ToFloat64(hs.m.stanzas.WithLabelValues(testDomain, "out")); in != 1 || outN != 1 {
		t.Errorf("stanzas in/out = %v/%v, want 1/1", in, outN)
	}
	if v := testutil.ToFloat64(hs.m.up.WithLabelValues(testDomain)); v != 1 {
		t.Errorf("stream_up = %v, want 1", v)
	}
	if n := len(hs.logs.lines("component stream up")); n != 1 {
		t.Errorf("%d 'stream up' lines, want 1:\n%s", n, hs.logs)
	}
}

func TestStreamHandlerAnswersThroughEncoderAndIsCounted(t *testing.T) {
	h := xmpp.HandlerFunc(func(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
		iq, err := stanza.NewIQ(*start)
		if err != nil {
			return err
		}
		if iq.Type != stanza.GetIQ {
			return nil
		}
		_, err = xmlstream.Copy(t, iq.Result(nil))
		return err
	})
	hs := startStreamHarness(t, h)
	hs.waitUp()
	ev := 0
	hs.srv.next("authed", &ev, waitLong)
	hs.srv.conn(1).send(`<iq type='get' id='q1' from='alice@localhost/pc' to='gw.localhost'><query xmlns='urn:example'/></iq>`)
	res := hs.srv.next("stanza", &ev, waitLong)
	if res.el.XMLName.Local != "iq" || res.el.attr("type") != "result" || res.el.attr("id") != "q1" || res.el.attr("to") != "alice@localhost/pc" {
		t.Errorf("server got %+v, want the result of q1", res.el)
	}
	if v := waitCount(hs.m.stanzas.WithLabelValues(testDomain, "out"), 1); v != 1 {
		t.Errorf("stanzas out = %v, want 1 (the handler's answer)", v)
	}
}

func TestStreamReconnects(t *testing.T) {
	tests := []struct {
		name         string
		lose         func(fc *fakeConn)
		reason       string
		errText      string
		clientClosed bool // the client answered with </stream:stream>
	}{
		{name: "graceful server close", lose: func(fc *fakeConn) { fc.closeGraceful() },
			reason: reasonClosed, errText: "the server closed the stream", clientClosed: true},
		{name: "abrupt drop", lose: func(fc *fakeConn) { fc.drop() },
			reason: reasonNetwork, errText: "the server closed the connection without ending the stream"},
		{name: "system-shutdown stream error", lose: func(fc *fakeConn) {
			fc.send(`<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>`)
		}, reason: reasonClosed, errText: "the server is shutting down (system-shutdown)"},
		{name: "conflict stream error", lose: func(fc *fakeConn) {
			fc.send(`<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced by new connection</text></stream:error></stream:stream>`)
		}, reason: reasonConflict, errText: "the server replaced this stream (conflict: Replaced by new connection)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan gotStanza, 10)
			hs := startStreamHarness(t, collectStanzas(got))
			hs.waitUp()
			ev := 0
			hs.srv.next("authed", &ev, waitLong)

			tc.lose(hs.srv.conn(1))
			hs.waitDown()
			if tc.clientClosed {
				if e := hs.srv.next("client-close", &ev, waitLong); e.conn != 1 {
					t.Errorf("client-close on conn %d, want 1", e.conn)
				}
			}
			if e := hs.srv.next("authed", &ev, waitLong); e.conn != 2 {
				t.Fatalf("authed on conn %d, want 2", e.conn)
			}
			hs.waitUp()

			// The new session works both ways.
			hs.srv.conn(2).send(`<message from='alice@localhost/pc' to='bob@gw.localhost' id='m2'><body>again</body></message>`)
			if g := recv(t, got); g.Body != "again" {
				t.Errorf("handler got %+v after reconnect", g)
			}
			if err := hs.s.Send(context.Background(), chatMessage("alice@localhost", "back")); err != nil {
				t.Fatalf("Send after reconnect: %v", err)
			}
			if e := hs.srv.next("stanza", &ev, waitLong); e.conn != 2 {
				t.Errorf("stanza on conn %d, want 2", e.conn)
			}

			if v := hs.reconnects(tc.reason); v != 1 {
				t.Errorf("reconnects{reason=%s} = %v, want 1", tc.reason, v)
			}
			if n := len(hs.logs.lines("component stream down", "reason="+tc.reason, tc.errText)); n != 1 {
				t.Errorf("%d 'stream down reason=%s' lines saying %q, want 1:\n%s", n, tc.reason, tc.errText, hs.logs)
			}
			if n := len(hs.logs.lines("component stream up")); n != 2 {
				t.Errorf("%d 'stream up' lines, want 2:\n%s", n, hs.logs)
			}
		})
	}
}

// A refused secret is retried with growing, jittered delays; each attempt logs
// at most one line, repeats are logged at warning level only on the 1st, 2nd,
// 4th… attempt, and the secret never shows.
func TestStreamWrongSecret(t *testing.T) {
	srv := newFakeServer(t, testDomain, testServerDomain, "the-right-one")
	var dialMu sync.Mutex
	var dials []time.Time
	hs := newStreamHarness(t, srv, nil, func(c *StreamConfig) {
		c.ReconnectMin, c.ReconnectMax = 10*time.Millisecond, 80*time.Millisecond
		c.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialMu.Lock()
			dials = append(dials, time.Now())
			dialMu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
	})
	hs.run()
	const attempts = 7
	hs.waitDelays(attempts)
	if err := hs.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	hs.mu.Lock()
	delays := append([]time.Duration(nil), hs.delays...)
	hs.mu.Unlock()

	for i, d := range delays {
		base := min(80*time.Millisecond, 10*time.Millisecond<<i)
		if d < base/2 || d > base {
			t.Errorf("delay %d = %v, want within [%v, %v]", i, d, base/2, base)
		}
	}
	// The attempts were at least that far apart.
	dialMu.Lock()
	for i := 1; i < len(dials) && i <= len(delays); i++ {
		if gap := dials[i].Sub(dials[i-1]); gap < delays[i-1] {
			t.Errorf("attempt %d came %v after the previous, before its delay %v", i+1, gap, delays[i-1])
		}
	}
	dialMu.Unlock()
	if n := srv.count("authed"); n != 0 {
		t.Errorf("%d successful handshakes with a wrong secret", n)
	}
	ev := 0
	for range attempts { // the server may record its last refusal after the client saw it
		srv.next("refused", &ev, waitLong)
	}

	n := len(delays) // one log line per failed attempt, before its delay
	failLines := hs.logs.lines("component stream connect failed")
	if len(failLines) != n {
		t.Errorf("%d 'connect failed' lines for %d attempts:\n%s", len(failLines), n, hs.logs)
	}
	wantLoud := 0
	for k := 1; k <= n; k++ {
		if k&(k-1) == 0 {
			wantLoud++
		}
	}
	loud := hs.logs.lines("level=ERROR", "component stream connect failed", "reason=auth", "refused the component secret")
	if len(loud) != wantLoud {
		t.Errorf("%d error lines for %d attempts, want %d (1st, 2nd, 4th…):\n%s", len(loud), n, wantLoud, hs.logs)
	}
	if v := hs.reconnects(reasonAuth); int(v) != n {
		t.Errorf("reconnects{reason=auth} = %v, want %d", v, n)
	}
	if hs.s.Up() {
		t.Error("Up() after Run returned")
	}
}

func TestStreamHandshakeConflictRetries(t *testing.T) {
	srv := newFakeServer(t, testDomain, testServerDomain, testSecret)
	srv.setMode("conflict")
	hs := newStreamHarness(t, srv, nil)
	hs.run()
	hs.waitDelays(2)
	srv.setMode("ok")
	hs.waitUp()
	if v := hs.reconnects(reasonConflict); v < 2 {
		t.Errorf("reconnects{reason=conflict} = %v, want ≥ 2", v)
	}
	if l := hs.logs.lines("level=WARN", "reason=conflict", "already connected"); len(l) == 0 {
		t.Errorf("no warning naming the conflict:\n%s", hs.logs)
	}
}

// A server that stops reading (SIGSTOP) is noticed by the keepalive within
// Keepalive+KeepaliveTimeout, and the stream reconnects.
func TestStreamFrozenServer(t *testing.T) {
	const keepalive, timeout = 100 * time.Millisecond, 150 * time.Millisecond
	hs := startStreamHarness(t, nil, func(c *StreamConfig) {
		c.Keepalive, c.KeepaliveTimeout = keepalive, timeout
	})
	hs.waitUp()
	ev := 0
	p := hs.srv.next("ping", &ev, waitLong) // answered: the keepalive works
	if p.el.attr("from") != testDomain || p.el.attr("to") != testServerDomain {
		t.Errorf("ping from %q to %q, want from %s to %s", p.el.attr("from"), p.el.attr("to"), testDomain, testServerDomain)
	}
	frozeAt := time.Now()
	hs.srv.conn(1).freeze()
	downAt := hs.waitDown()
	// Scheduling slack for -race on a busy 2-core machine.
	if took, limit := downAt.Sub(frozeAt), keepalive+timeout+400*time.Millisecond; took > limit {
		t.Errorf("frozen server noticed after %v, want ≤ %v", took, limit)
	}
	if e := hs.srv.next("authed", &ev, waitLong); e.conn != 2 {
		t.Fatalf("authed on conn %d, want 2", e.conn)
	}
	hs.waitUp()
	if v := hs.reconnects(reasonKeepalive); v != 1 {
		t.Errorf("reconnects{reason=keepalive} = %v, want 1", v)
	}
	if l := hs.logs.lines("component stream down", "reason=keepalive", "no answer to the keepalive ping"); len(l) != 1 {
		t.Errorf("want one 'stream down reason=keepalive' line:\n%s", hs.logs)
	}
}

// Any answer to the ping counts, an error included (a server without XEP-0199).
func TestStreamKeepaliveErrorAnswerIsAlive(t *testing.T) {
	srv := newFakeServer(t, testDomain, "other.example", testSecret) // the fake answers only pings to other.example
	hs := newStreamHarness(t, srv, xmpp.HandlerFunc(func(xmlstream.TokenReadEncoder, *xml.StartElement) error { return nil }),
		func(c *StreamConfig) { c.Keepalive, c.KeepaliveTimeout = 30*time.Millisecond, 500*time.Millisecond })
	hs.run()
	hs.waitUp()
	ev := 0
	// Answer three pings with an error, by hand.
	for i := 0; i < 3; i++ {
		p := hs.srv.next("stanza", &ev, waitLong)
		if p.el.XMLName.Local != "iq" || !strings.Contains(p.el.Inner, "urn:xmpp:ping") {
			t.Fatalf("got %+v, want a ping", p.el)
		}
		hs.srv.conn(1).send(`<iq type='error' id='` + p.el.attr("id") + `' from='localhost' to='gw.localhost'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`)
	}
	if !hs.s.Up() || hs.srv.count("accept") != 1 {
		t.Errorf("stream dropped although the pings were answered (accepts: %d)", hs.srv.count("accept"))
	}
}

func TestStreamSendWhileDown(t *testing.T) {
	t.Run("never started", func(t *testing.T) {
		s := NewStream(StreamConfig{Server: "127.0.0.1:1", Domain: testDomain, Secret: []byte("x")}, nil)
		if err := s.Send(context.Background(), chatMessage("a@localhost", "x")); !errors.Is(err, transports.ErrStreamDown) {
			t.Errorf("Send = %v, want ErrStreamDown", err)
		}
		if err := s.Post(chatMessage("a@localhost", "x")); !errors.Is(err, transports.ErrStreamDown) {
			t.Errorf("Post = %v, want ErrStreamDown", err)
		}
	})
	t.Run("secret refused", func(t *testing.T) {
		srv := newFakeServer(t, testDomain, testServerDomain, testSecret)
		srv.setMode("refuse")
		hs := newStreamHarness(t, srv, nil)
		hs.run()
		hs.waitDelays(1)
		if err := hs.s.Send(context.Background(), chatMessage("a@localhost", "x")); !errors.Is(err, transports.ErrStreamDown) {
			t.Errorf("Send = %v, want ErrStreamDown", err)
		}
	})
	t.Run("after a loss", func(t *testing.T) {
		hs := newStreamHarness(t, newFakeServer(t, testDomain, testServerDomain, testSecret), nil)
		hs.gate = make(chan struct{}) // hold the reconnection
		hs.run()
		hs.waitUp()
		hs.srv.conn(1).drop()
		hs.waitDown()
		hs.waitDelays(1)
		if err := hs.s.Send(context.Background(), chatMessage("a@localhost", "x")); !errors.Is(err, transports.ErrStreamDown) {
			t.Errorf("Send = %v, want ErrStreamDown", err)
		}
		if err := hs.s.Post(chatMessage("a@localhost", "x")); !errors.Is(err, transports.ErrStreamDown) {
			t.Errorf("Post = %v, want ErrStreamDown", err)
		}
		close(hs.gate) // let it reconnect
		hs.waitUp()
		if err := hs.s.Send(context.Background(), chatMessage("a@localhost", "y")); err != nil {
			t.Errorf("Send after reconnect: %v", err)
		}
	})
}

func TestStreamSendRejectsNonElements(t *testing.T) {
	hs := startStreamHarness(t, nil)
	hs.waitUp()
	tests := []struct {
		name string
		r    xml.TokenReader
	}{
		{"nil", nil},
		{"empty", xmlstream.MultiReader()},
		{"text", xmlstream.Token(xml.CharData("hello"))},
		{"unclosed", xmlstream.Token(xml.StartElement{Name: xml.Name{Local: "message"}})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := hs.s.Send(context.Background(), tc.r); err == nil || errors.Is(err, transports.ErrStreamDown) {
				t.Errorf("Send = %v, want a bad-input error", err)
			}
			if err := hs.s.Post(tc.r); err == nil || errors.Is(err, transports.ErrStreamDown) {
				t.Errorf("Post = %v, want a bad-input error", err)
			}
		})
	}
	if !hs.s.Up() || hs.srv.count("accept") != 1 {
		t.Error("bad input cost the stream")
	}
}

// A handler may answer through its encoder and Post more stanzas in the same
// call: neither blocks, and everything arrives.
func TestStreamPostFromHandler(t *testing.T) {
	var s *Stream
	h := xmpp.HandlerFunc(func(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
		var g gotStanza
		if err := decodeGot(t, start, &g); err != nil {
			return err
		}
		// Take the session's writer first, as an IQ answer would.
		if _, err := xmlstream.Copy(t, chatMessage("alice@localhost", "direct "+g.Body)); err != nil {
			return err
		}
		return s.Post(chatMessage("alice@localhost", "posted "+g.Body))
	})
	hs := newStreamHarness(t, newFakeServer(t, testDomain, testServerDomain, testSecret), h)
	s = hs.s
	hs.run()
	hs.waitUp()
	const n = 30
	for i := 0; i < n; i++ {
		hs.srv.conn(1).send(`<message from='alice@localhost/pc' to='bob@gw.localhost'><body>` + string(rune('a'+i%26)) + `</body></message>`)
	}
	ev := 0
	direct, posted := 0, 0
	for i := 0; i < 2*n; i++ {
		e := hs.srv.next("stanza", &ev, waitLong)
		switch {
		case strings.Contains(e.el.Inner, "direct "):
			direct++
		case strings.Contains(e.el.Inner, "posted "):
			posted++
		}
	}
	if direct != n || posted != n {
		t.Errorf("server got %d direct and %d posted answers, want %d each", direct, posted, n)
	}
	if v := waitCount(hs.m.stanzas.WithLabelValues(testDomain, "out"), 2*n); v != 2*n {
		t.Errorf("stanzas out = %v, want %d", v, 2*n)
	}
}

// waitCount returns c's value once it is want, or after waitLong. A stanza
// is counted once its write returned, which can be just after the server
// read it, so a test that saw the stanza arrive waits for the count.
func waitCount(c prometheus.Collector, want float64) float64 {
	deadline := time.Now().Add(waitLong)
	for testutil.ToFloat64(c) != want && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	return testutil.ToFloat64(c)
}

// Send from a handler that already holds the writer cannot complete; it must
// end with its context rather than hang the stream forever.
func TestStreamSendFromHandlerEndsWithContext(t *testing.T) {
	var s *Stream
	res := make(chan error, 1)
	h := xmpp.HandlerFunc(func(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
		if _, err := xmlstream.Copy(t, chatMessage("alice@localhost", "direct")); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		res <- s.Send(ctx, chatMessage("alice@localhost", "sent"))
		return nil
	})
	hs := newStreamHarness(t, newFakeServer(t, testDomain, testServerDomain, testSecret), h)
	s = hs.s
	hs.run()
	hs.waitUp()
	hs.srv.conn(1).send(`<message from='alice@localhost/pc' to='bob@gw.localhost'><body>x</body></message>`)
	if err := recv(t, res); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send from handler = %v, want context.DeadlineExceeded", err)
	}
	// The stream is still usable.
	if err := s.Send(context.Background(), chatMessage("alice@localhost", "later")); err != nil {
		t.Errorf("Send afterwards: %v", err)
	}
}

func TestStreamHandlerErrorKeepsStream(t *testing.T) {
	got := make(chan gotStanza, 10)
	inner := collectStanzas(got)
	first := true
	h := xmpp.HandlerFunc(func(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
		if first {
			first = false
			return errors.New("boom")
		}
		return inner.HandleXMPP(t, start)
	})
	hs := startStreamHarness(t, h)
	hs.waitUp()
	hs.srv.conn(1).send(`<message from='alice@localhost/pc' to='bob@gw.localhost'><body>one</body></message>`)
	hs.srv.conn(1).send(`<message from='alice@localhost/pc' to='bob@gw.localhost'><body>two</body></message>`)
	if g := recv(t, got); g.Body != "two" {
		t.Errorf("handler got %+v, want the second message", g)
	}
	if hs.srv.count("accept") != 1 || !hs.s.Up() {
		t.Error("a handler error cost the stream")
	}
	if v := testutil.ToFloat64(hs.m.errors.WithLabelValues(testDomain, "handler")); v != 1 {
		t.Errorf("errors{kind=handler} = %v, want 1", v)
	}
}

// On cancel, what was accepted is written, then </stream:stream>, and Run
// returns nil.
func TestStreamShutdown(t *testing.T) {
	hs := startStreamHarness(t, nil)
	hs.waitUp()
	const n = 5
	for i := 0; i < n; i++ {
		if err := hs.s.Post(chatMessage("alice@localhost", "bye")); err != nil {
			t.Fatalf("Post: %v", err)
		}
	}
	if err := hs.stop(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	ev := 0
	for i := 0; i < n; i++ {
		hs.srv.next("stanza", &ev, waitLong)
	}
	closed := hs.srv.next("client-close", &ev, waitLong) // after the stanzas
	if closed.conn != 1 {
		t.Errorf("client-close on conn %d", closed.conn)
	}
	if hs.s.Up() {
		t.Error("Up() after Run returned")
	}
	if v := testutil.ToFloat64(hs.m.up.WithLabelValues(testDomain)); v != 0 {
		t.Errorf("stream_up = %v after shutdown", v)
	}
	if l := hs.logs.lines("component stream closed"); len(l) != 1 {
		t.Errorf("want one 'stream closed' line:\n%s", hs.logs)
	}
	if err := hs.s.Send(context.Background(), chatMessage("a@localhost", "x")); !errors.Is(err, transports.ErrStreamDown) {
		t.Errorf("Send after shutdown = %v, want ErrStreamDown", err)
	}
}

// A server that never answers </stream:stream> does not hold the shutdown.
func TestStreamShutdownUnansweredClose(t *testing.T) {
	hs := newStreamHarness(t, newFakeServer(t, testDomain, testServerDomain, testSecret), nil)
	hs.s.closeWait = 100 * time.Millisecond
	hs.run()
	hs.waitUp()
	hs.srv.conn(1).noReply.Store(true)
	start := time.Now()
	if err := hs.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if took := time.Since(start); took < 100*time.Millisecond || took > time.Second {
		t.Errorf("shutdown took %v, want about closeWait (100ms)", took)
	}
	ev := 0
	hs.srv.next("client-close", &ev, waitLong)
}

func TestStreamShutdownWhileConnecting(t *testing.T) {
	srv := newFakeServer(t, testDomain, testServerDomain, testSecret)
	srv.setMode("refuse")
	hs := newStreamHarness(t, srv, nil, func(c *StreamConfig) { c.ReconnectMin, c.ReconnectMax = time.Hour, time.Hour })
	hs.run()
	hs.waitDelays(1) // now in a long backoff wait
	if err := hs.stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

// The backoff starts again from ReconnectMin only after a stream that stayed
// up at least ReconnectMax.
func TestStreamBackoffReset(t *testing.T) {
	hs := newStreamHarness(t, newFakeServer(t, testDomain, testServerDomain, testSecret), nil, func(c *StreamConfig) {
		c.ReconnectMin, c.ReconnectMax = 20*time.Millisecond, 200*time.Millisecond
		c.Keepalive, c.KeepaliveTimeout = 250*time.Millisecond, time.Second
	})
	hs.s.jitter = func() float64 { return 0 } // delay = base/2
	hs.run()
	hs.waitUp()
	ev := 0
	hs.srv.next("authed", &ev, waitLong)

	// Short-lived streams: no reset, the delays grow.
	hs.srv.conn(1).drop()
	hs.srv.next("authed", &ev, waitLong)
	hs.srv.conn(2).drop()
	hs.srv.next("authed", &ev, waitLong)
	// A stream that lives longer than ReconnectMax (the first ping comes
	// after Keepalive = 250ms > 200ms): reset.
	hs.srv.next("ping", &ev, waitLong)
	hs.srv.conn(3).drop()
	d := hs.waitDelays(3)
	want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 10 * time.Millisecond}
	for i := range want {
		if d[i] != want[i] {
			t.Errorf("delays = %v, want %v", d[:3], want)
			break
		}
	}
}

func TestStreamConfigErrors(t *testing.T) {
	ok := StreamConfig{Server: "127.0.0.1:1", Domain: "gw.localhost", Secret: []byte("x")}
	tests := []struct {
		name   string
		mutate func(*StreamConfig)
		want   string
	}{
		{"empty domain", func(c *StreamConfig) { c.Domain = "" }, "not a valid domain"},
		{"domain with localpart", func(c *StreamConfig) { c.Domain = "a@gw.localhost" }, "not a valid domain"},
		{"no parent to ping", func(c *StreamConfig) { c.Domain = "localhost" }, "set ServerDomain"},
		{"bad server domain", func(c *StreamConfig) { c.ServerDomain = "a@b/c" }, "server domain"},
		{"no server", func(c *StreamConfig) { c.Server = "" }, "no server address"},
		{"empty secret", func(c *StreamConfig) { c.Secret = nil }, "empty secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mutate(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), waitLong)
			defer cancel()
			err := NewStream(cfg, nil).Run(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	t.Run("parent domain is the default ping target", func(t *testing.T) {
		s := NewStream(StreamConfig{Server: "x:1", Domain: "irc.gw.example.org", Secret: []byte("x")}, nil)
		if s.cfgErr != nil || s.server.String() != "gw.example.org" {
			t.Errorf("server = %q, err = %v; want gw.example.org", s.server, s.cfgErr)
		}
	})
}

func TestStreamRunTwice(t *testing.T) {
	hs := startStreamHarness(t, nil)
	hs.waitUp()
	err := hs.s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Run = %v, want 'already running'", err)
	}
	if !hs.s.Up() {
		t.Error("second Run disturbed the first")
	}
}

func TestStreamQueueFull(t *testing.T) {
	holding := make(chan struct{})
	block := make(chan struct{})
	h := xmpp.HandlerFunc(func(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
		// Writing takes the session's writer until the handler returns, so
		// the sender cannot write and the queue fills.
		if _, err := xmlstream.Copy(t, chatMessage("alice@localhost", "hold")); err != nil {
			return err
		}
		close(holding)
		<-block
		return nil
	})
	hs := startStreamHarness(t, h, func(c *StreamConfig) { c.QueueSize = 1 })
	hs.waitUp()
	hs.srv.conn(1).send(`<message from='alice@localhost/pc' to='bob@gw.localhost'><body>x</body></message>`)
	recv(t, holding)
	var err error
	posted := 0
	for i := 0; i < 3 && err == nil; i++ { // at most one in the sender and one in the queue
		if err = hs.s.Post(chatMessage("alice@localhost", "q")); err == nil {
			posted++
		}
	}
	close(block)
	if !errors.Is(err, ErrQueueFull) {
		t.Errorf("Post on a full queue = %v, want ErrQueueFull", err)
	}
	if v := testutil.ToFloat64(hs.m.errors.WithLabelValues(testDomain, "queue_full")); v != 1 {
		t.Errorf("errors{kind=queue_full} = %v, want 1", v)
	}
	// What was accepted is written once the writer is free.
	ev := 0
	for i := 0; i < 1+posted; i++ {
		hs.srv.next("stanza", &ev, waitLong)
	}
}
