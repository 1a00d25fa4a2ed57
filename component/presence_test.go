package component

import "testing"

func TestPresence(t *testing.T) {
	tests := []struct {
		name       string
		registered bool
		in         string
		want       []string
	}{
		{
			name: "subscribe to the domain, not registered",
			in:   `<presence type='subscribe' from='alice@example.org' to='sms.example.org'/>`,
			want: []string{`<presence from='sms.example.org' to='alice@example.org' type='unsubscribed'/>`},
		},
		{
			name:       "subscribe to the domain, registered",
			registered: true,
			in:         `<presence type='subscribe' id='s1' from='alice@example.org' to='sms.example.org'><nick xmlns='http://jabber.org/protocol/nick'>Alice</nick><status>hi</status></presence>`,
			want: []string{
				`<presence from='sms.example.org' to='alice@example.org' type='subscribed'/>`,
				`<presence from='sms.example.org' to='alice@example.org'/>`,
			},
		},
		{
			name: "probe the domain, not registered",
			in:   `<presence type='probe' from='alice@example.org' to='sms.example.org'/>`,
			want: []string{`<presence from='sms.example.org' to='alice@example.org' type='unavailable'/>`},
		},
		{
			name:       "probe the domain, registered",
			registered: true,
			in:         `<presence type='probe' from='alice@example.org' to='sms.example.org'/>`,
			want:       []string{`<presence from='sms.example.org' to='alice@example.org'/>`},
		},
		{
			name: "subscribe to a contact",
			in:   `<presence type='subscribe' from='alice@example.org/phone' to='+15551234567@sms.example.org'/>`,
			want: []string{
				`<presence from='+15551234567@sms.example.org' to='alice@example.org' type='subscribed'/>`,
				`<presence from='+15551234567@sms.example.org' to='alice@example.org'/>`,
			},
		},
		{
			name: "subscribe to an invalid contact",
			in:   `<presence type='subscribe' from='alice@example.org' to='bob@sms.example.org'/>`,
			want: []string{`<presence from='bob@sms.example.org' to='alice@example.org' type='error'>` +
				errElem("modify", "jid-malformed", "bob is not a phone number in international format (+15551234567)") + `</presence>`},
		},
		{
			name: "probe a contact",
			in:   `<presence type='probe' from='alice@example.org' to='+15551234567@sms.example.org'/>`,
			want: []string{`<presence from='+15551234567@sms.example.org' to='alice@example.org'/>`},
		},
		{
			name: "probe an invalid contact",
			in:   `<presence type='probe' from='alice@example.org' to='bob@sms.example.org'/>`,
			want: []string{`<presence from='bob@sms.example.org' to='alice@example.org' type='unavailable'/>`},
		},
		{
			name:       "available presence is not answered",
			registered: true,
			in:         `<presence from='alice@example.org/phone' to='sms.example.org'><show>away</show><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>`,
		},
		{
			name: "unsubscribe is not answered",
			in:   `<presence type='unsubscribe' from='alice@example.org' to='sms.example.org'/>`,
		},
		{
			name: "stranger",
			in:   `<presence type='subscribe' from='mallory@evil.example' to='sms.example.org'/>`,
			want: []string{`<presence from='sms.example.org' to='mallory@evil.example' type='error'>` +
				errElem("auth", "forbidden", "mallory@evil.example is not allowed to use sms.example.org; ask the operator of this gateway") + `</presence>`},
		},
		{
			name: "presence error",
			in:   `<presence type='error' from='alice@example.org' to='sms.example.org'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTestGateway(t, newFakeTransport(), nil)
			if tc.registered {
				registerUser(tg, "alice@example.org", "+1")
			}
			check(t, tg.handle(t, tc.in), tc.want)
		})
	}
}

func TestGatewayIQ(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{
			name: "get",
			in:   `<iq type='get' id='g1' from='alice@example.org/phone' to='sms.example.org'><query xmlns='jabber:iq:gateway'/></iq>`,
			want: []string{`<iq from='sms.example.org' id='g1' to='alice@example.org/phone' type='result'><query xmlns='jabber:iq:gateway'>` +
				`<desc>Enter the phone number of the contact</desc><prompt>Phone number</prompt></query></iq>`},
		},
		{
			name: "set",
			in:   `<iq type='set' id='g2' from='alice@example.org/phone' to='sms.example.org'><query xmlns='jabber:iq:gateway'><prompt>06 12 34 56 78</prompt></query></iq>`,
			want: []string{`<iq from='sms.example.org' id='g2' to='alice@example.org/phone' type='result'><query xmlns='jabber:iq:gateway'>` +
				`<jid>+33612345678@sms.example.org</jid></query></iq>`},
		},
		{
			name: "set with bad input",
			in:   `<iq type='set' id='g3' from='alice@example.org/phone' to='sms.example.org'><query xmlns='jabber:iq:gateway'><prompt>bob</prompt></query></iq>`,
			want: []string{`<iq from='sms.example.org' id='g3' to='alice@example.org/phone' type='error'>` +
				errElem("modify", "not-acceptable", "bob is not a phone number in international format (+15551234567)") + `</iq>`},
		},
		{
			name: "set without prompt",
			in:   `<iq type='set' id='g4' from='alice@example.org/phone' to='sms.example.org'><query xmlns='jabber:iq:gateway'/></iq>`,
			want: []string{`<iq from='sms.example.org' id='g4' to='alice@example.org/phone' type='error'>` +
				errElem("modify", "bad-request", "the <prompt/> with the address to translate is missing") + `</iq>`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTestGateway(t, newFakeTransport(), nil)
			check(t, tg.handle(t, tc.in), tc.want)
		})
	}
}
