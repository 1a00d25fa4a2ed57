package component

import (
	"encoding/xml"
	"errors"
	"fmt"
	"runtime/debug"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"
)

// errPanic marks a handler that panicked.
var errPanic = errors.New("handler panicked")

// envelopeSlack is what a stanza may carry beyond MaxStanzaSize of content
// (addresses, ids, stanza-id and delay elements the server adds) before the
// router stops buffering it and refuses it whole.
const envelopeSlack = 16 << 10

// newMux registers the handlers of every protocol the domain answers. The
// mux is built once and only read afterwards; handlers reach per-stanza state
// through the replyWriter (see claim and deferReply).
func (g *Gateway) newMux() *mux.ServeMux {
	opts := []mux.Option{
		mux.IQFunc(stanza.GetIQ, xml.Name{Space: nsDiscoInfo, Local: "query"}, g.handleDiscoInfo),
		mux.IQFunc(stanza.GetIQ, xml.Name{Space: nsDiscoItems, Local: "query"}, g.handleDiscoItems),
		mux.IQFunc(stanza.GetIQ, xml.Name{Space: nsVersion, Local: "query"}, g.handleVersion),
		mux.IQFunc(stanza.GetIQ, xml.Name{Space: nsPing, Local: "ping"}, g.handlePing),
		mux.IQFunc(stanza.GetIQ, xml.Name{Space: nsRegister, Local: "query"}, g.handleRegisterGet),
		mux.IQFunc(stanza.SetIQ, xml.Name{Space: nsRegister, Local: "query"}, g.handleRegisterSet),
		mux.IQFunc(stanza.SetIQ, xml.Name{Space: nsCommands, Local: "command"}, g.handleCommand),
		// Anything else: service-unavailable, with a text (the mux's own
		// fallback has none).
		mux.IQFunc(stanza.GetIQ, xml.Name{}, g.handleUnsupported),
		mux.IQFunc(stanza.SetIQ, xml.Name{}, g.handleUnsupported),
		mux.PresenceFunc(stanza.SubscribePresence, xml.Name{}, g.handleSubscribe),
		mux.PresenceFunc(stanza.ProbePresence, xml.Name{}, g.handleProbe),
	}
	if g.prompter != nil {
		opts = append(opts,
			mux.IQFunc(stanza.GetIQ, xml.Name{Space: nsGateway, Local: "query"}, g.handleGatewayGet),
			mux.IQFunc(stanza.SetIQ, xml.Name{Space: nsGateway, Local: "query"}, g.handleGatewaySet),
		)
	}
	// The message mux calls a handler once per top-level child that matches,
	// so a message with a body and an OOB element (or two bodies in different
	// languages) reaches handleMessage more than once: it claims the stanza
	// and only the first call acts.
	for _, typ := range []stanza.MessageType{stanza.ChatMessage, stanza.NormalMessage, stanza.GroupChatMessage} {
		opts = append(opts,
			mux.MessageFunc(typ, xml.Name{Local: "body"}, g.handleMessage),
			mux.MessageFunc(typ, xml.Name{Space: nsOOB, Local: "x"}, g.handleMessage),
		)
	}
	return mux.New("", opts...)
}

// HandleXMPP is the Stream's handler for each top-level element the server
// sends. It buffers the stanza (refusing one larger than the configured limit
// without keeping it), checks who sent it and to whom, and routes it through
// the mux to the handlers of this package, which answer by writing to t.
//
// It returns an error only when the XML stream itself is broken (the read
// failed); bad stanzas are answered with stanza errors or dropped, never
// returned as errors.
//
// Concurrency: the Stream calls HandleXMPP from its reader goroutine, one
// element at a time. Handlers must not call Stream.Send (it deadlocks on the
// session's writer, which t holds); anything that may block on a remote
// network runs on a worker goroutine and answers through Send from there.
func (g *Gateway) HandleXMPP(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if start == nil {
		return nil
	}
	toks, size, err := readElement(t, g.maxEnvelope)
	if err != nil {
		return fmt.Errorf("component: %s: read %s: %w", g.cfg.Domain, start.Name.Local, err)
	}
	if !stanza.Is(start.Name, "") {
		g.log.Debug("ignored non-stanza element", "element", start.Name.Local)
		return nil
	}
	kind := start.Name.Local

	h := parseHead(*start)
	w := &replyWriter{enc: t, id: h.id, isIQ: kind == "iq"}
	answerable := h.answerable(kind)
	reply := func(e stanza.Error) {
		if !answerable || h.fromErr != nil || h.from.Equal(jid.JID{}) {
			return
		}
		g.m.Error(g.cfg.Domain, string(e.Condition))
		if _, err := xmlstream.Copy(w, h.errorStanza(*start, e)); err != nil {
			g.log.Debug("write error reply", "err", err)
		}
	}

	switch {
	case h.fromErr != nil || h.from.Equal(jid.JID{}):
		// Nobody to answer: the server stamps every stanza with a valid from.
		g.log.Debug("dropped stanza without a valid from", "kind", kind)
		return nil
	case h.typ == "error":
		// Never answer an error with an error (RFC 6120 §8.3.1).
		g.log.Debug("dropped error stanza", "kind", kind, "from", h.from.String())
		return nil
	case !g.allowed(h.from):
		reply(newError(stanza.Forbidden, fmt.Sprintf("%s is not allowed to use %s; ask the operator of this gateway", h.from.Bare().String(), g.cfg.Domain)))
		return nil
	case h.toErr != nil:
		reply(newError(stanza.JIDMalformed, "the destination address is not a valid JID"))
		return nil
	case h.to.Domainpart() != g.domain.Domainpart():
		reply(newError(stanza.ItemNotFound, "this gateway only serves "+g.cfg.Domain))
		return nil
	case size > g.maxEnvelope:
		reply(newError(stanza.NotAcceptable, fmt.Sprintf("stanza too large: the limit is %d bytes", g.cfg.MaxStanzaSize)))
		return nil
	case kind == "iq" && !answerable:
		// result (nothing here waits for one: the stream's keepalive answers
		// are taken before the handler) or an unknown type, which RFC 6120
		// gives no way to answer.
		return nil
	case g.handleLive(kind, h, *start, toks):
		// A live transport (IRC) handles stanzas to its contacts itself.
		return nil
	}

	rw := struct {
		xml.TokenReader
		xmlstream.Encoder
	}{&sliceReader{toks: toks}, w}
	err = g.dispatch(rw, start)
	if err != nil {
		g.log.Debug("stanza handler failed", "kind", kind, "from", h.from.String(), "err", err)
	}
	if kind == "iq" && answerable && !w.answered && w.depth == 0 {
		if errors.Is(err, errPanic) {
			reply(newError(stanza.InternalServerError, "the gateway failed to handle the request"))
		} else if err != nil {
			reply(newError(stanza.BadRequest, "the request could not be parsed"))
		} else {
			reply(newError(stanza.ServiceUnavailable, "this request is not supported here"))
		}
	}
	return nil
}

// dispatch routes through the mux. A panic in a handler (or in the
// transport code it calls) is logged and turned into an error, so one bad
// stanza cannot take the process down; an unanswered IQ then gets an error.
func (g *Gateway) dispatch(rw xmlstream.TokenReadEncoder, start *xml.StartElement) (err error) {
	defer func() {
		if r := recover(); r != nil {
			g.m.Error(g.cfg.Domain, "panic")
			g.log.Error("stanza handler panicked", "kind", start.Name.Local, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", errPanic, r)
		}
	}()
	return g.mux.HandleXMPP(rw, start)
}

func (g *Gateway) handleUnsupported(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	return writeIQError(t, iq, newError(stanza.ServiceUnavailable, "this request is not supported here"))
}

// allowed applies the access list. The XMPP server hosting the component
// (ServerDomain, without a localpart) is always allowed: it is the one
// that routes every stanza to us and may ping or disco the domain.
func (g *Gateway) allowed(from jid.JID) bool {
	if from.Localpart() == "" && from.Domainpart() == g.serverDomain {
		return true
	}
	return g.access.allows(from)
}

// readElement reads the rest of the element whose start was already read, up
// to and including its end element. Past limit bytes (approximate serialized
// size) tokens are counted but no longer kept.
func readElement(r xml.TokenReader, limit int) (toks []xml.Token, size int, err error) {
	depth := 1
	for depth > 0 {
		tok, err := r.Token()
		if tok != nil {
			switch v := tok.(type) {
			case xml.StartElement:
				depth++
				size += 2 + len(v.Name.Local)
				for _, a := range v.Attr {
					size += 4 + len(a.Name.Local) + len(a.Value)
				}
			case xml.EndElement:
				depth--
				size += 3 + len(v.Name.Local)
			case xml.CharData:
				size += len(v)
			}
			if size <= limit {
				toks = append(toks, xml.CopyToken(tok))
			}
		}
		if err != nil {
			if depth == 0 {
				break
			}
			return nil, size, err
		}
		if tok == nil {
			return nil, size, fmt.Errorf("element ended early")
		}
	}
	return toks, size, nil
}

// head is the routing information of a stanza's start element.
type head struct {
	id, typ        string
	from, to       jid.JID
	fromErr, toErr error
}

func parseHead(start xml.StartElement) head {
	var h head
	for _, a := range start.Attr {
		if a.Name.Space != "" && a.Name.Space != start.Name.Space {
			continue
		}
		switch a.Name.Local {
		case "id":
			h.id = a.Value
		case "type":
			h.typ = a.Value
		case "from":
			h.from, h.fromErr = jid.Parse(a.Value)
		case "to":
			h.to, h.toErr = jid.Parse(a.Value)
		}
	}
	return h
}

// answerable reports whether the stanza may get an error reply: iq get/set,
// and any message or presence that is not itself an error.
func (h head) answerable(kind string) bool {
	if kind == "iq" {
		return h.typ == "get" || h.typ == "set"
	}
	return h.typ != "error"
}

// errorStanza is the error reply to the stanza: same kind and id, addresses
// swapped, type error.
func (h head) errorStanza(start xml.StartElement, e stanza.Error) xml.TokenReader {
	se := xml.StartElement{Name: start.Name, Attr: []xml.Attr{attr("type", "error")}}
	if !h.to.Equal(jid.JID{}) {
		se.Attr = append(se.Attr, attr("from", h.to.String()))
	}
	se.Attr = append(se.Attr, attr("to", h.from.String()))
	if h.id != "" {
		se.Attr = append(se.Attr, attr("id", h.id))
	}
	return xmlstream.Wrap(e.TokenReader(), se)
}

// replyWriter is the encoder handlers write their answers to. It passes tokens
// to the session's writer, notices whether an IQ got its answer, and
// swallows the pseudo-tokens handlers use to talk to the router (claimToken,
// deferToken).
type replyWriter struct {
	enc      xmlstream.Encoder
	id       string
	isIQ     bool
	depth    int
	answered bool
	claimed  bool
}

// claimToken is written by a handler that the mux may call several times for
// one stanza; *first is set to true for the first claim only.
type claimToken struct{ first *bool }

// deferToken is written by an IQ handler that will answer later from another
// goroutine, so the router does not answer service-unavailable.
type deferToken struct{}

func (w *replyWriter) EncodeToken(tok xml.Token) error {
	switch v := tok.(type) {
	case claimToken:
		*v.first = !w.claimed
		w.claimed = true
		return nil
	case deferToken:
		w.answered = true
		return nil
	case xml.StartElement:
		if w.depth == 0 {
			if w.isIQ && v.Name.Local == "iq" {
				h := parseHead(v)
				if h.id == w.id && (h.typ == "result" || h.typ == "error") {
					w.answered = true
				}
			}
		}
		w.depth++
	case xml.EndElement:
		w.depth--
	}
	return w.enc.EncodeToken(tok)
}

// Encode and EncodeElement go through EncodeToken so that replies written
// with them are seen too.
func (w *replyWriter) Encode(v any) error {
	var r xml.TokenReader
	switch vv := v.(type) {
	case xml.TokenReader:
		r = vv
	case xmlstream.Marshaler:
		r = vv.TokenReader()
	default:
		r = marshalTokens(v)
	}
	_, err := xmlstream.Copy(w, r)
	return err
}

func (w *replyWriter) EncodeElement(v any, start xml.StartElement) error {
	var inner xml.TokenReader
	switch vv := v.(type) {
	case xml.TokenReader:
		inner = vv
	case xmlstream.Marshaler:
		inner = vv.TokenReader()
	default:
		r := marshalTokens(v)
		if _, err := r.Token(); err != nil { // skip v's own start element
			return err
		}
		inner = xmlstream.Inner(r)
	}
	_, err := xmlstream.Copy(w, xmlstream.Wrap(inner, start))
	return err
}

// claim reports whether this is the first handler call to claim the stanza
// being routed. With a writer that is not the router's it always reports true.
func claim(t xmlstream.Encoder) bool {
	first := true
	if err := t.EncodeToken(claimToken{&first}); err != nil {
		return true
	}
	return first
}

// deferReply tells the router the IQ will be answered later (see async).
func deferReply(t xmlstream.Encoder) { _ = t.EncodeToken(deferToken{}) }
