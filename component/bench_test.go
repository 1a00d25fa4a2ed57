package component

import (
	"bytes"
	"encoding/xml"
	"io"
	"testing"
)

// benchIO decodes one stanza and encodes what the router writes, like the
// session does around a handler.
type benchIO struct {
	xml.TokenReader
	*xml.Encoder
}

// benchStanza measures decode → route → encode for one stanza, the store
// being the in-memory fake.
func benchStanza(b *testing.B, in string) {
	tg := newTestGateway(b, newFakeTransport(), nil)
	registerUser(tg, "alice@example.org", "+1")
	data := []byte(in)
	enc := xml.NewEncoder(io.Discard)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		d := xml.NewDecoder(bytes.NewReader(data))
		tok, err := d.Token()
		if err != nil {
			b.Fatal(err)
		}
		start := tok.(xml.StartElement)
		if err := tg.HandleXMPP(benchIO{d, enc}, &start); err != nil {
			b.Fatal(err)
		}
		if err := enc.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStanzaMessageToOutbox(b *testing.B) {
	benchStanza(b, `<message type='chat' id='m1' from='alice@example.org/phone' to='+15551234567@sms.example.org'>`+
		`<body>Hello, this is a typical short text message.</body><request xmlns='urn:xmpp:receipts'/>`+
		`<origin-id xmlns='urn:xmpp:sid:0' id='o1'/><active xmlns='http://jabber.org/protocol/chatstates'/></message>`)
}

func BenchmarkStanzaDiscoInfo(b *testing.B) {
	benchStanza(b, `<iq type='get' id='d1' from='alice@example.org/phone' to='sms.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
}

func BenchmarkStanzaPing(b *testing.B) {
	benchStanza(b, `<iq type='get' id='p1' from='example.org' to='sms.example.org'><ping xmlns='urn:xmpp:ping'/></iq>`)
}

func BenchmarkStanzaForbidden(b *testing.B) {
	benchStanza(b, `<message type='chat' id='m1' from='mallory@evil.example/x' to='+15551234567@sms.example.org'><body>spam</body></message>`)
}
