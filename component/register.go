package component

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"runtime/debug"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"xgate/store"
	"xgate/transports"
)

// XEP-0077 in-band registration with the domain, with an XEP-0004 form built
// from the transport's fields (FORM_TYPE jabber:iq:register) and the legacy
// elements (<username/>, <phone/>, ...) of fields that name one, for clients
// without forms. A transport that is not a Registrar registers users with an
// empty form.

// registerSet is what a client submits.
type registerSet struct {
	Remove   *struct{}    `xml:"remove"`
	Forms    []dataForm   `xml:"jabber:x:data x"`
	Children []rawElement `xml:",any"`
}

type rawElement struct {
	XMLName xml.Name
	Text    string `xml:",chardata"`
}

// fields are the transport's registration fields (none without a Registrar).
func (g *Gateway) fields() []transports.Field {
	if g.registrar == nil {
		return nil
	}
	return g.registrar.RegistrationFields()
}

// lookupRegistration is the user's registration, nil when there is none.
func (g *Gateway) lookupRegistration(ctx context.Context, user jid.JID) (*store.Registration, error) {
	r, err := g.st.GetRegistration(ctx, g.t.Name(), user.Bare().String())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func (g *Gateway) serviceName() string {
	if g.identity.Name != "" {
		return g.identity.Name
	}
	return g.cfg.Domain
}

// handleRegisterGet answers the registration form, with <registered/> and the
// current values (never those of text-private fields) when the user is
// registered.
func (g *Gateway) handleRegisterGet(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if iq.To.Localpart() != "" {
		return writeIQError(t, iq, newError(stanza.ServiceUnavailable, "register with "+g.cfg.Domain+", not with a contact"))
	}
	ctx, cancel := g.inlineContext()
	defer cancel()
	reg, err := g.lookupRegistration(ctx, iq.From)
	if err != nil {
		g.log.Error("registration lookup failed", "user", iq.From.Bare().String(), "err", err)
		return writeIQError(t, iq, newError(stanza.InternalServerError, "the registration store is unavailable; try again later"))
	}
	fields := g.fields()
	var values map[string]string
	if reg != nil {
		values = reg.Settings
	}
	instructions := "Submit this form to register with " + g.serviceName() + "."
	if len(fields) == 0 {
		instructions = "Submit to register with " + g.serviceName() + "; no details are needed."
	}
	var parts []xml.TokenReader
	if reg != nil {
		parts = append(parts, emptyElement(xml.Name{Local: "registered"}))
	}
	parts = append(parts, textElement(xml.Name{Local: "instructions"}, instructions))
	for _, f := range fields {
		if f.Legacy == "" {
			continue
		}
		v := values[f.Var]
		if fieldType(f) == "text-private" {
			v = ""
		}
		parts = append(parts, textElement(xml.Name{Local: f.Legacy}, v))
	}
	parts = append(parts, marshalTokens(buildForm(nsRegister, "Register with "+g.serviceName(), instructions, fields, values)))
	q := xmlstream.Wrap(xmlstream.MultiReader(parts...), xml.StartElement{Name: xml.Name{Space: nsRegister, Local: "query"}})
	_, err = xmlstream.Copy(t, iq.Result(q))
	return err
}

// handleRegisterSet registers (or updates the registration of) the user, or
// unregisters with <remove/>. The request is parsed and checked here; the
// transport's Register/Unregister and the store write run off the reader
// goroutine, which answers through Send.
func (g *Gateway) handleRegisterSet(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if iq.To.Localpart() != "" {
		return writeIQError(t, iq, newError(stanza.ServiceUnavailable, "register with "+g.cfg.Domain+", not with a contact"))
	}
	var q registerSet
	if err := decodePayload(t, start, &q); err != nil {
		return err
	}
	if q.Remove != nil {
		return g.runAsync(t, iq, func(ctx context.Context) { g.unregister(ctx, iq) })
	}
	fields := g.fields()
	values := map[string]string{}
	if len(q.Forms) > 0 {
		f := q.Forms[0]
		if f.Type != "submit" {
			return writeIQError(t, iq, newError(stanza.BadRequest, "the registration form must be of type submit"))
		}
		if ft := formType(f); ft != "" && ft != nsRegister {
			return writeIQError(t, iq, newError(stanza.BadRequest, fmt.Sprintf("unexpected FORM_TYPE %q", ft)))
		}
		values = submittedValues(f)
	} else {
		legacy := map[string]string{}
		for _, c := range q.Children {
			if c.XMLName.Space == nsRegister {
				legacy[c.XMLName.Local] = c.Text
			}
		}
		for _, f := range fields {
			if v, ok := legacy[f.Legacy]; ok && f.Legacy != "" {
				values[f.Var] = v
			}
		}
	}
	checked, err := checkValues(fields, values)
	if err != nil {
		return writeIQError(t, iq, transportError(err, ""))
	}
	return g.runAsync(t, iq, func(ctx context.Context) { g.register(ctx, iq, checked) })
}

// runAsync hands f off the reader goroutine, or answers resource-constraint
// when too much is already in flight.
func (g *Gateway) runAsync(t xmlstream.Encoder, iq stanza.IQ, f func(ctx context.Context)) error {
	guarded := func(ctx context.Context) {
		defer func() {
			if r := recover(); r != nil {
				g.m.Error(g.cfg.Domain, "panic")
				g.log.Error("request handler panicked", "panic", r, "stack", string(debug.Stack()))
				g.send(ctx, iq.Error(newError(stanza.InternalServerError, "the gateway failed to handle the request")))
			}
		}()
		f(ctx)
	}
	if !g.async(guarded) {
		g.m.Error(g.cfg.Domain, "busy")
		return writeIQError(t, iq, newError(stanza.ResourceConstraint, "the gateway is busy; try again in a moment"))
	}
	deferReply(t)
	return nil
}

// register runs the transport's Register and stores the result. A new
// registration is followed by the XEP-0100 presence subscription.
func (g *Gateway) register(ctx context.Context, iq stanza.IQ, values map[string]string) {
	user := iq.From.Bare()
	prev, err := g.lookupRegistration(ctx, user)
	if err != nil {
		g.log.Error("registration lookup failed", "user", user.String(), "err", err)
		g.send(ctx, iq.Error(newError(stanza.InternalServerError, "the registration store is unavailable; try again later")))
		return
	}
	reg := transports.Registration{User: user.String(), Settings: values}
	if g.registrar != nil {
		var p *transports.Registration
		if prev != nil {
			p = &transports.Registration{User: prev.User, RemoteID: prev.RemoteID, Settings: prev.Settings}
		}
		reg, err = g.registrar.Register(ctx, user.String(), values, p)
		if err != nil {
			g.log.Info("registration refused", "user", user.String(), "err", err)
			g.send(ctx, iq.Error(transportError(err, "the registration failed")))
			return
		}
	}
	now := g.now()
	created, err := g.st.PutRegistration(ctx, store.Registration{
		Transport: g.t.Name(),
		User:      user.String(),
		RemoteID:  reg.RemoteID,
		Settings:  reg.Settings,
		Created:   now,
		Updated:   now,
	})
	if err != nil {
		var ce *store.ConflictError
		if !errors.As(err, &ce) {
			g.log.Error("storing a registration failed", "user", user.String(), "err", err)
		}
		g.send(ctx, iq.Error(transportError(err, "the registration could not be stored; try again later")))
		return
	}
	g.log.Info("registered", "user", user.String(), "new", created)
	g.send(ctx, iq.Result(nil))
	if created {
		g.sendAll(ctx, g.registeredPresence(user)...)
	}
}

// unregister answers an XEP-0077 <remove/>.
func (g *Gateway) unregister(ctx context.Context, iq stanza.IQ) {
	if e, ok := g.removeRegistration(ctx, iq.From); !ok {
		g.send(ctx, iq.Error(e))
		return
	}
	g.send(ctx, iq.Result(nil))
	g.sendAll(ctx, g.unregisteredPresence(iq.From)...)
}

// removeRegistration releases and deletes the user's registration. The
// transport's Unregister failing is logged, not fatal: a user must always be
// able to leave. When it reports false, the stanza error is for the user.
func (g *Gateway) removeRegistration(ctx context.Context, from jid.JID) (stanza.Error, bool) {
	user := from.Bare()
	reg, err := g.lookupRegistration(ctx, user)
	if err != nil {
		g.log.Error("registration lookup failed", "user", user.String(), "err", err)
		return newError(stanza.InternalServerError, "the registration store is unavailable; try again later"), false
	}
	if reg == nil {
		return newError(stanza.RegistrationRequired, "you are not registered with "+g.cfg.Domain), false
	}
	if g.registrar != nil {
		err := g.registrar.Unregister(ctx, transports.Registration{User: reg.User, RemoteID: reg.RemoteID, Settings: reg.Settings})
		if err != nil {
			g.log.Warn("transport could not release a registration", "user", user.String(), "err", err)
		}
	}
	err = g.st.DeleteRegistration(ctx, g.t.Name(), user.String())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		g.log.Error("deleting a registration failed", "user", user.String(), "err", err)
		return newError(stanza.InternalServerError, "the registration could not be removed; try again later"), false
	}
	g.log.Info("unregistered", "user", user.String())
	return stanza.Error{}, true
}
