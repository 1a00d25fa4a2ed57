package component

import (
	"context"
	"encoding/xml"
	"errors"
	"strings"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/stanza"

	"xgate/transports"
)

// XEP-0100 jabber:iq:gateway: the client asks how to address a contact (get:
// <desc/> and <prompt/>), then sends what the user typed (set: <prompt/>) and
// gets the contact's JID back (<jid/>). Registered only when the transport is
// a Prompter, so without one the router answers service-unavailable.

type gatewayQuery struct {
	XMLName xml.Name `xml:"jabber:iq:gateway query"`
	Desc    string   `xml:"desc,omitempty"`
	Prompt  string   `xml:"prompt,omitempty"`
	JID     string   `xml:"jid,omitempty"`
}

func (g *Gateway) handleGatewayGet(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if iq.To.Localpart() != "" {
		return writeIQError(t, iq, newError(stanza.ServiceUnavailable, "ask "+g.cfg.Domain+", not a contact"))
	}
	desc, prompt := g.prompter.Prompt()
	_, err := xmlstream.Copy(t, iq.Result(marshalTokens(gatewayQuery{Desc: desc, Prompt: prompt})))
	return err
}

func (g *Gateway) handleGatewaySet(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if iq.To.Localpart() != "" {
		return writeIQError(t, iq, newError(stanza.ServiceUnavailable, "ask "+g.cfg.Domain+", not a contact"))
	}
	var q gatewayQuery
	if err := decodePayload(t, start, &q); err != nil {
		return err
	}
	input := strings.TrimSpace(q.Prompt)
	if input == "" {
		return writeIQError(t, iq, newError(stanza.BadRequest, "the <prompt/> with the address to translate is missing"))
	}
	return g.runAsync(t, iq, func(ctx context.Context) { g.translate(ctx, iq, input) })
}

// translate runs the transport's Translate off the reader goroutine. Its
// error is about what the user typed: not-acceptable with the transport's
// text, unless the transport classified it.
func (g *Gateway) translate(ctx context.Context, iq stanza.IQ, input string) {
	local, err := g.prompter.Translate(input)
	if err != nil {
		e := newError(stanza.NotAcceptable, err.Error())
		var te *transports.Error
		if errors.As(err, &te) {
			e = transportError(err, "the address could not be translated")
		}
		g.send(ctx, iq.Error(e))
		return
	}
	j, err := g.contactJID(local)
	if err != nil {
		g.send(ctx, iq.Error(newError(stanza.JIDMalformed, "the translated address is not a valid JID")))
		return
	}
	g.send(ctx, iq.Result(marshalTokens(gatewayQuery{JID: j.String()})))
}
