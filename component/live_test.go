package component

import (
	"context"
	"encoding/xml"
	"testing"

	"xgate/transports"
)

// liveTransport is a fakeTransport that is also a StanzaHandler: it records
// what it is offered and takes it when handled is set.
type liveTransport struct {
	*fakeTransport
	handled bool
	got     []transports.Stanza
}

func (l *liveTransport) HandleStanza(ctx context.Context, st transports.Stanza) bool {
	l.got = append(l.got, st)
	return l.handled
}

func TestLiveHook(t *testing.T) {
	type body struct {
		XMLName xml.Name
		Body    string `xml:"body"`
		X       *struct {
			Password string `xml:"password"`
		} `xml:"http://jabber.org/protocol/muc x"`
	}
	tests := []struct {
		name    string
		handled bool
		in      string
		offered bool // the transport saw it
		kind    string
		want    []string // what the component itself wrote
		check   func(t *testing.T, st transports.Stanza)
	}{
		{
			name: "presence to a contact, handled", handled: true, offered: true, kind: "presence",
			in: `<presence id='p1' from='alice@example.org/phone' to='+15551234567@sms.example.org/alice' xml:lang='fr'><x xmlns='http://jabber.org/protocol/muc'><password>k</password></x></presence>`,
			check: func(t *testing.T, st transports.Stanza) {
				if st.From != "alice@example.org/phone" || st.To != "+15551234567@sms.example.org/alice" || st.ID != "p1" || st.Type != "" || st.Lang != "fr" {
					t.Errorf("head = %+v", st)
				}
				var b body
				if err := st.Decode(&b); err != nil || b.X == nil || b.X.Password != "k" {
					t.Errorf("decode: %+v %v", b, err)
				}
			},
		},
		{
			name: "groupchat message, handled: not queued", handled: true, offered: true, kind: "message",
			in: `<message type='groupchat' id='m1' from='alice@example.org/phone' to='+15551234567@sms.example.org'><body>hi</body></message>`,
			check: func(t *testing.T, st transports.Stanza) {
				var b body
				if err := st.Decode(&b); err != nil || b.Body != "hi" || st.Type != "groupchat" {
					t.Errorf("decode: %+v %v", b, err)
				}
			},
		},
		{
			name: "iq to a contact, handled: no service-unavailable", handled: true, offered: true, kind: "iq",
			in: `<iq type='get' id='q1' from='alice@example.org/phone' to='+15551234567@sms.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
		},
		{
			name: "not handled: the component answers", handled: false, offered: true, kind: "presence",
			in:   `<presence type='probe' from='alice@example.org' to='+15551234567@sms.example.org'/>`,
			want: []string{`<presence from='+15551234567@sms.example.org' to='alice@example.org'/>`},
		},
		{
			name: "to the domain: not offered", handled: true,
			in:   `<presence type='probe' from='alice@example.org' to='sms.example.org'/>`,
			want: []string{`<presence from='sms.example.org' to='alice@example.org' type='unavailable'/>`},
		},
		{
			name: "stranger: not offered", handled: true,
			in: `<presence from='mallory@evil.example' to='+15551234567@sms.example.org'/>`,
			want: []string{`<presence from='+15551234567@sms.example.org' to='mallory@evil.example' type='error'>` +
				errElem("auth", "forbidden", "mallory@evil.example is not allowed to use sms.example.org; ask the operator of this gateway") + `</presence>`},
		},
		{
			name: "error stanza: not offered", handled: true,
			in: `<presence type='error' from='alice@example.org' to='+15551234567@sms.example.org'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>`,
		},
		{
			name: "iq result: not offered", handled: true,
			in: `<iq type='result' id='r1' from='alice@example.org/phone' to='+15551234567@sms.example.org'/>`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lt := &liveTransport{fakeTransport: newFakeTransport(), handled: tc.handled}
			tg := newTestGateway(t, lt, nil)
			check(t, tg.handle(t, tc.in), tc.want)
			if !tc.offered {
				if len(lt.got) != 0 {
					t.Fatalf("offered %d stanzas, want none", len(lt.got))
				}
				return
			}
			if len(lt.got) != 1 {
				t.Fatalf("offered %d stanzas, want 1", len(lt.got))
			}
			if st := lt.got[0]; st.Name != tc.kind {
				t.Errorf("kind = %q, want %q", st.Name, tc.kind)
			}
			if tc.check != nil {
				tc.check(t, lt.got[0])
			}
			if tc.handled && tc.kind == "message" && len(tg.st.outbox.items) != 0 {
				t.Errorf("a handled message was queued")
			}
		})
	}
}
