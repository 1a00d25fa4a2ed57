package component

import (
	"context"
	"encoding/xml"
	"errors"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"xgate/store"
)

// XEP-0100 presence: the domain is a roster item of each registered user.
//
//   - After a new registration the gateway asks to see the user's presence
//     (subscribe) and shows its own (available).
//   - A user's subscribe to the domain is approved (subscribed + available) when
//     the user is registered, refused (unsubscribed) otherwise.
//   - A probe of the domain is answered available when registered, unavailable
//     otherwise.
//   - Unregistering sends unsubscribe, unsubscribed and unavailable.
//   - A subscribe to a contact is approved with subscribed + available from the
//     contact (contacts on store-and-forward networks are always reachable); a
//     probe of a contact answers available.
//
// Everything is written to the handler's own writer (or, off the reader
// goroutine, through Send), in order.

// presence is a presence stanza from → to of type typ ("" is available).
func presence(typ stanza.PresenceType, from, to jid.JID) xml.TokenReader {
	return stanza.Presence{XMLName: xml.Name{Local: "presence"}, Type: typ, From: from, To: to}.Wrap(nil)
}

// registeredPresence is the sequence sent after a new registration, one
// stanza per reader.
func (g *Gateway) registeredPresence(user jid.JID) []xml.TokenReader {
	u := user.Bare()
	return []xml.TokenReader{
		presence(stanza.SubscribePresence, g.domain, u),
		presence("", g.domain, u),
	}
}

// unregisteredPresence is the sequence sent after unregistration.
func (g *Gateway) unregisteredPresence(user jid.JID) []xml.TokenReader {
	u := user.Bare()
	return []xml.TokenReader{
		presence(stanza.UnsubscribePresence, g.domain, u),
		presence(stanza.UnsubscribedPresence, g.domain, u),
		presence(stanza.UnavailablePresence, g.domain, u),
	}
}

// isRegistered looks the user up in the store. A store failure counts as not
// registered (and is logged): presence is advisory, and the user can retry.
func (g *Gateway) isRegistered(ctx context.Context, user jid.JID) bool {
	_, err := g.st.GetRegistration(ctx, g.t.Name(), user.Bare().String())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		g.log.Warn("registration lookup failed", "user", user.Bare().String(), "err", err)
	}
	return err == nil
}

func (g *Gateway) handleSubscribe(p stanza.Presence, t xmlstream.TokenReadEncoder) error {
	if !claim(t) {
		return nil
	}
	user := p.From.Bare()
	if local := p.To.Localpart(); local != "" {
		if err := g.checkAddress(local); err != nil {
			_, werr := xmlstream.Copy(t, p.Error(newError(stanza.JIDMalformed, err.Error())))
			return werr
		}
		contact := p.To.Bare()
		_, err := xmlstream.Copy(t, xmlstream.MultiReader(
			presence(stanza.SubscribedPresence, contact, user),
			presence("", contact, user),
		))
		return err
	}
	ctx, cancel := g.inlineContext()
	defer cancel()
	var r xml.TokenReader
	if g.isRegistered(ctx, user) {
		r = xmlstream.MultiReader(
			presence(stanza.SubscribedPresence, g.domain, user),
			presence("", g.domain, user),
		)
	} else {
		r = presence(stanza.UnsubscribedPresence, g.domain, user)
	}
	_, err := xmlstream.Copy(t, r)
	return err
}

func (g *Gateway) handleProbe(p stanza.Presence, t xmlstream.TokenReadEncoder) error {
	if !claim(t) {
		return nil
	}
	if local := p.To.Localpart(); local != "" {
		typ := stanza.PresenceType("")
		if g.checkAddress(local) != nil {
			typ = stanza.UnavailablePresence
		}
		_, err := xmlstream.Copy(t, presence(typ, p.To.Bare(), p.From))
		return err
	}
	ctx, cancel := g.inlineContext()
	defer cancel()
	typ := stanza.UnavailablePresence
	if g.isRegistered(ctx, p.From) {
		typ = ""
	}
	_, err := xmlstream.Copy(t, presence(typ, g.domain, p.From))
	return err
}
