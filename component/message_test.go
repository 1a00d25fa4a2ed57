package component

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"xgate/transports"
)

func TestMessageToContact(t *testing.T) {
	const to = "+15551234567@sms.example.org"
	key := "alice@example.org " + to
	tests := []struct {
		name string
		in   string
		want transports.Message // zero: nothing queued
	}{
		{
			name: "chat with everything",
			in: `<message type='chat' id='m1' from='alice@example.org/phone' to='+15551234567@sms.example.org'>` +
				`<body>hello</body><subject>hi</subject><thread>t1</thread>` +
				`<x xmlns='jabber:x:oob'><url>https://example.org/a.jpg</url></x>` +
				`<request xmlns='urn:xmpp:receipts'/><origin-id xmlns='urn:xmpp:sid:0' id='o1'/>` +
				`<active xmlns='http://jabber.org/protocol/chatstates'/></message>`,
			want: transports.Message{ID: "m1", OriginID: "o1", From: alice, To: to, Type: "chat", Body: "hello", Subject: "hi",
				Thread: "t1", OOB: []string{"https://example.org/a.jpg"}, WantReceipt: true, Stamp: testNow},
		},
		{
			name: "no type is normal",
			in:   `<message id='m2' from='alice@example.org/phone' to='+15551234567@sms.example.org'><body>hello</body></message>`,
			want: transports.Message{ID: "m2", From: alice, To: to, Type: "normal", Body: "hello", Stamp: testNow},
		},
		{
			name: "groupchat keeps its type",
			in:   `<message type='groupchat' id='m3' from='alice@example.org/phone' to='+15551234567@sms.example.org'><body>all</body></message>`,
			want: transports.Message{ID: "m3", From: alice, To: to, Type: "groupchat", Body: "all", Stamp: testNow},
		},
		{
			name: "nested body is not the body",
			in: `<message type='chat' id='m4' from='alice@example.org/phone' to='+15551234567@sms.example.org'>` +
				`<x xmlns='urn:example'><body>nested</body></x><body>real</body></message>`,
			want: transports.Message{ID: "m4", From: alice, To: to, Type: "chat", Body: "real", Stamp: testNow},
		},
		{
			name: "languages: the stanza's own wins",
			in: `<message type='chat' id='m5' xml:lang='de' from='alice@example.org/phone' to='+15551234567@sms.example.org'>` +
				`<body xml:lang='en'>hello</body><body xml:lang='de'>hallo</body></message>`,
			want: transports.Message{ID: "m5", From: alice, To: to, Type: "chat", Body: "hallo", Stamp: testNow},
		},
		{
			name: "OOB without body",
			in: `<message type='chat' id='m6' from='alice@example.org/phone' to='+15551234567@sms.example.org'>` +
				`<x xmlns='jabber:x:oob'><url>https://a</url></x><x xmlns='jabber:x:oob'><url>https://b</url></x></message>`,
			want: transports.Message{ID: "m6", From: alice, To: to, Type: "chat", OOB: []string{"https://a", "https://b"}, Stamp: testNow},
		},
		{
			name: "chat state only",
			in:   `<message type='chat' id='m7' from='alice@example.org/phone' to='+15551234567@sms.example.org'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`,
		},
		{
			name: "empty body",
			in:   `<message type='chat' id='m8' from='alice@example.org/phone' to='+15551234567@sms.example.org'><body/></message>`,
		},
		{
			name: "body in another namespace",
			in:   `<message type='chat' id='m9' from='alice@example.org/phone' to='+15551234567@sms.example.org'><body xmlns='urn:example'>x</body></message>`,
		},
		{
			name: "headline",
			in:   `<message type='headline' id='m10' from='alice@example.org/phone' to='+15551234567@sms.example.org'><body>news</body></message>`,
		},
		{
			name: "error message is never answered",
			in:   `<message type='error' id='m11' from='alice@example.org/phone' to='bad@sms.example.org'><body>x</body></message>`,
		},
		{
			name: "empty message",
			in:   `<message type='chat' id='m12' from='alice@example.org/phone' to='+15551234567@sms.example.org'/>`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTestGateway(t, newFakeTransport(), nil)
			check(t, tg.handle(t, tc.in), nil)
			items := tg.st.outbox.all()
			if tc.want.From == "" {
				if len(items) != 0 || tg.wakes.Load() != 0 {
					t.Fatalf("queued %d items, woke %d times; want nothing", len(items), tg.wakes.Load())
				}
				return
			}
			if len(items) != 1 {
				t.Fatalf("queued %d items, want 1", len(items))
			}
			it := items[0]
			if it.Transport != "sms" || it.Key != key || !it.Deadline.Equal(testNow.Add(time.Hour)) || !it.NextAttempt.Equal(testNow) {
				t.Errorf("item = transport %q key %q deadline %v next %v", it.Transport, it.Key, it.Deadline, it.NextAttempt)
			}
			m, err := transports.DecodeMessage(it.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if !m.Stamp.Equal(tc.want.Stamp) {
				t.Errorf("stamp %v, want %v", m.Stamp, tc.want.Stamp)
			}
			m.Stamp = tc.want.Stamp
			if !reflect.DeepEqual(m, tc.want) {
				t.Errorf("queued\n %+v\nwant\n %+v", m, tc.want)
			}
			if tg.wakes.Load() != 1 {
				t.Errorf("outbox woken %d times, want 1", tg.wakes.Load())
			}
		})
	}
}

func TestMessageErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{
			name: "invalid address",
			in:   `<message type='chat' id='e1' from='alice@example.org/phone' to='bob@sms.example.org'><body>hi</body></message>`,
			want: []string{`<message from='bob@sms.example.org' id='e1' to='alice@example.org/phone' type='error'>` +
				errElem("modify", "jid-malformed", "bob is not a phone number in international format (+15551234567)") + `</message>`},
		},
		{
			name: "oversize body",
			in:   `<message type='chat' id='e2' from='alice@example.org/phone' to='+1555@sms.example.org'><body>` + strings.Repeat("a", 90) + `</body><subject>` + strings.Repeat("s", 11) + `</subject></message>`,
			want: []string{`<message from='+1555@sms.example.org' id='e2' to='alice@example.org/phone' type='error'>` +
				errElem("modify", "not-acceptable", "message too large: 101 bytes of text, the limit is 100 bytes") + `</message>`},
		},
		{
			name: "oversize with OOB",
			in: `<message type='chat' id='e3' from='alice@example.org/phone' to='+1555@sms.example.org'><body>` + strings.Repeat("a", 80) + `</body>` +
				`<x xmlns='jabber:x:oob'><url>https://example.org/x</url></x></message>`,
			want: []string{`<message from='+1555@sms.example.org' id='e3' to='alice@example.org/phone' type='error'>` +
				errElem("modify", "not-acceptable", "message too large: 101 bytes of text, the limit is 100 bytes") + `</message>`},
		},
		{
			name: "stranger",
			in:   `<message type='chat' id='e4' from='mallory@evil.example/x' to='+1555@sms.example.org'><body>spam</body></message>`,
			want: []string{`<message from='+1555@sms.example.org' id='e4' to='mallory@evil.example/x' type='error'>` +
				errElem("auth", "forbidden", "mallory@evil.example is not allowed to use sms.example.org; ask the operator of this gateway") + `</message>`},
		},
		{
			name: "stranger's error is not answered",
			in:   `<message type='error' id='e5' from='mallory@evil.example/x' to='+1555@sms.example.org'><body>spam</body></message>`,
		},
		{
			name: "to the domain: help text",
			in:   `<message type='chat' id='e6' from='alice@example.org/phone' to='sms.example.org'><body>help</body></message>`,
			want: []string{`<message from='sms.example.org' id='id1' to='alice@example.org/phone' type='chat'><body>This is SMS gateway (sms.example.org). ` +
				`To reach someone, write to their address at this domain, for example +15551234567@sms.example.org. ` +
				`Register through service discovery, and use the ad-hoc commands (status, unregister) to manage your account. ` +
				`Your client can also turn a phone number into an address (XEP-0100).</body></message>`},
		},
		{
			name: "to the domain without body",
			in:   `<message type='chat' id='e7' from='alice@example.org/phone' to='sms.example.org'><gone xmlns='http://jabber.org/protocol/chatstates'/></message>`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTestGateway(t, newFakeTransport(), nil)
			check(t, tg.handle(t, tc.in), tc.want)
			if n := len(tg.st.outbox.all()); n != 0 {
				t.Errorf("queued %d items, want none", n)
			}
		})
	}
}

func TestMessageStoreDown(t *testing.T) {
	tg := newTestGateway(t, newFakeTransport(), nil)
	tg.st.outbox.fail = errStoreDown
	got := tg.handle(t, `<message type='chat' id='s1' from='alice@example.org/phone' to='+1555@sms.example.org'><body>hi</body></message>`)
	check(t, got, []string{`<message from='+1555@sms.example.org' id='s1' to='alice@example.org/phone' type='error'>` +
		errElem("wait", "internal-server-error", "the gateway could not store the message, it was not sent; try again later") + `</message>`})
	if tg.wakes.Load() != 0 {
		t.Error("outbox woken after a failed enqueue")
	}
}

// The limit is on the text: exactly MaxStanzaSize bytes pass.
func TestMessageAtLimit(t *testing.T) {
	tg := newTestGateway(t, newFakeTransport(), nil)
	check(t, tg.handle(t, `<message type='chat' id='l1' from='alice@example.org/phone' to='+1555@sms.example.org'><body>`+strings.Repeat("é", 50)+`</body></message>`), nil)
	if n := len(tg.st.outbox.all()); n != 1 {
		t.Fatalf("queued %d, want 1", n)
	}
}

func TestMessageHelpIsRateLimited(t *testing.T) {
	tg := newTestGateway(t, newFakeTransport(), nil)
	in := `<message type='chat' from='alice@example.org/phone' to='sms.example.org'><body>hello?</body></message>`
	if got := tg.handle(t, in); len(got) != 1 || !strings.Contains(got[0], "This is SMS gateway") {
		t.Fatalf("first message: %v", got)
	}
	if got := tg.handle(t, `<message type='chat' from='alice@example.org/laptop' to='sms.example.org'><body>again</body></message>`); len(got) != 0 {
		t.Errorf("second help text within a minute: %v", got)
	}
	if got := tg.handle(t, `<message type='chat' from='bob@example.org/x' to='sms.example.org'><body>hi</body></message>`); len(got) != 1 {
		t.Errorf("another user got %v, want a help text", got)
	}
	tg.now = func() time.Time { return testNow.Add(helpEvery) }
	if got := tg.handle(t, in); len(got) != 1 {
		t.Errorf("a minute later: %v, want a help text", got)
	}
}
