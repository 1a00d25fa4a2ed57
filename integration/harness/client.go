package harness

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
)

// DefaultTimeout is how long Client.IQ waits for an answer.
const DefaultTimeout = 10 * time.Second

// Client is a real XMPP client (mellium.im/xmpp) logged in to an XMPPServer
// over plaintext c2s with SASL PLAIN and a bound resource. Everything it
// receives is buffered; Expect takes the next stanza that matches. Its methods
// may be called from any goroutine, but they fail the test through the T they
// are given, so call them from the test's goroutine.
type Client struct {
	// JID is the full JID the server bound ("alice@localhost/res").
	JID string
	// Bare is the bare JID ("alice@localhost").
	Bare string

	session *xmpp.Session
	conn    net.Conn

	mu       sync.Mutex
	pending  []*Element    // received, not yet taken by Expect
	history  []*Element    // everything received, for Received and failure reports
	notify   chan struct{} // closed and replaced whenever a stanza arrives
	done     chan struct{} // closed when the stream has ended
	serveErr error
	closed   bool
}

// LoginOption changes what Login does after binding.
type LoginOption func(*loginConfig)

type loginConfig struct {
	presence, roster bool
}

// WithoutPresence skips the initial presence: the server then keeps chat
// messages for the account offline instead of routing them to this client.
func WithoutPresence() LoginOption { return func(c *loginConfig) { c.presence = false } }

// WithoutRoster skips the roster request. Without it a server does not push
// subscription requests to this resource (RFC 6121 "interested resource").
func WithoutRoster() LoginOption { return func(c *loginConfig) { c.roster = false } }

// Login connects user (a localpart on srv.Domain, or a bare JID on one of its
// hosts) with password pass and resource (random when empty), then by default
// fetches the roster and sends initial presence. The client is closed by the
// test's cleanup; what it received is printed if the test fails.
func Login(t T, srv *XMPPServer, user, pass, resource string, opts ...LoginOption) *Client {
	t.Helper()
	cfg := loginConfig{presence: true, roster: true}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := Dial(context.Background(), srv.C2SAddr, qualify(user, srv.Domain), pass, resource)
	if err != nil {
		t.Fatalf("harness: %s: login %s: %v", srv.Kind, user, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("----- client %s received -----\n%s----- end of client %s -----", c.JID, c.transcript(100), c.JID)
		}
		c.close()
	})
	if cfg.roster {
		if r := c.IQ(t, "<iq type='get'><query xmlns='jabber:iq:roster'/></iq>"); r.Type() != "result" {
			t.Fatalf("harness: %s: roster get: %s", c.JID, r)
		}
	}
	if cfg.presence {
		c.Send(t, "<presence/>")
	}
	return c
}

func qualify(user, domain string) string {
	if strings.Contains(user, "@") {
		return user
	}
	return user + "@" + domain
}

// Dial is Login without a test: it connects and binds, and does not send
// presence or fetch the roster. End it with Disconnect.
func Dial(ctx context.Context, addr, bareJID, pass, resource string) (*Client, error) {
	if resource == "" {
		resource = "h" + randomHex(4)
	}
	origin, err := jid.Parse(bareJID + "/" + resource)
	if err != nil {
		return nil, fmt.Errorf("harness: client: parse %q: %w", bareJID, err)
	}
	// The negotiation context is cancelled only well after success: mellium
	// watches it from a goroutine that may otherwise set the connection's
	// deadline to the past after negotiation (see writeDeadlineConn).
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("harness: client: dial %s: %w", addr, err)
	}
	conn = writeDeadlineConn{conn}
	// The stream is plaintext on loopback: mark it Secure so mellium offers
	// SASL PLAIN (it negotiates SASL only on secure streams).
	s, err := xmpp.NewSession(ctx, origin.Domain(), origin, conn, xmpp.Secure,
		xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
			return xmpp.StreamConfig{Features: []xmpp.StreamFeature{
				xmpp.SASL("", pass, sasl.Plain),
				bindResource(),
			}}
		}))
	if err != nil {
		cancel()
		conn.Close()
		return nil, fmt.Errorf("harness: client: negotiate %s: %w", origin, err)
	}
	time.AfterFunc(time.Minute, cancel)
	c := &Client{
		JID:     s.LocalAddr().String(),
		Bare:    s.LocalAddr().Bare().String(),
		session: s,
		conn:    conn,
		notify:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	go c.serve()
	return c, nil
}

// writeDeadlineConn bounds every write by DefaultTimeout. The client never
// passes a cancellable context to Session.Send: mellium v0.22.0 arms a
// goroutine per Send that sets the write deadline to the past when the
// context ends, and when the context is cancelled right after Send returns
// that goroutine may fire during the next write, which then fails with
// "i/o timeout" (seen in a burst of messages).
type writeDeadlineConn struct{ net.Conn }

func (c writeDeadlineConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(DefaultTimeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// bindResource is resource binding (RFC 6120 §7) for the client side. It
// replaces mellium's BindResource, which in v0.22.0 sends an empty <resource/>
// whatever the JID's resourcepart (the server then picks one).
func bindResource() xmpp.StreamFeature {
	const nsBind = "urn:ietf:params:xml:ns:xmpp-bind"
	return xmpp.StreamFeature{
		Name:       xml.Name{Space: nsBind, Local: "bind"},
		Necessary:  xmpp.Authn,
		Prohibited: xmpp.Ready,
		Parse: func(ctx context.Context, d *xml.Decoder, start *xml.StartElement) (bool, interface{}, error) {
			return true, nil, d.Skip()
		},
		Negotiate: func(ctx context.Context, session *xmpp.Session, data interface{}) (xmpp.SessionState, io.ReadWriter, error) {
			id := "bind" + randomHex(4)
			req := fmt.Sprintf("<iq xmlns='jabber:client' type='set' id='%s'><bind xmlns='%s'><resource>%s</resource></bind></iq>",
				id, nsBind, xmlEscape(session.LocalAddr().Resourcepart()))
			toks, _, err := stanzaTokens(req)
			if err != nil {
				return 0, nil, err
			}
			w := session.TokenWriter()
			defer w.Close()
			if _, err := xmlstream.Copy(w, &sliceReader{toks: toks}); err != nil {
				return 0, nil, err
			}
			if err := w.Flush(); err != nil {
				return 0, nil, err
			}
			r := session.TokenReader()
			defer r.Close()
			for {
				tok, err := r.Token()
				if err != nil {
					return 0, nil, fmt.Errorf("bind: %w", err)
				}
				start, ok := tok.(xml.StartElement)
				if !ok {
					continue
				}
				resp, err := ReadElement(r, start)
				if err != nil {
					return 0, nil, fmt.Errorf("bind: %w", err)
				}
				if resp.Name.Local != "iq" || resp.ID() != id {
					return 0, nil, fmt.Errorf("bind: unexpected %s", resp)
				}
				if resp.Type() != "result" {
					return 0, nil, fmt.Errorf("bind refused: %s", resp)
				}
				full, err := jid.Parse(resp.Find("bind", "jid").Text)
				if err != nil {
					return 0, nil, fmt.Errorf("bind: server sent %s: %w", resp, err)
				}
				session.UpdateAddr(full)
				return xmpp.Ready, nil, nil
			}
		},
	}
}

// serve reads the stream until it ends. Per mellium's rule, the handler never
// calls the session's send methods: it answers through the encoder it is given.
func (c *Client) serve() {
	err := c.session.Serve(xmpp.HandlerFunc(func(rw xmlstream.TokenReadEncoder, start *xml.StartElement) error {
		el, err := ReadElement(rw, *start)
		if err != nil {
			return err
		}
		if el.Name.Local == "iq" && (el.Type() == "get" || el.Type() == "set") && autoAnswer(el) {
			if err := answerResult(rw, el); err != nil {
				return err
			}
		}
		c.mu.Lock()
		c.pending = append(c.pending, el)
		c.history = append(c.history, el)
		close(c.notify)
		c.notify = make(chan struct{})
		c.mu.Unlock()
		return nil
	}))
	c.mu.Lock()
	c.serveErr = err
	c.mu.Unlock()
	close(c.done)
}

// autoAnswer says which requests the client acknowledges itself: roster
// pushes (RFC 6121 §2.1.6) and pings. Other requests get mellium's default
// service-unavailable; all of them are still buffered for Expect.
func autoAnswer(iq *Element) bool {
	return iq.ChildNS("jabber:iq:roster", "query") != nil || iq.ChildNS("urn:xmpp:ping", "ping") != nil
}

func answerResult(w xmlstream.TokenWriter, iq *Element) error {
	attrs := []xml.Attr{{Name: xml.Name{Local: "type"}, Value: "result"}, {Name: xml.Name{Local: "id"}, Value: iq.ID()}}
	if f := iq.From(); f != "" {
		attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "to"}, Value: f})
	}
	start := xml.StartElement{Name: xml.Name{Local: "iq"}, Attr: attrs}
	if err := w.EncodeToken(start); err != nil {
		return err
	}
	return w.EncodeToken(start.End())
}

// Done is closed when the stream has ended (server stopped, stream error,
// Close).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the stream ended (nil while it runs or after a clean close).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.serveErr
}

// Send writes one raw stanza, for example
// `<message to='x@sms.localhost' type='chat'><body>hi</body></message>`.
// Unprefixed elements without xmlns are in jabber:client; an id is added to a
// stanza that has none.
func (c *Client) Send(t T, raw string) {
	t.Helper()
	if err := c.SendRaw(raw); err != nil {
		t.Fatalf("harness: %s: send: %v", c.JID, err)
	}
}

// SendRaw is Send without a test. Writes are bounded by DefaultTimeout.
func (c *Client) SendRaw(raw string) error {
	toks, _, err := stanzaTokens(raw)
	if err != nil {
		return err
	}
	// Background: see writeDeadlineConn.
	return c.session.Send(context.Background(), &sliceReader{toks: toks})
}

// SendMessage sends a chat message with body to to and returns its id.
func (c *Client) SendMessage(t T, to, body string) string {
	t.Helper()
	id := "m" + randomHex(6)
	c.Send(t, fmt.Sprintf("<message type='chat' to='%s' id='%s'><body>%s</body></message>", xmlEscape(to), id, xmlEscape(body)))
	return id
}

// IQ sends the raw iq (an id is added when it has none) and waits up to
// DefaultTimeout for the result or error with the same id, which it returns.
// It fails the test on timeout, not on an error reply: check reply.Type().
func (c *Client) IQ(t T, raw string) *Element {
	t.Helper()
	toks, id, err := stanzaTokens(raw)
	if err != nil {
		t.Fatalf("harness: %s: iq: %v", c.JID, err)
	}
	// Background: see writeDeadlineConn.
	if err := c.session.Send(context.Background(), &sliceReader{toks: toks}); err != nil {
		t.Fatalf("harness: %s: send iq: %v", c.JID, err)
	}
	return c.Expect(t, DefaultTimeout, All(Name("iq"), ID(id), func(e *Element) bool {
		return e.Type() == "result" || e.Type() == "error"
	}))
}

// Expect waits up to timeout for the next received stanza matching match
// (earliest first, including stanzas received before the call), removes it
// from the buffer and returns it. It fails the test on timeout, listing what
// arrived meanwhile.
func (c *Client) Expect(t T, timeout time.Duration, match Match) *Element {
	t.Helper()
	el, ok := c.Next(timeout, match)
	if !ok {
		t.Fatalf("harness: %s: no matching stanza within %v; unmatched stanzas buffered:\n%s", c.JID, timeout, c.pendingText())
	}
	return el
}

// Next is Expect without the test: ok is false on timeout.
func (c *Client) Next(timeout time.Duration, match Match) (el *Element, ok bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		for i, p := range c.pending {
			if match(p) {
				c.pending = append(c.pending[:i:i], c.pending[i+1:]...)
				c.mu.Unlock()
				return p, true
			}
		}
		notify := c.notify
		c.mu.Unlock()
		select {
		case <-notify:
		case <-deadline.C:
			return nil, false
		}
	}
}

// Received returns every stanza received so far that matches (taken by Expect
// or not), in arrival order.
func (c *Client) Received(match Match) []*Element {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Element
	for _, e := range c.history {
		if match == nil || match(e) {
			out = append(out, e)
		}
	}
	return out
}

func (c *Client) pendingText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, p := range c.pending {
		b.WriteString("  " + p.String() + "\n")
	}
	if b.Len() == 0 {
		return "  (none)\n"
	}
	return b.String()
}

func (c *Client) transcript(last int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.history
	var b strings.Builder
	if len(h) > last {
		fmt.Fprintf(&b, "[... %d earlier stanzas ...]\n", len(h)-last)
		h = h[len(h)-last:]
	}
	for _, e := range h {
		b.WriteString(e.String() + "\n")
	}
	return b.String()
}

// Close ends the stream and waits briefly for the server to close its side.
func (c *Client) Close(t T) {
	t.Helper()
	c.close()
}

// Disconnect is Close without a test.
func (c *Client) Disconnect() { c.close() }

func (c *Client) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	_ = c.session.Close()
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
	}
	_ = c.conn.Close()
	<-c.done
}

// stanzaTokens parses raw into tokens ready for Session.Send: namespace
// declarations dropped (names carry their namespace), an id added to the
// top-level element when missing. It returns the id.
func stanzaTokens(raw string) ([]xml.Token, string, error) {
	d := xml.NewDecoder(strings.NewReader(raw))
	var toks []xml.Token
	var id string
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			if depth == 0 && len(toks) > 0 {
				return toks, id, nil
			}
			return nil, "", fmt.Errorf("harness: parse stanza %q: %w", raw, err)
		}
		switch tt := tok.(type) {
		case xml.StartElement:
			tt = tt.Copy()
			tt.Attr = copyAttrs(tt.Attr)
			if depth == 0 {
				for _, a := range tt.Attr {
					if a.Name.Local == "id" {
						id = a.Value
					}
				}
				if id == "" {
					id = "h" + randomHex(6)
					tt.Attr = append(tt.Attr, xml.Attr{Name: xml.Name{Local: "id"}, Value: id})
				}
			}
			depth++
			toks = append(toks, tt)
		case xml.EndElement:
			depth--
			toks = append(toks, tt)
			if depth == 0 {
				return toks, id, nil
			}
		case xml.CharData:
			if depth > 0 {
				toks = append(toks, tt.Copy())
			}
		}
	}
}

type sliceReader struct {
	toks []xml.Token
}

func (r *sliceReader) Token() (xml.Token, error) {
	if len(r.toks) == 0 {
		return nil, io.EOF
	}
	t := r.toks[0]
	r.toks = r.toks[1:]
	return t, nil
}
