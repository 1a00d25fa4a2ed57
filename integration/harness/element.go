package harness

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Element is a parsed XML element: a stanza a Client received, or one of its
// children. It keeps namespaces (Name.Space) and attributes as read, and the
// character data directly inside it (Text) concatenated.
type Element struct {
	Name     xml.Name
	Attrs    []xml.Attr
	Children []*Element
	Text     string
}

// Stanza is a top-level element received on a stream (message, presence, iq).
type Stanza = Element

// ReadElement reads one element whose start tag has already been read from r,
// up to and including its end tag.
func ReadElement(r xml.TokenReader, start xml.StartElement) (*Element, error) {
	root := &Element{Name: start.Name, Attrs: copyAttrs(start.Attr)}
	stack := []*Element{root}
	var text []strings.Builder
	text = append(text, strings.Builder{})
	for len(stack) > 0 {
		tok, err := r.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("harness: read <%s>: %w", start.Name.Local, io.ErrUnexpectedEOF)
			}
			return nil, fmt.Errorf("harness: read <%s>: %w", start.Name.Local, err)
		}
		cur := stack[len(stack)-1]
		switch tok := tok.(type) {
		case xml.StartElement:
			child := &Element{Name: tok.Name, Attrs: copyAttrs(tok.Attr)}
			cur.Children = append(cur.Children, child)
			stack = append(stack, child)
			text = append(text, strings.Builder{})
		case xml.EndElement:
			cur.Text = text[len(text)-1].String()
			stack = stack[:len(stack)-1]
			text = text[:len(text)-1]
		case xml.CharData:
			text[len(text)-1].Write(tok)
		}
	}
	return root, nil
}

// ParseElement parses one element from raw XML text.
func ParseElement(raw string) (*Element, error) {
	d := xml.NewDecoder(strings.NewReader(raw))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("harness: parse element: %w", err)
		}
		if start, ok := tok.(xml.StartElement); ok {
			return ReadElement(d, start)
		}
	}
}

func copyAttrs(a []xml.Attr) []xml.Attr {
	out := make([]xml.Attr, 0, len(a))
	for _, at := range a {
		// Namespace declarations are carried by Name.Space.
		if at.Name.Space == "xmlns" || (at.Name.Space == "" && at.Name.Local == "xmlns") {
			continue
		}
		out = append(out, at)
	}
	return out
}

// Attr returns the value of the attribute with local name local ("" if absent).
func (e *Element) Attr(local string) string {
	if e == nil {
		return ""
	}
	for _, a := range e.Attrs {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// ID, Type, From and To return the common stanza attributes.
func (e *Element) ID() string   { return e.Attr("id") }
func (e *Element) Type() string { return e.Attr("type") }
func (e *Element) From() string { return e.Attr("from") }
func (e *Element) To() string   { return e.Attr("to") }

// Child returns the first direct child with local name local, in any
// namespace, or nil. It is nil-safe, so calls chain: s.Child("query").Child("x").
func (e *Element) Child(local string) *Element {
	if e == nil {
		return nil
	}
	for _, c := range e.Children {
		if c.Name.Local == local {
			return c
		}
	}
	return nil
}

// ChildNS returns the first direct child named {space}local, or nil.
func (e *Element) ChildNS(space, local string) *Element {
	if e == nil {
		return nil
	}
	for _, c := range e.Children {
		if c.Name.Local == local && c.Name.Space == space {
			return c
		}
	}
	return nil
}

// ChildrenNamed returns every direct child with local name local.
func (e *Element) ChildrenNamed(local string) []*Element {
	if e == nil {
		return nil
	}
	var out []*Element
	for _, c := range e.Children {
		if c.Name.Local == local {
			out = append(out, c)
		}
	}
	return out
}

// Find descends through direct children by local names:
// s.Find("error", "forbidden").
func (e *Element) Find(path ...string) *Element {
	cur := e
	for _, p := range path {
		cur = cur.Child(p)
	}
	return cur
}

// FindAll returns every descendant (not e itself) with local name local, in
// document order.
func (e *Element) FindAll(local string) []*Element {
	if e == nil {
		return nil
	}
	var out []*Element
	for _, c := range e.Children {
		if c.Name.Local == local {
			out = append(out, c)
		}
		out = append(out, c.FindAll(local)...)
	}
	return out
}

// ChildText returns the text of the first direct child named local ("" if none).
func (e *Element) ChildText(local string) string {
	if c := e.Child(local); c != nil {
		return c.Text
	}
	return ""
}

// FindText is the text of Find(path...), "" when there is no such element.
func (e *Element) FindText(path ...string) string {
	if f := e.Find(path...); f != nil {
		return f.Text
	}
	return ""
}

// ErrorCondition returns the defined condition of a stanza error
// ("forbidden", "service-unavailable") and its <text/>, or "" when e carries
// no <error/>.
func (e *Element) ErrorCondition() (condition, text string) {
	errEl := e.Child("error")
	if errEl == nil {
		return "", ""
	}
	for _, c := range errEl.Children {
		if c.Name.Space != "urn:ietf:params:xml:ns:xmpp-stanzas" {
			continue
		}
		if c.Name.Local == "text" {
			text = c.Text
		} else if condition == "" {
			condition = c.Name.Local
		}
	}
	return condition, text
}

// String serialises e as XML, declaring a namespace where it differs from the
// parent's. It is meant for logs and failure messages.
func (e *Element) String() string {
	if e == nil {
		return "<nil>"
	}
	var b strings.Builder
	e.write(&b, "\x00")
	return b.String()
}

func (e *Element) write(b *strings.Builder, parentNS string) {
	b.WriteByte('<')
	b.WriteString(e.Name.Local)
	if e.Name.Space != parentNS && e.Name.Space != "" {
		b.WriteString(` xmlns="`)
		xml.EscapeText(b, []byte(e.Name.Space))
		b.WriteByte('"')
	}
	for _, a := range e.Attrs {
		b.WriteByte(' ')
		if a.Name.Space == "http://www.w3.org/XML/1998/namespace" {
			b.WriteString("xml:")
		}
		b.WriteString(a.Name.Local)
		b.WriteString(`="`)
		xml.EscapeText(b, []byte(a.Value))
		b.WriteByte('"')
	}
	if len(e.Children) == 0 && e.Text == "" {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	xml.EscapeText(b, []byte(e.Text))
	for _, c := range e.Children {
		c.write(b, e.Name.Space)
	}
	b.WriteString("</")
	b.WriteString(e.Name.Local)
	b.WriteByte('>')
}
