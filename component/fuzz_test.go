package component

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"testing"
)

// checkedIO is the handler's TokenReadEncoder in the fuzz target: what the
// router writes must be well-formed XML, which an xml.Encoder checks.
type checkedIO struct {
	xml.TokenReader
	enc *xml.Encoder
	bad *error // the first write error: the router swallows handler errors
}

func (c checkedIO) EncodeToken(t xml.Token) error {
	if err := c.enc.EncodeToken(t); err != nil {
		if *c.bad == nil {
			*c.bad = fmt.Errorf("router wrote bad XML: %w", err)
		}
		return *c.bad
	}
	return nil
}
func (c checkedIO) Encode(v any) error { return c.enc.Encode(v) }
func (c checkedIO) EncodeElement(v any, start xml.StartElement) error {
	return c.enc.EncodeElement(v, start)
}

// FuzzHandleXMPP feeds arbitrary XML to the router as a stream of stanzas:
// it must never panic, never write malformed XML, and only fail on input that
// is not XML.
func FuzzHandleXMPP(f *testing.F) {
	for _, s := range []string{
		`<iq type='get' id='1' from='alice@example.org/p' to='sms.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
		`<iq type='get' id='1' from='alice@example.org/p' to='+1@sms.example.org'><query xmlns='http://jabber.org/protocol/disco#info' node='x'/></iq>`,
		`<iq type='set' id='2' from='alice@example.org/p' to='sms.example.org'><query xmlns='jabber:iq:register'><phone>+1</phone></query></iq>`,
		`<iq type='set' id='2' from='alice@example.org/p' to='sms.example.org'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'><field var='phone'><value>+1</value><value>2</value></field></x></query></iq>`,
		`<iq type='set' id='2' from='alice@example.org/p' to='sms.example.org'><query xmlns='jabber:iq:register'><remove/></query></iq>`,
		`<iq type='set' id='3' from='alice@example.org/p' to='sms.example.org'><command xmlns='http://jabber.org/protocol/commands' node='unregister'/></iq>`,
		`<iq type='set' id='3' from='alice@example.org/p' to='sms.example.org'><command xmlns='http://jabber.org/protocol/commands' node='status' sessionid='id1' action='next'><x xmlns='jabber:x:data' type='submit'/></command></iq>`,
		`<iq type='set' id='4' from='alice@example.org/p' to='sms.example.org'><query xmlns='jabber:iq:gateway'><prompt>0612345678</prompt></query></iq>`,
		`<iq type='get' id='5' from='alice@example.org/p' to='sms.example.org'/>`,
		`<iq type='get' from='' to=''>text<!-- c --></iq>`,
		`<message type='chat' id='m' from='alice@example.org/p' to='+1555@sms.example.org'><body>hi</body><x xmlns='jabber:x:oob'><url>u</url></x><body xml:lang='de'>x</body></message>`,
		`<message from='alice@example.org/p' to='sms.example.org'><body>help</body></message>`,
		`<message type='error' from='x@y' to='z'><body/></message>`,
		`<presence type='subscribe' from='alice@example.org' to='sms.example.org'><c xmlns='x'/><status>s</status></presence>`,
		`<presence type='probe' from='alice@example.org' to='bob@sms.example.org'/>`,
		`<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>`,
		`<message xmlns='jabber:component:accept' from='a@example.org/r' to='+1@sms.example.org' type='chat'><body>x</body></message><iq type='result' id='x'/>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tg := newTestGateway(t, newFakeTransport(), nil)
		registerUser(tg, "alice@example.org", "+1")
		d := xml.NewDecoder(bytes.NewReader(data))
		var out bytes.Buffer
		var bad error
		io := checkedIO{TokenReader: d, enc: xml.NewEncoder(&out), bad: &bad}
		for n := 0; n < 20; n++ {
			tok, err := d.Token()
			if err != nil {
				break
			}
			start, ok := tok.(xml.StartElement)
			if !ok {
				continue
			}
			if err := tg.HandleXMPP(io, &start); err != nil {
				break // the input is not XML: the stream would end here
			}
			if bad != nil {
				t.Fatal(bad)
			}
		}
		tg.asyncWG.Wait()
		if err := io.enc.Flush(); err != nil {
			t.Fatal(err)
		}
	})
}
