package component

import (
	"encoding/xml"

	"xgate/transports"
)

// handleLive offers a stanza to a live transport (transports.StanzaHandler)
// before the component's own handlers see it. It is called by the router on
// the reader goroutine, after access control, for stanzas to a contact JID
// (non-empty localpart) of the domain; error stanzas and IQ results never
// get here. It reports whether the transport took the stanza.
func (g *Gateway) handleLive(kind string, h head, start xml.StartElement, toks []xml.Token) bool {
	sh, ok := g.t.(transports.StanzaHandler)
	if !ok || h.to.Localpart() == "" {
		return false
	}
	st := transports.Stanza{
		Name:   kind,
		Type:   h.typ,
		ID:     h.id,
		Lang:   stanzaLang(start),
		From:   h.from.String(),
		To:     h.to.String(),
		Start:  start.Copy(),
		Tokens: toks,
	}
	return sh.HandleStanza(g.life, st)
}

// stanzaLang is the xml:lang of a stanza's start element.
func stanzaLang(start xml.StartElement) string {
	for _, a := range start.Attr {
		if a.Name.Local == "lang" && (a.Name.Space == "xml" || a.Name.Space == "http://www.w3.org/XML/1998/namespace") {
			return a.Value
		}
	}
	return ""
}
