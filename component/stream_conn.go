package component

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/ping"
	"mellium.im/xmpp/stanza"
	"mellium.im/xmpp/stream"

	"xgate/transports"
)

// streamLink is one connected, handshaken session. A new one is made for every
// connection; nothing of it is reused after it is gone.
type streamLink struct {
	sess *xmpp.Session
	conn net.Conn

	dead  chan struct{} // closed by kill: the connection is closed or closing
	gone  chan struct{} // closed when teardown is complete (sender stopped, queue drained)
	flush chan struct{} // closed on graceful shutdown: sender writes what is queued, then stops

	once   sync.Once
	reason string // why it died; read only after <-dead
	err    error
}

// kill closes the connection of l (once) and records why; the first reason
// wins. It marks the stream down at once so that Up, Send and Post stop
// offering a dead connection.
func (s *Stream) kill(l *streamLink, reason string, err error) {
	l.once.Do(func() {
		l.reason, l.err = reason, err
		close(l.dead)
		_ = l.conn.Close()
	})
	s.setDown(l)
}

// serve runs the reader (Serve), the sender and the keepalive of l until the
// connection ends or ctx does, then tears everything down.
func (s *Stream) serve(ctx context.Context, l *streamLink) connResult {
	start := time.Now()
	serveDone := make(chan error, 1)
	go func() { serveDone <- l.sess.Serve(streamHandler{s: s, h: s.h}) }()

	lctx, cancel := context.WithCancel(context.Background())
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		s.sender(lctx, l)
	}()
	var wg sync.WaitGroup
	if s.cfg.Keepalive > 0 {
		wg.Go(func() { s.keepalive(lctx, l) })
	}

	var serveErr error
	select {
	case serveErr = <-serveDone:
	case <-l.dead:
		serveErr = <-serveDone // the connection is closed: Serve returns
	case <-ctx.Done():
		s.shutdown(l, serveDone, senderDone)
		serveErr = nil
	}
	if ctx.Err() != nil {
		s.kill(l, reasonShutdown, nil)
	} else {
		reason, err := classifyServe(serveErr)
		s.kill(l, reason, err)
	}
	cancel()
	<-senderDone
	wg.Wait()
	s.drain()
	close(l.gone)
	if l.reason == reasonShutdown {
		s.log.Info("component stream closed", "uptime", time.Since(start).Round(time.Millisecond))
	}
	return connResult{wasUp: true, uptime: time.Since(start), reason: l.reason, err: l.err}
}

// shutdown closes l gracefully: no new stanzas are accepted, what is queued
// is written, </stream:stream> is sent and the server's is awaited for at
// most closeWait.
func (s *Stream) shutdown(l *streamLink, serveDone <-chan error, senderDone <-chan struct{}) {
	s.setDown(l)
	close(l.flush)
	timer := time.NewTimer(s.closeWait + s.cfg.KeepaliveTimeout)
	defer timer.Stop()
	select {
	case <-senderDone:
	case <-timer.C: // a write is stuck: give up on the queue
		s.kill(l, reasonShutdown, nil)
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_ = l.sess.Close() // </stream:stream>; may wait for a handler that is writing
	}()
	_ = l.conn.SetReadDeadline(time.Now().Add(s.closeWait))
	timer.Reset(s.closeWait)
	select {
	case <-serveDone: // the server answered with </stream:stream> (or hung up)
	case <-timer.C:
		s.kill(l, reasonShutdown, nil)
		<-serveDone
	}
	s.kill(l, reasonShutdown, nil)
	<-closed
}

// sender writes queued stanzas of l in order until ctx ends, or on flush
// writes what is queued and returns.
func (s *Stream) sender(ctx context.Context, l *streamLink) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.flush:
			for {
				select {
				case it := <-s.queue:
					s.write(l, it)
				default:
					return
				}
			}
		case it := <-s.queue:
			s.write(l, it)
		}
	}
}

// write writes one stanza on l. Any write error may have left half a stanza
// on the wire, so it ends the connection.
func (s *Stream) write(l *streamLink, it outItem) {
	if it.link != l {
		s.m.Error(s.cfg.Domain, "dropped")
		it.reply(transports.ErrStreamDown)
		return
	}
	select {
	case <-l.dead:
		s.m.Error(s.cfg.Domain, "dropped")
		it.reply(transports.ErrStreamDown)
		return
	default:
	}
	if it.ctx != nil && it.ctx.Err() != nil {
		it.reply(it.ctx.Err()) // the caller gave up before the write began
		return
	}
	wctx, cancel := context.WithTimeout(context.Background(), s.cfg.KeepaliveTimeout)
	err := l.sess.Send(wctx, &tokenReplay{toks: it.toks})
	cancel()
	if err != nil {
		err = fmt.Errorf("component: write: %w", err)
		s.m.Error(s.cfg.Domain, "write")
		s.kill(l, reasonWrite, err)
		it.reply(fmt.Errorf("%w: %w", transports.ErrStreamDown, err))
		return
	}
	s.m.StanzaOut(s.cfg.Domain)
	it.reply(nil)
}

// keepalive pings the server every Keepalive and kills l when an answer takes
// longer than KeepaliveTimeout. The wait does not depend on the session: if a
// writer is stuck on a frozen server and holds the session's write lock, the
// ping cannot even be sent, and the timer still fires.
func (s *Stream) keepalive(ctx context.Context, l *streamLink) {
	timer := time.NewTimer(s.cfg.Keepalive)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		sent := time.Now()
		pctx, cancel := context.WithTimeout(ctx, s.cfg.KeepaliveTimeout)
		res := make(chan error, 1)
		go func() { res <- s.ping(pctx, l) }()
		var err error
		select {
		case err = <-res:
		case <-pctx.Done():
			err = pctx.Err()
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.kill(l, reasonKeepalive, fmt.Errorf("component: no answer to the keepalive ping to %s within %s: %w", s.server, s.cfg.KeepaliveTimeout, err))
			return
		}
		s.m.PingRTT(s.cfg.Domain, time.Since(sent))
		timer.Reset(s.cfg.Keepalive)
	}
}

// ping sends an XEP-0199 ping to the server domain and waits for any answer:
// a result, or an error (a server without ping support still answered).
func (s *Stream) ping(ctx context.Context, l *streamLink) error {
	iq := stanza.IQ{Type: stanza.GetIQ, To: s.server, From: s.domain}
	payload := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: ping.NS, Local: "ping"}})
	resp, err := l.sess.SendIQ(ctx, iq.Wrap(payload))
	if err != nil {
		return err
	}
	if resp != nil {
		return resp.Close() // lets the reader go on
	}
	return nil
}

// streamHandler wraps the user's handler: it counts stanzas in and out and
// keeps handler errors from ending the stream.
type streamHandler struct {
	s *Stream
	h xmpp.Handler
}

func (sh streamHandler) HandleXMPP(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	s := sh.s
	s.m.StanzaIn(s.cfg.Domain)
	if sh.h == nil {
		return nil
	}
	err := sh.h.HandleXMPP(&countingEncoder{TokenReadEncoder: t, s: s}, start)
	if err == nil {
		return nil
	}
	var se stream.Error
	if errors.As(err, &se) {
		return err // deliberate: Serve sends it and ends the stream
	}
	s.m.Error(s.cfg.Domain, "handler")
	s.log.Debug("component handler error", "stanza", start.Name.Local, "err", err)
	// If the connection itself failed, the decoder keeps the error and
	// Serve returns it on its next read.
	return nil
}

// countingEncoder counts the stanzas a handler writes (top-level elements).
type countingEncoder struct {
	xmlstream.TokenReadEncoder
	s     *Stream
	depth int
}

func (c *countingEncoder) EncodeToken(t xml.Token) error {
	err := c.TokenReadEncoder.EncodeToken(t)
	switch t.(type) {
	case xml.StartElement:
		c.depth++
	case xml.EndElement:
		c.depth--
		if c.depth == 0 && err == nil {
			c.s.m.StanzaOut(c.s.cfg.Domain)
		}
	}
	return err
}

// Encode and EncodeElement go through EncodeToken so that they are counted
// (the embedded encoder's own would bypass it).
func (c *countingEncoder) Encode(v any) error {
	return encodeValue(c, v, nil)
}

func (c *countingEncoder) EncodeElement(v any, start xml.StartElement) error {
	return encodeValue(c, v, &start)
}

// encodeValue writes v as tokens to w: v's own token form if it has one,
// else encoding/xml's (with start as the outer element if given).
func encodeValue(w xmlstream.TokenWriter, v any, start *xml.StartElement) error {
	switch vv := v.(type) {
	case xmlstream.WriterTo:
		_, err := vv.WriteXML(w)
		return err
	case xmlstream.Marshaler:
		_, err := xmlstream.Copy(w, vv.TokenReader())
		return err
	case xml.TokenReader:
		_, err := xmlstream.Copy(w, vv)
		return err
	}
	var b bytes.Buffer
	e := xml.NewEncoder(&b)
	var err error
	if start != nil {
		err = e.EncodeElement(v, *start)
	} else {
		err = e.Encode(v)
	}
	if err != nil {
		return err
	}
	_, err = xmlstream.Copy(w, rawTokens{xml.NewDecoder(&b)})
	return err
}

// rawTokens reads without namespace translation, so the tokens encode back
// to what encoding/xml wrote.
type rawTokens struct{ d *xml.Decoder }

func (r rawTokens) Token() (xml.Token, error) { return r.d.RawToken() }

// errNoElement: the reader given to Send or Post did not start with an element.
var errNoElement = errors.New("expected a stanza element")

// bufferElement reads the first element from r into copied tokens, so that
// the caller's reader (which may read from a handler's input, or fail half
// way) is done with before anything is written. Leading whitespace, comments
// and processing instructions outside the element are skipped; comments and
// processing instructions inside are dropped.
func bufferElement(r xml.TokenReader) ([]xml.Token, error) {
	if r == nil {
		return nil, errNoElement
	}
	var toks []xml.Token
	depth := 0
	for {
		tok, err := r.Token()
		if tok != nil {
			switch t := tok.(type) {
			case xml.StartElement:
				depth++
				toks = append(toks, xml.CopyToken(t))
			case xml.EndElement:
				if depth == 0 {
					return nil, errNoElement
				}
				depth--
				toks = append(toks, t)
				if depth == 0 {
					return toks, nil
				}
			case xml.CharData:
				if depth == 0 {
					if len(bytes.TrimSpace(t)) != 0 {
						return nil, errNoElement
					}
					break
				}
				toks = append(toks, t.Copy())
			case xml.Directive:
				return nil, errors.New("XML directive in stanza")
			}
		}
		switch {
		case err == io.EOF:
			if depth == 0 {
				return nil, errNoElement
			}
			return nil, fmt.Errorf("incomplete element: %w", io.ErrUnexpectedEOF)
		case err != nil:
			return nil, err
		}
	}
}

// wrapElement is payload inside start (payload may be nil).
func wrapElement(payload xml.TokenReader, start xml.StartElement) xml.TokenReader {
	return xmlstream.Wrap(payload, start)
}

// tokenReplay replays buffered tokens once.
type tokenReplay struct {
	toks []xml.Token
	i    int
}

func (r *tokenReplay) Token() (xml.Token, error) {
	if r.i >= len(r.toks) {
		return nil, io.EOF
	}
	t := r.toks[r.i]
	r.i++
	return t, nil
}
