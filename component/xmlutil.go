package component

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/xml"
	"errors"
	"io"

	"mellium.im/xmlstream"
)

// emptyElement is <name/>.
func emptyElement(name xml.Name, attr ...xml.Attr) xml.TokenReader {
	return xmlstream.Wrap(nil, xml.StartElement{Name: name, Attr: attr})
}

// textElement is <name>text</name>.
func textElement(name xml.Name, text string, attr ...xml.Attr) xml.TokenReader {
	return xmlstream.Wrap(xmlstream.Token(xml.CharData(text)), xml.StartElement{Name: name, Attr: attr})
}

// attr is a plain (unqualified) attribute.
func attr(name, value string) xml.Attr {
	return xml.Attr{Name: xml.Name{Local: name}, Value: value}
}

// marshalTokens encodes v with encoding/xml and returns it as tokens that can be
// copied into a stanza: namespace declarations are dropped and a child in its
// parent's namespace gets an empty Space, so the encoder on the other end writes
// each xmlns exactly once, where the namespace changes.
func marshalTokens(v any) xml.TokenReader {
	b, err := xml.Marshal(v)
	if err != nil {
		return errReader{err}
	}
	return &nsTidy{d: xml.NewDecoder(bytes.NewReader(b))}
}

type errReader struct{ err error }

func (r errReader) Token() (xml.Token, error) { return nil, r.err }

type nsTidy struct {
	d     *xml.Decoder
	stack []string
}

func (t *nsTidy) Token() (xml.Token, error) {
	tok, err := t.d.Token()
	if tok == nil {
		return nil, err
	}
	switch v := tok.(type) {
	case xml.StartElement:
		parent := ""
		if n := len(t.stack); n > 0 {
			parent = t.stack[n-1]
		}
		t.stack = append(t.stack, v.Name.Space)
		attrs := make([]xml.Attr, 0, len(v.Attr))
		for _, a := range v.Attr {
			if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
				continue
			}
			attrs = append(attrs, a)
		}
		name := v.Name
		if name.Space == parent {
			name.Space = ""
		}
		return xml.StartElement{Name: name, Attr: attrs}, err
	case xml.EndElement:
		n := len(t.stack)
		if n == 0 {
			return nil, io.ErrUnexpectedEOF
		}
		t.stack = t.stack[:n-1]
		parent := ""
		if n > 1 {
			parent = t.stack[n-2]
		}
		name := v.Name
		if name.Space == parent {
			name.Space = ""
		}
		return xml.EndElement{Name: name}, err
	default:
		return xml.CopyToken(tok), err
	}
}

// sliceReader replays buffered tokens.
type sliceReader struct {
	toks []xml.Token
	i    int
}

func (r *sliceReader) Token() (xml.Token, error) {
	if r.i >= len(r.toks) {
		return nil, io.EOF
	}
	t := r.toks[r.i]
	r.i++
	return t, nil
}

// idEncoding is lowercase base32 without padding: ids safe in any attribute.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// randomID is a 16-byte random identifier (26 characters).
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return idEncoding.EncodeToString(b[:])
}

// decodePayload decodes the element whose start was already read from r
// (an IQ payload handed over by the mux) into v. The decoder is given the
// start element too: it checks that end elements match.
func decodePayload(r xml.TokenReader, start *xml.StartElement, v any) error {
	if start == nil {
		return errors.New("no payload")
	}
	d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), r))
	return d.Decode(v)
}

// bufferTokens reads the first element of r into memory, so that it can be
// written more than once.
func bufferTokens(r xml.TokenReader) ([]xml.Token, error) {
	var toks []xml.Token
	depth := 0
	for {
		tok, err := r.Token()
		if tok != nil {
			toks = append(toks, xml.CopyToken(tok))
			switch tok.(type) {
			case xml.StartElement:
				depth++
			case xml.EndElement:
				depth--
				if depth == 0 {
					return toks, nil
				}
			}
		}
		if err != nil {
			if err == io.EOF && depth == 0 && len(toks) > 0 {
				return toks, nil
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// replay reads toks again.
func replay(toks []xml.Token) xml.TokenReader { return &sliceReader{toks: toks} }
