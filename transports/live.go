package transports

import (
	"context"
	"encoding/xml"
	"io"
)

// StanzaHandler is implemented by live transports (IRC) that handle the
// stanzas users send to their contacts themselves: presence to a room,
// groupchat and private messages, IQs to a room or an occupant.
type StanzaHandler interface {
	// HandleStanza is called by the component for every stanza from an
	// allowed user to a contact JID (non-empty localpart) of the domain, after
	// access control and before the component's own handling, on the stream's
	// reader goroutine. It must not block: hand the work to the user's own
	// goroutine. It must not call Uplink.Send synchronously (the reader
	// goroutine holds the stream's writer). It returns handled=false to let
	// the component do its default (outbox for messages, XEP-0100 presence).
	// Error stanzas and IQ results never reach it.
	HandleStanza(ctx context.Context, st Stanza) (handled bool)
}

// Stanza is one stanza from a user, already buffered: its routing head and
// its tokens. The component owns nothing of it after the call: a handler may
// keep it.
type Stanza struct {
	// Name is "message", "presence" or "iq".
	Name string
	// Type is the type attribute ("" for an available presence or a normal
	// message), ID the id attribute, Lang the xml:lang.
	Type, ID, Lang string
	// From is the user's full JID, To the contact's JID, both canonical.
	From, To string
	// Start is the stanza's start element; Tokens what follows it, up to and
	// including its end element.
	Start  xml.StartElement
	Tokens []xml.Token
}

// Reader returns the whole stanza as tokens, from the start element.
func (s Stanza) Reader() xml.TokenReader {
	toks := make([]xml.Token, 0, len(s.Tokens)+1)
	toks = append(toks, s.Start)
	toks = append(toks, s.Tokens...)
	return &tokenSlice{toks: toks}
}

// Decode unmarshals the whole stanza into v with encoding/xml.
func (s Stanza) Decode(v any) error {
	d := xml.NewTokenDecoder(s.Reader())
	return d.Decode(v)
}

type tokenSlice struct {
	toks []xml.Token
	i    int
}

func (r *tokenSlice) Token() (xml.Token, error) {
	if r.i >= len(r.toks) {
		return nil, io.EOF
	}
	t := r.toks[r.i]
	r.i++
	return t, nil
}
