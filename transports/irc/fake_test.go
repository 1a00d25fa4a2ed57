package irc

import (
	"bytes"
	"context"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/lrstanley/girc"

	"xgate/transports"
	"xgate/transports/irc/ircconn"
)

// fakeNet is a fake IRC server for unit tests: sessions "connect" at once,
// lines the transport writes arrive on lines, and the test plays the
// server's lines with recv.
type fakeNet struct {
	t     *testing.T
	tr    *Transport
	conns chan fakeConn
	lines chan string
}

type fakeConn struct {
	s *session
	c *ircconn.Conn
}

const fakeDomain = "irc.gw"
const fakeHost = "irc.test"

// newFake starts a transport on the fake network; opts change its Config.
func newFake(t *testing.T, opts ...func(*Config)) *fakeNet {
	t.Helper()
	cfg := Config{Domain: fakeDomain, Version: "1.0-test", Networks: []Network{
		{Host: fakeHost, Plaintext: true, Burst: 1000, Interval: time.Millisecond},
	}}
	for _, o := range opts {
		o(&cfg)
	}
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNet{t: t, tr: tr, conns: make(chan fakeConn, 8), lines: make(chan string, 1024)}
	tr.net = netHooks{
		dial: func(s *session, c *ircconn.Conn) { f.conns <- fakeConn{s: s, c: c} },
		send: func(_ *session, e *girc.Event) { f.lines <- e.String() },
	}
	tr.backoffMin, tr.backoffMax = 10*time.Millisecond, 20*time.Millisecond
	t.Cleanup(tr.stop)
	return f
}

// conn waits for the next connection a session opens.
func (f *fakeNet) conn() fakeConn {
	f.t.Helper()
	select {
	case c := <-f.conns:
		return c
	case <-time.After(5 * time.Second):
		f.t.Fatal("no IRC connection was opened")
	}
	return fakeConn{}
}

// noConn asserts no connection is being opened.
func (f *fakeNet) noConn() {
	f.t.Helper()
	select {
	case c := <-f.conns:
		f.t.Fatalf("unexpected connection for %s", c.s.u.jid)
	default:
	}
}

// recv plays lines from the server on fc (in order, on the user's queue).
func (f *fakeNet) recv(fc fakeConn, lines ...string) {
	f.t.Helper()
	for _, l := range lines {
		e := girc.ParseEvent(l)
		if e == nil {
			f.t.Fatalf("bad test line %q", l)
		}
		fc.s.u.post(fc.s, ircEvent{s: fc.s, c: fc.c, e: *e})
	}
}

// closed plays the connection's end.
func (f *fakeNet) closed(fc fakeConn, err error) {
	fc.s.u.post(fc.s, closedEvent{s: fc.s, c: fc.c, err: err})
}

// register plays a server's registration: 001, ISUPPORT and the CONNECTED
// event girc emits.
func (f *fakeNet) register(fc fakeConn, nick string, isupport ...string) {
	f.t.Helper()
	f.recv(fc, ":srv 001 "+nick+" :Welcome")
	if len(isupport) > 0 {
		f.recv(fc, ":srv 005 "+nick+" "+strings.Join(isupport, " ")+" :are supported")
	}
	fc.s.u.post(fc.s, ircEvent{s: fc.s, c: fc.c, e: girc.Event{Command: girc.CONNECTED}})
}

// line waits for the next line the transport writes.
func (f *fakeNet) line() string {
	f.t.Helper()
	select {
	case l := <-f.lines:
		return l
	case <-time.After(5 * time.Second):
		f.t.Fatal("no IRC line was written")
	}
	return ""
}

// expectLine waits for a line with the prefix, skipping others.
func (f *fakeNet) expectLine(prefix string) string {
	f.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case l := <-f.lines:
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			f.t.Fatalf("no IRC line starting with %q", prefix)
		}
	}
}

// send passes a stanza (XML text) to HandleStanza as the component would.
func (f *fakeNet) send(stanza string) {
	f.t.Helper()
	if !f.tr.HandleStanza(context.Background(), parseStanza(f.t, stanza)) {
		f.t.Fatalf("stanza not handled: %s", stanza)
	}
}

// parseStanza reads a stanza (XML text) as the component hands it over.
func parseStanza(t *testing.T, stanza string) transports.Stanza {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(stanza))
	var st transports.Stanza
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		tok = xml.CopyToken(tok)
		switch v := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				st.Start = v
				st.Name = v.Name.Local
				for _, a := range v.Attr {
					switch a.Name.Local {
					case "type":
						st.Type = a.Value
					case "id":
						st.ID = a.Value
					case "from":
						st.From = a.Value
					case "to":
						st.To = a.Value
					}
				}
				depth++
				continue
			}
			depth++
		case xml.EndElement:
			depth--
		}
		st.Tokens = append(st.Tokens, tok)
	}
	return st
}

// out waits for the next stanza to XMPP.
func (f *fakeNet) out() *el {
	f.t.Helper()
	select {
	case e := <-f.tr.out.q:
		return e
	case <-time.After(5 * time.Second):
		f.t.Fatal("no stanza was sent to XMPP")
	}
	return nil
}

// expect waits for a stanza to XMPP that matches, skipping others.
func (f *fakeNet) expect(what string, match func(*el) bool) *el {
	f.t.Helper()
	deadline := time.After(5 * time.Second)
	var skipped []string
	for {
		select {
		case e := <-f.tr.out.q:
			if match(e) {
				return e
			}
			skipped = append(skipped, e.String())
		case <-deadline:
			f.t.Fatalf("no stanza %s; skipped:\n%s", what, strings.Join(skipped, "\n"))
		}
	}
}

// quiet asserts nothing more is sent to XMPP for a moment (the user's
// goroutine is flushed first with a barrier event).
func (f *fakeNet) quiet(fc fakeConn) {
	f.t.Helper()
	f.flush(fc)
	select {
	case e := <-f.tr.out.q:
		f.t.Fatalf("unexpected stanza: %s", e.String())
	default:
	}
}

// flush waits until the user's goroutine handled everything posted so far
// (or ended, having nothing left).
func (f *fakeNet) flush(fc fakeConn) {
	f.t.Helper()
	done := make(chan struct{})
	f.tr.mu.Lock()
	u, ok := f.tr.users[fc.s.u.jid]
	if ok {
		u.events.put(funcEvent(func() { close(done) }), nil, nil)
	}
	f.tr.mu.Unlock()
	if !ok {
		return
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		f.t.Fatal("the user's goroutine is stuck")
	}
}

// String renders the element as XML.
func (e *el) String() string {
	var b bytes.Buffer
	enc := xml.NewEncoder(&b)
	for _, tok := range e.tokens(nil) {
		_ = enc.EncodeToken(tok)
	}
	_ = enc.Flush()
	return b.String()
}

func (e *el) attr(name string) string {
	for _, a := range e.attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// find is the first descendant named local.
func (e *el) find(local string) *el {
	for _, k := range e.kids {
		if k.name.Local == local {
			return k
		}
		if f := k.find(local); f != nil {
			return f
		}
	}
	return nil
}

// codes are the muc#user status codes of a presence, as "110,100".
func (e *el) codes() string {
	x := e.find("x")
	if x == nil {
		return ""
	}
	var out []string
	for _, k := range x.kids {
		if k.name.Local == "status" {
			out = append(out, k.attr("code"))
		}
	}
	return strings.Join(out, ",")
}

// Matchers.
func isPresence(from, to, typ string) func(*el) bool {
	return func(e *el) bool {
		return e.name.Local == "presence" && e.attr("from") == from && (to == "" || e.attr("to") == to) && e.attr("type") == typ
	}
}

func isMessage(from, to string) func(*el) bool {
	return func(e *el) bool {
		return e.name.Local == "message" && e.attr("from") == from && (to == "" || e.attr("to") == to)
	}
}
