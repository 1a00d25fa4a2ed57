package component

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mellium.im/xmlstream"

	"xgate/transports"
)

// testNow is the fixed clock of the test gateways.
var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// recorder collects the stanzas a Gateway writes, both those a handler writes
// to its TokenReadEncoder and those sent with Send, as canonical strings (see
// canon), in the order they were written.
type recorder struct {
	mu      sync.Mutex
	stanzas []string
	sendErr error
}

func (r *recorder) add(toks []xml.Token) {
	s := canon(toks)
	r.mu.Lock()
	r.stanzas = append(r.stanzas, s)
	r.mu.Unlock()
}

// take returns and forgets what was recorded so far.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stanzas
	r.stanzas = nil
	return s
}

// Send implements sender.
func (r *recorder) Send(ctx context.Context, tr xml.TokenReader) error {
	r.mu.Lock()
	err := r.sendErr
	r.mu.Unlock()
	if err != nil {
		return err
	}
	toks, err := bufferTokens(tr)
	if err != nil {
		return err
	}
	r.add(toks)
	return nil
}

// handlerIO is the TokenReadEncoder given to HandleXMPP: it reads the input
// stanza and records what is written, stanza by stanza.
type handlerIO struct {
	xml.TokenReader
	r     *recorder
	cur   []xml.Token
	depth int
}

func (h *handlerIO) EncodeToken(t xml.Token) error {
	switch t.(type) {
	case xml.StartElement, xml.EndElement, xml.CharData:
	default:
		return fmt.Errorf("unexpected token %T", t)
	}
	h.cur = append(h.cur, xml.CopyToken(t))
	switch t.(type) {
	case xml.StartElement:
		h.depth++
	case xml.EndElement:
		h.depth--
		if h.depth < 0 {
			return fmt.Errorf("unbalanced end element")
		}
		if h.depth == 0 {
			h.r.add(h.cur)
			h.cur = nil
		}
	}
	return nil
}

func (h *handlerIO) Encode(v any) error { return fmt.Errorf("Encode not supported in tests") }
func (h *handlerIO) EncodeElement(v any, start xml.StartElement) error {
	return fmt.Errorf("EncodeElement not supported in tests")
}

// canon renders a stanza canonically: attributes sorted, single quotes,
// xmlns only where the namespace changes, none on the stanza itself (whose
// namespace is the stream's), empty elements self-closed.
func canon(toks []xml.Token) string {
	var b strings.Builder
	type frame struct {
		ns    string
		empty bool
	}
	var stack []frame
	pending := false // a start tag is open, waiting for its first child
	closePending := func() {
		if pending {
			b.WriteString(">")
			pending = false
		}
	}
	for _, t := range toks {
		switch v := t.(type) {
		case xml.StartElement:
			closePending()
			ns := v.Name.Space
			parent := ""
			if len(stack) == 0 {
				switch ns {
				case "", "jabber:component:accept", "jabber:client":
					ns = "jabber:component:accept"
				}
				parent = "jabber:component:accept"
			} else {
				parent = stack[len(stack)-1].ns
				if ns == "" {
					ns = parent
				}
			}
			b.WriteString("<" + v.Name.Local)
			if ns != parent {
				fmt.Fprintf(&b, " xmlns='%s'", esc(ns))
			}
			attrs := make([]string, 0, len(v.Attr))
			for _, a := range v.Attr {
				if a.Name.Local == "xmlns" || a.Name.Space == "xmlns" {
					continue
				}
				name := a.Name.Local
				if a.Name.Space == "http://www.w3.org/XML/1998/namespace" || a.Name.Space == "xml" {
					name = "xml:" + name
				}
				attrs = append(attrs, fmt.Sprintf("%s='%s'", name, esc(a.Value)))
			}
			sort.Strings(attrs)
			for _, a := range attrs {
				b.WriteString(" " + a)
			}
			stack = append(stack, frame{ns: ns})
			pending = true
		case xml.EndElement:
			if pending {
				b.WriteString("/>")
				pending = false
			} else {
				b.WriteString("</" + v.Name.Local + ">")
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(v) == 0 {
				continue
			}
			closePending()
			b.WriteString(esc(string(v)))
		}
	}
	return b.String()
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), "&#39;", "&apos;")
}

type testGateway struct {
	*Gateway
	rec   *recorder
	st    *fakeStore
	wakes atomic.Int32
}

// newTestGateway builds a Gateway for sms.example.org on server
// example.org, with a recorder instead of the stream, a fixed clock and
// counting ids.
func newTestGateway(t testing.TB, tr transports.Transport, mod func(*GatewayConfig)) *testGateway {
	t.Helper()
	cfg := GatewayConfig{
		Domain:        "sms.example.org",
		ServerDomain:  "example.org",
		Secret:        []byte("s3cret"),
		Server:        "127.0.0.1:1",
		MaxStanzaSize: 100,
		Admins:        []string{"admin@example.org"},
		Version:       "1.2.3",
		GiveUpAfter:   time.Hour,
	}
	if mod != nil {
		mod(&cfg)
	}
	st := newFakeStore()
	g, err := NewGateway(cfg, tr, st)
	if err != nil {
		t.Fatal(err)
	}
	tg := &testGateway{Gateway: g, rec: &recorder{}, st: st}
	g.out = tg.rec
	g.now = func() time.Time { return testNow }
	n := 0
	var idMu sync.Mutex
	g.newID = func() string {
		idMu.Lock()
		defer idMu.Unlock()
		n++
		return fmt.Sprintf("id%d", n)
	}
	g.wakeOutbox = func() { tg.wakes.Add(1) }
	g.wakeInbox = func() {}
	g.waitUp = func(context.Context) error { return errors.New("test: the stream stays down") }
	return tg
}

// handle feeds one stanza (XML text) to HandleXMPP, waits for the work it
// handed off, and returns every stanza written meanwhile.
func (tg *testGateway) handle(t testing.TB, in string) []string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(in))
	var start xml.StartElement
	for {
		tok, err := d.Token()
		if err != nil {
			t.Fatalf("bad test input %q: %v", in, err)
		}
		if s, ok := tok.(xml.StartElement); ok {
			start = s
			break
		}
	}
	io := &handlerIO{TokenReader: d, r: tg.rec}
	if err := tg.HandleXMPP(io, &start); err != nil {
		t.Fatalf("HandleXMPP(%s): %v", in, err)
	}
	if io.depth != 0 {
		t.Fatalf("handler left an element open")
	}
	tg.asyncWG.Wait()
	return tg.rec.take()
}

// check compares stanzas with want, one by one.
func check(t testing.TB, got, want []string) {
	t.Helper()
	n := max(len(got), len(want))
	for i := 0; i < n; i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("stanza %d:\n got: %s\nwant: %s", i, g, w)
		}
	}
}

var _ xmlstream.TokenReadEncoder = (*handlerIO)(nil)

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }
