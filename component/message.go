package component

import (
	"encoding/xml"
	"fmt"
	"strings"
	"sync"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"xgate/store"
	"xgate/transports"
)

// langText is a <body/> or <subject/>, which may come once per language.
type langText struct {
	XMLName xml.Name
	Lang    string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	Text    string `xml:",chardata"`
}

// userMessage is what xgate reads of a message a user sends. Only direct
// children count: a <body/> nested in an extension is not the message's body.
type userMessage struct {
	Bodies   []langText `xml:"body"`
	Subjects []langText `xml:"subject"`
	Thread   string     `xml:"thread"`
	OOB      []struct {
		URL string `xml:"url"`
	} `xml:"jabber:x:oob x"`
	Request  *struct{} `xml:"urn:xmpp:receipts request"`
	OriginID *struct {
		ID string `xml:"id,attr"`
	} `xml:"urn:xmpp:sid:0 origin-id"`
}

// pickText chooses among the language variants of a child in the stanza's
// namespace: the one in the stanza's language (or without xml:lang), else
// the first.
func pickText(vs []langText, space, lang string) string {
	var first *langText
	for i := range vs {
		v := &vs[i]
		if v.XMLName.Space != space {
			continue // <body xmlns='urn:other'/> is not a body
		}
		if v.Lang == "" || v.Lang == lang {
			return v.Text
		}
		if first == nil {
			first = v
		}
	}
	if first != nil {
		return first.Text
	}
	return ""
}

// handleMessage takes a chat, normal or groupchat message with a body or an
// OOB URL from an allowed user (the router checked access). To a contact, it
// validates the address and the size and writes the message to the outbox;
// the outbox worker delivers it. To the bare domain it answers with a short
// help text (see domainHelp). Nothing here waits on a remote network: the
// store write is the only blocking call.
func (g *Gateway) handleMessage(msg stanza.Message, t xmlstream.TokenReadEncoder) error {
	if !claim(t) {
		return nil
	}
	d := xml.NewTokenDecoder(t)
	tok, err := d.Token()
	if err != nil {
		return err
	}
	start, ok := tok.(xml.StartElement)
	if !ok {
		return fmt.Errorf("message: expected a start element, got %T", tok)
	}
	var um userMessage
	if err := d.DecodeElement(&um, &start); err != nil {
		return err
	}
	space := msg.XMLName.Space
	m := transports.Message{
		ID:          msg.ID,
		From:        msg.From.String(),
		To:          msg.To.String(),
		Type:        string(msg.Type),
		Body:        pickText(um.Bodies, space, msg.Lang),
		Subject:     pickText(um.Subjects, space, msg.Lang),
		Thread:      um.Thread,
		WantReceipt: um.Request != nil,
	}
	if um.OriginID != nil {
		m.OriginID = um.OriginID.ID
	}
	for _, o := range um.OOB {
		if u := strings.TrimSpace(o.URL); u != "" {
			m.OOB = append(m.OOB, u)
		}
	}
	if m.Body == "" && len(m.OOB) == 0 {
		return nil // chat state, marker, correction without text: nothing to carry
	}
	local := msg.To.Localpart()
	if local == "" {
		if !g.help.allow(msg.From.Bare().String(), g.now()) {
			return nil
		}
		_, err := xmlstream.Copy(t, g.domainHelp(msg))
		return err
	}
	if err := g.checkAddress(local); err != nil {
		return writeMessageError(t, msg, newError(stanza.JIDMalformed, err.Error()))
	}
	size := len(m.Body) + len(m.Subject)
	for _, u := range m.OOB {
		size += len(u)
	}
	if size > g.cfg.MaxStanzaSize {
		return writeMessageError(t, msg, newError(stanza.NotAcceptable,
			fmt.Sprintf("message too large: %d bytes of text, the limit is %d bytes", size, g.cfg.MaxStanzaSize)))
	}
	now := g.now()
	m.Stamp = now
	payload, err := transports.EncodeMessage(m)
	if err != nil {
		return writeMessageError(t, msg, newError(stanza.InternalServerError, "the message could not be stored"))
	}
	ctx, cancel := g.inlineContext()
	defer cancel()
	_, _, err = g.st.Outbox().Enqueue(ctx, store.QueueItem{
		Transport:   g.t.Name(),
		Key:         transports.OrderKey(m),
		Payload:     payload,
		NextAttempt: now,
		Deadline:    now.Add(g.cfg.GiveUpAfter),
		Created:     now,
	})
	if err != nil {
		g.m.Error(g.cfg.Domain, "enqueue")
		g.log.Error("outbox enqueue failed", "from", msg.From.Bare().String(), "err", err)
		e := newError(stanza.InternalServerError, "the gateway could not store the message, it was not sent; try again later")
		e.Type = stanza.Wait
		return writeMessageError(t, msg, e)
	}
	g.wakeOutbox()
	return nil
}

// domainHelp answers a message to the bare domain: the gateway is not a chat
// partner, so it explains how to use it instead of dropping the text or
// answering with an error the user cannot act on. At most one help text per
// user per helpEvery (see helpLimiter): an auto-responder on the other side
// must not turn it into an endless exchange.
func (g *Gateway) domainHelp(msg stanza.Message) xml.TokenReader {
	name := g.identity.Name
	if name == "" {
		name = g.t.Name() + " gateway"
	}
	text := fmt.Sprintf("This is %s (%s). To reach someone, write to their address at this domain, for example %s. "+
		"Register through service discovery, and use the ad-hoc commands (status, unregister) to manage your account.",
		name, g.cfg.Domain, g.exampleContact())
	if g.prompter != nil {
		_, prompt := g.prompter.Prompt()
		if prompt != "" {
			text += " Your client can also turn a " + strings.ToLower(prompt) + " into an address (XEP-0100)."
		}
	}
	reply := stanza.Message{
		XMLName: xml.Name{Local: "message"},
		ID:      g.newID(),
		From:    g.domain,
		To:      msg.From,
		Type:    stanza.ChatMessage,
	}
	return reply.Wrap(textElement(xml.Name{Local: "body"}, text))
}

// exampleContact is an illustrative contact address for help texts.
func (g *Gateway) exampleContact() string {
	switch g.identity.Type {
	case "sms":
		return "+15551234567@" + g.cfg.Domain
	case "irc":
		return "#channel%irc.example.net@" + g.cfg.Domain
	case "smtp":
		return `bob\40example.com@` + g.cfg.Domain
	}
	return "someone@" + g.cfg.Domain
}

// writeMessageError answers msg with e, to the sender's full JID, same id.
func writeMessageError(t xmlstream.Encoder, msg stanza.Message, e stanza.Error) error {
	_, err := xmlstream.Copy(t, msg.Error(e))
	return err
}

// contactJID is local@domain.
func (g *Gateway) contactJID(local string) (jid.JID, error) {
	return g.domain.WithLocal(local)
}

// helpEvery is the least time between two help texts to one user.
const helpEvery = time.Minute

// maxHelpEntries bounds the memory of helpLimiter.
const maxHelpEntries = 10000

// helpLimiter remembers when each user last got a help text.
type helpLimiter struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// allow reports whether user may get a help text now, and records it.
func (h *helpLimiter) allow(user string, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last == nil {
		h.last = map[string]time.Time{}
	}
	if t, ok := h.last[user]; ok && now.Sub(t) < helpEvery {
		return false
	}
	if len(h.last) >= maxHelpEntries {
		for u, t := range h.last {
			if now.Sub(t) >= helpEvery {
				delete(h.last, u)
			}
		}
		if len(h.last) >= maxHelpEntries {
			return false
		}
	}
	h.last[user] = now
	return true
}
