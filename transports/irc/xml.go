package irc

import (
	"encoding/xml"
	"io"
	"strconv"
	"time"
)

// XML namespaces used by the transport.
const (
	nsMUC        = "http://jabber.org/protocol/muc"
	nsMUCUser    = "http://jabber.org/protocol/muc#user"
	nsStanzas    = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsDelay      = "urn:xmpp:delay"
	nsSID        = "urn:xmpp:sid:0"
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsPing       = "urn:xmpp:ping"
	nsVersion    = "jabber:iq:version"
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
	nsRSM        = "http://jabber.org/protocol/rsm"
	nsMUCAdmin   = "http://jabber.org/protocol/muc#admin"
	nsCommands   = "http://jabber.org/protocol/commands"
)

// xattr is an unqualified attribute.
func xattr(name, value string) xml.Attr { return xml.Attr{Name: xml.Name{Local: name}, Value: value} }

// el is an XML element under construction. Stanzas to XMPP are built as
// trees of el and flattened into tokens, so nothing is escaped by hand.
type el struct {
	name  xml.Name
	attrs []xml.Attr
	text  string
	kids  []*el
}

func elem(space, local string, attrs ...string) *el {
	e := &el{name: xml.Name{Space: space, Local: local}}
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] != "" {
			e.attrs = append(e.attrs, xml.Attr{Name: xml.Name{Local: attrs[i]}, Value: attrs[i+1]})
		}
	}
	return e
}

func (e *el) add(kids ...*el) *el {
	for _, k := range kids {
		if k != nil {
			e.kids = append(e.kids, k)
		}
	}
	return e
}

func (e *el) setText(s string) *el { e.text = s; return e }

func (e *el) tokens(out []xml.Token) []xml.Token {
	out = append(out, xml.StartElement{Name: e.name, Attr: e.attrs})
	if e.text != "" {
		out = append(out, xml.CharData(e.text))
	}
	for _, k := range e.kids {
		out = k.tokens(out)
	}
	return append(out, xml.EndElement{Name: e.name})
}

// reader returns a fresh token reader over the element.
func (e *el) reader() xml.TokenReader { return &tokenReader{toks: e.tokens(nil)} }

type tokenReader struct {
	toks []xml.Token
	i    int
}

func (r *tokenReader) Token() (xml.Token, error) {
	if r.i >= len(r.toks) {
		return nil, io.EOF
	}
	t := r.toks[r.i]
	r.i++
	return t, nil
}

// Stanza constructors. Addresses are strings, already canonical.

func presenceEl(from, to, typ string) *el {
	return elem("", "presence", "from", from, "to", to, "type", typ)
}

func messageEl(from, to, typ, id string) *el {
	return elem("", "message", "from", from, "to", to, "type", typ, "id", id)
}

func textEl(local, text string) *el { return elem("", local).setText(text) }

// mucItem is the muc#user <x/> of an occupant presence.
type mucItem struct {
	affiliation, role string
	nick              string // new nick (303) or ""
	jid               string // real JID (own presence only)
	reason            string
	codes             []int
}

func (m mucItem) el() *el {
	item := elem("", "item", "affiliation", m.affiliation, "role", m.role, "nick", m.nick, "jid", m.jid)
	if m.reason != "" {
		item.add(textEl("reason", m.reason))
	}
	x := elem(nsMUCUser, "x").add(item)
	for _, c := range m.codes {
		x.add(elem("", "status", "code", strconv.Itoa(c)))
	}
	return x
}

// errorEl is an RFC 6120 error element with a text.
func errorEl(typ, condition, text string) *el {
	e := elem("", "error", "type", typ).add(elem(nsStanzas, condition))
	if text != "" {
		t := elem(nsStanzas, "text")
		t.attrs = append(t.attrs, xml.Attr{Name: xml.Name{Space: "http://www.w3.org/XML/1998/namespace", Local: "lang"}, Value: "en"})
		e.add(t.setText(text))
	}
	return e
}

// errorType is the RFC 6120 recommended type of a condition.
func errorType(condition string) string {
	switch condition {
	case "forbidden", "not-authorized", "registration-required":
		return "auth"
	case "bad-request", "jid-malformed", "not-acceptable", "conflict":
		if condition == "conflict" {
			return "cancel"
		}
		return "modify"
	case "resource-constraint", "remote-server-timeout":
		return "wait"
	}
	return "cancel"
}

// delayEl is a XEP-0203 delay for a line the server stamped (server-time).
func delayEl(from string, t time.Time) *el {
	return elem(nsDelay, "delay", "from", from, "stamp", t.UTC().Format("2006-01-02T15:04:05.000Z"))
}
