package component

import (
	"context"
	"strings"
	"testing"

	"xgate/transports"
)

const (
	alice   = "alice@example.org/phone"
	errNS   = "urn:ietf:params:xml:ns:xmpp-stanzas"
	errText = "<text xmlns='" + errNS + "' xml:lang='en'>"
)

// errStanza is the canonical form of an error element.
func errElem(typ, cond, text string) string {
	return "<error type='" + typ + "'><" + cond + " xmlns='" + errNS + "'/>" + errText + esc(text) + "</text></error>"
}

func TestRouterIQ(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{
			name: "disco#info on the domain",
			in:   `<iq type='get' id='d1' from='alice@example.org/phone' to='sms.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
			want: []string{`<iq from='sms.example.org' id='d1' to='alice@example.org/phone' type='result'><query xmlns='http://jabber.org/protocol/disco#info'>` +
				`<identity category='gateway' name='SMS gateway' type='sms'/>` +
				`<feature var='http://jabber.org/protocol/disco#info'/><feature var='http://jabber.org/protocol/disco#items'/>` +
				`<feature var='http://jabber.org/protocol/commands'/><feature var='jabber:iq:register'/>` +
				`<feature var='jabber:iq:version'/><feature var='urn:xmpp:ping'/><feature var='jabber:x:data'/><feature var='jabber:iq:gateway'/></query></iq>`},
		},
		{
			name: "disco#info on a contact",
			in:   `<iq type='get' id='d2' from='alice@example.org/phone' to='+15551234567@sms.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
			want: []string{`<iq from='+15551234567@sms.example.org' id='d2' to='alice@example.org/phone' type='result'><query xmlns='http://jabber.org/protocol/disco#info'>` +
				`<identity category='client' name='+15551234567' type='sms'/><feature var='http://jabber.org/protocol/disco#info'/></query></iq>`},
		},
		{
			name: "disco#info on an invalid contact",
			in:   `<iq type='get' id='d3' from='alice@example.org/phone' to='bob@sms.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
			want: []string{`<iq from='bob@sms.example.org' id='d3' to='alice@example.org/phone' type='error'>` +
				errElem("cancel", "item-not-found", "bob is not a phone number in international format (+15551234567)") + `</iq>`},
		},
		{
			name: "disco#info on the command node",
			in:   `<iq type='get' id='d4' from='alice@example.org/phone' to='sms.example.org'><query xmlns='http://jabber.org/protocol/disco#info' node='http://jabber.org/protocol/commands'/></iq>`,
			want: []string{`<iq from='sms.example.org' id='d4' to='alice@example.org/phone' type='result'><query xmlns='http://jabber.org/protocol/disco#info' node='http://jabber.org/protocol/commands'>` +
				`<identity category='automation' name='Commands' type='command-list'/><feature var='http://jabber.org/protocol/disco#info'/>` +
				`<feature var='http://jabber.org/protocol/disco#items'/><feature var='http://jabber.org/protocol/commands'/></query></iq>`},
		},
		{
			name: "disco#info on an unknown node",
			in:   `<iq type='get' id='d5' from='alice@example.org/phone' to='sms.example.org'><query xmlns='http://jabber.org/protocol/disco#info' node='nope'/></iq>`,
			want: []string{`<iq from='sms.example.org' id='d5' to='alice@example.org/phone' type='error'>` + errElem("cancel", "item-not-found", "no such node") + `</iq>`},
		},
		{
			name: "disco#items on the domain",
			in:   `<iq type='get' id='i1' from='alice@example.org/phone' to='sms.example.org'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`,
			want: []string{`<iq from='sms.example.org' id='i1' to='alice@example.org/phone' type='result'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`},
		},
		{
			name: "disco#items lists commands",
			in:   `<iq type='get' id='i2' from='alice@example.org/phone' to='sms.example.org'><query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/></iq>`,
			want: []string{`<iq from='sms.example.org' id='i2' to='alice@example.org/phone' type='result'><query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'>` +
				`<item jid='sms.example.org' name='Status' node='status'/><item jid='sms.example.org' name='Unregister' node='unregister'/></query></iq>`},
		},
		{
			name: "version",
			in:   `<iq type='get' id='v1' from='alice@example.org/phone' to='sms.example.org'><query xmlns='jabber:iq:version'/></iq>`,
			want: []string{`<iq from='sms.example.org' id='v1' to='alice@example.org/phone' type='result'><query xmlns='jabber:iq:version'><name>xgate</name><version>1.2.3</version><os>linux</os></query></iq>`},
		},
		{
			name: "ping from the server",
			in:   `<iq type='get' id='p1' from='example.org' to='sms.example.org'><ping xmlns='urn:xmpp:ping'/></iq>`,
			want: []string{`<iq from='sms.example.org' id='p1' to='example.org' type='result'/>`},
		},
		{
			name: "ping a contact",
			in:   `<iq type='get' id='p2' from='alice@example.org/phone' to='+15551234567@sms.example.org'><ping xmlns='urn:xmpp:ping'/></iq>`,
			want: []string{`<iq from='+15551234567@sms.example.org' id='p2' to='alice@example.org/phone' type='error'>` + errElem("cancel", "service-unavailable", "contacts on this gateway cannot be pinged") + `</iq>`},
		},
		{
			name: "unknown payload",
			in:   `<iq type='get' id='u1' from='alice@example.org/phone' to='sms.example.org'><query xmlns='urn:example:nothing'/></iq>`,
			want: []string{`<iq from='sms.example.org' id='u1' to='alice@example.org/phone' type='error'>` + errElem("cancel", "service-unavailable", "this request is not supported here") + `</iq>`},
		},
		{
			name: "set of a get-only payload",
			in:   `<iq type='set' id='u2' from='alice@example.org/phone' to='sms.example.org'><query xmlns='jabber:iq:version'/></iq>`,
			want: []string{`<iq from='sms.example.org' id='u2' to='alice@example.org/phone' type='error'>` + errElem("cancel", "service-unavailable", "this request is not supported here") + `</iq>`},
		},
		{
			name: "empty iq get",
			in:   `<iq type='get' id='e1' from='alice@example.org/phone' to='sms.example.org'/>`,
			want: []string{`<iq from='sms.example.org' id='e1' to='alice@example.org/phone' type='error'>` + errElem("modify", "bad-request", "the request could not be parsed") + `</iq>`},
		},
		{
			name: "text instead of a payload",
			in:   `<iq type='get' id='e2' from='alice@example.org/phone' to='sms.example.org'>hello</iq>`,
			want: []string{`<iq from='sms.example.org' id='e2' to='alice@example.org/phone' type='error'>` + errElem("modify", "bad-request", "the request could not be parsed") + `</iq>`},
		},
		{
			name: "unknown iq type is dropped",
			in:   `<iq type='fetch' id='e3' from='alice@example.org/phone' to='sms.example.org'><ping xmlns='urn:xmpp:ping'/></iq>`,
		},
		{
			name: "stranger",
			in:   `<iq type='get' id='f1' from='mallory@evil.example/x' to='sms.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
			want: []string{`<iq from='sms.example.org' id='f1' to='mallory@evil.example/x' type='error'>` +
				errElem("auth", "forbidden", "mallory@evil.example is not allowed to use sms.example.org; ask the operator of this gateway") + `</iq>`},
		},
		{
			name: "stranger from a subdomain",
			in:   `<iq type='get' id='f2' from='x@sub.example.org/x' to='sms.example.org'><ping xmlns='urn:xmpp:ping'/></iq>`,
			want: []string{`<iq from='sms.example.org' id='f2' to='x@sub.example.org/x' type='error'>` +
				errElem("auth", "forbidden", "x@sub.example.org is not allowed to use sms.example.org; ask the operator of this gateway") + `</iq>`},
		},
		{
			name: "result iq is not answered",
			in:   `<iq type='result' id='r1' from='alice@example.org/phone' to='sms.example.org'/>`,
		},
		{
			name: "error iq is not answered",
			in:   `<iq type='error' id='r2' from='mallory@evil.example/x' to='sms.example.org'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`,
		},
		{
			name: "no from",
			in:   `<iq type='get' id='n1' to='sms.example.org'><ping xmlns='urn:xmpp:ping'/></iq>`,
		},
		{
			name: "invalid from",
			in:   `<iq type='get' id='n2' from='a@b@c' to='sms.example.org'><ping xmlns='urn:xmpp:ping'/></iq>`,
		},
		{
			name: "invalid to",
			in:   `<iq type='get' id='n3' from='alice@example.org/phone' to='@sms.example.org'><ping xmlns='urn:xmpp:ping'/></iq>`,
			want: []string{`<iq id='n3' to='alice@example.org/phone' type='error'>` + errElem("modify", "jid-malformed", "the destination address is not a valid JID") + `</iq>`},
		},
		{
			name: "another domain",
			in:   `<iq type='get' id='n4' from='alice@example.org/phone' to='irc.example.org'><ping xmlns='urn:xmpp:ping'/></iq>`,
			want: []string{`<iq from='irc.example.org' id='n4' to='alice@example.org/phone' type='error'>` + errElem("cancel", "item-not-found", "this gateway only serves sms.example.org") + `</iq>`},
		},
		{
			name: "not a stanza",
			in:   `<foo xmlns='urn:example'><bar/></foo>`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTestGateway(t, newFakeTransport(), nil)
			check(t, tg.handle(t, tc.in), tc.want)
		})
	}
}

func TestRouterOversize(t *testing.T) {
	tg := newTestGateway(t, newFakeTransport(), nil)
	big := strings.Repeat("x", 100+envelopeSlack)
	got := tg.handle(t, `<iq type='set' id='big' from='alice@example.org/phone' to='sms.example.org'><query xmlns='jabber:iq:register'><phone>`+big+`</phone></query></iq>`)
	check(t, got, []string{`<iq from='sms.example.org' id='big' to='alice@example.org/phone' type='error'>` +
		errElem("modify", "not-acceptable", "stanza too large: the limit is 100 bytes") + `</iq>`})
}

func TestRouterNoGatewayWithoutPrompter(t *testing.T) {
	tg := newTestGateway(t, plainTransport{}, func(c *GatewayConfig) { c.Domain = "hook.example.org" })
	got := tg.handle(t, `<iq type='get' id='g1' from='alice@example.org/phone' to='hook.example.org'><query xmlns='jabber:iq:gateway'/></iq>`)
	check(t, got, []string{`<iq from='hook.example.org' id='g1' to='alice@example.org/phone' type='error'>` +
		errElem("cancel", "service-unavailable", "this request is not supported here") + `</iq>`})
	got = tg.handle(t, `<iq type='get' id='g2' from='alice@example.org/phone' to='hook.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	check(t, got, []string{`<iq from='hook.example.org' id='g2' to='alice@example.org/phone' type='result'><query xmlns='http://jabber.org/protocol/disco#info'>` +
		`<identity category='gateway' type='webhook'/>` +
		`<feature var='http://jabber.org/protocol/disco#info'/><feature var='http://jabber.org/protocol/disco#items'/>` +
		`<feature var='http://jabber.org/protocol/commands'/><feature var='jabber:iq:register'/>` +
		`<feature var='jabber:iq:version'/><feature var='urn:xmpp:ping'/><feature var='jabber:x:data'/></query></iq>`})
}

func TestRouterReceiptsFeature(t *testing.T) {
	ft := newFakeTransport()
	ft.receipts = true
	tg := newTestGateway(t, ft, nil)
	got := tg.handle(t, `<iq type='get' id='d' from='alice@example.org/phone' to='+1555@sms.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	check(t, got, []string{`<iq from='+1555@sms.example.org' id='d' to='alice@example.org/phone' type='result'><query xmlns='http://jabber.org/protocol/disco#info'>` +
		`<identity category='client' name='+1555' type='sms'/><feature var='http://jabber.org/protocol/disco#info'/><feature var='urn:xmpp:receipts'/></query></iq>`})
}

// panicky is a transport whose code panics: the router survives it.
type panicky struct{ *fakeTransport }

func (panicky) CheckAddress(string) error { panic("boom") }
func (panicky) Register(context.Context, string, map[string]string, *transports.Registration) (transports.Registration, error) {
	panic("boom")
}

func TestRouterSurvivesPanics(t *testing.T) {
	tg := newTestGateway(t, panicky{newFakeTransport()}, nil)
	check(t, tg.handle(t, `<iq type='get' id='p' from='alice@example.org/phone' to='+1@sms.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`), []string{
		`<iq from='+1@sms.example.org' id='p' to='alice@example.org/phone' type='error'>` + errElem("cancel", "internal-server-error", "the gateway failed to handle the request") + `</iq>`,
	})
	check(t, tg.handle(t, `<message type='chat' id='m' from='alice@example.org/phone' to='+1@sms.example.org'><body>x</body></message>`), nil)
	check(t, tg.handle(t, registerIQ("r", `<phone>+1</phone>`)), []string{
		`<iq from='sms.example.org' id='r' to='alice@example.org/phone' type='error'>` + errElem("cancel", "internal-server-error", "the gateway failed to handle the request") + `</iq>`,
	})
}
