package component

import (
	"encoding/xml"
	"errors"

	"mellium.im/xmpp/stanza"

	"xgate/store"
	"xgate/transports"
)

// errorTypes maps each RFC 6120 defined condition (§8.3.3) to the error type
// the RFC recommends for it. It doubles as the list of conditions xgate may put
// on the wire: anything else becomes undefined-condition.
var errorTypes = map[stanza.Condition]stanza.ErrorType{
	stanza.BadRequest:            stanza.Modify,
	stanza.Conflict:              stanza.Cancel,
	stanza.FeatureNotImplemented: stanza.Cancel,
	stanza.Forbidden:             stanza.Auth,
	stanza.Gone:                  stanza.Cancel,
	stanza.InternalServerError:   stanza.Cancel,
	stanza.ItemNotFound:          stanza.Cancel,
	stanza.JIDMalformed:          stanza.Modify,
	stanza.NotAcceptable:         stanza.Modify,
	stanza.NotAllowed:            stanza.Cancel,
	stanza.NotAuthorized:         stanza.Auth,
	stanza.PolicyViolation:       stanza.Modify,
	stanza.RecipientUnavailable:  stanza.Wait,
	stanza.Redirect:              stanza.Modify,
	stanza.RegistrationRequired:  stanza.Auth,
	stanza.RemoteServerNotFound:  stanza.Cancel,
	stanza.RemoteServerTimeout:   stanza.Wait,
	stanza.ResourceConstraint:    stanza.Wait,
	stanza.ServiceUnavailable:    stanza.Cancel,
	stanza.SubscriptionRequired:  stanza.Auth,
	stanza.UndefinedCondition:    stanza.Cancel,
	stanza.UnexpectedRequest:     stanza.Wait,
}

// newError is an RFC 6120 stanza error with the recommended type for cond and a
// human text in English. Every error xgate sends carries a text: a bare
// condition tells a user nothing.
func newError(cond stanza.Condition, text string) stanza.Error {
	typ, ok := errorTypes[cond]
	if !ok {
		cond, typ = stanza.UndefinedCondition, stanza.Cancel
	}
	e := stanza.Error{Type: typ, Condition: cond}
	if text != "" {
		e.Text = map[string]string{"en": text}
	}
	return e
}

// transportError turns a transport or store error into the stanza error a user
// is told: classified errors keep their condition and text (transports.ErrorOf),
// a *transports.FieldError becomes not-acceptable naming the field, a taken
// remote identity becomes conflict. Unclassified errors get a generic text,
// never their message (it may hold details that are not for users).
func transportError(err error, fallback string) stanza.Error {
	var fe *transports.FieldError
	if errors.As(err, &fe) {
		return newError(stanza.NotAcceptable, fe.Error())
	}
	var ce *store.ConflictError
	if errors.As(err, &ce) {
		return newError(stanza.Conflict, ce.RemoteID+" is already registered by another user")
	}
	var te *transports.Error
	if errors.As(err, &te) {
		cond, text := transports.ErrorOf(err)
		if text == "" {
			text = fallback
		}
		e := newError(stanza.Condition(cond), text)
		if te.Temporary && e.Condition == stanza.UndefinedCondition {
			e.Type = stanza.Wait
		}
		return e
	}
	return newError(stanza.InternalServerError, fallback)
}

// withAppCondition adds an application-specific condition element (for
// example XEP-0050 <bad-sessionid/>) after the text of e.
func withAppCondition(e stanza.Error, space, local string) xml.TokenReader {
	return e.Wrap(emptyElement(xml.Name{Space: space, Local: local}))
}

// iqError is the error answer to iq with a ready-made <error/> element (one
// carrying an application condition, see withAppCondition).
func iqError(iq stanza.IQ, errElem xml.TokenReader) xml.TokenReader {
	iq.Type = stanza.ErrorIQ
	iq.From, iq.To = iq.To, iq.From
	return iq.Wrap(errElem)
}
