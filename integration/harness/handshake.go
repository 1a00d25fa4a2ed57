package harness

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"time"
)

// StreamError is a stream-level error the server sent (<stream:error/>), for
// example "not-authorized" for a wrong component secret or "conflict" for a
// second connection to a Prosody component domain.
type StreamError struct {
	Condition string
	Text      string
}

func (e *StreamError) Error() string {
	if e.Text != "" {
		return fmt.Sprintf("stream error %s: %s", e.Condition, e.Text)
	}
	return "stream error " + e.Condition
}

// Handshake performs the XEP-0114 component handshake as domain with secret
// against the component listener at addr, then closes the stream. It returns
// nil when the server accepted the handshake, a *StreamError when it refused it
// (errors.As), or another error (connection, timeout). It is the Go form of
// RECIPES Appendix A: no XMPP library involved, so it checks the server's
// configuration independently of xgate's component code.
func Handshake(addr, domain, secret string) error {
	c, err := DialComponent(addr, domain, secret)
	if err != nil {
		return err
	}
	return c.Close()
}

// ComponentConn is an open, authenticated raw component stream (see
// DialComponent). It does nothing but hold the connection.
type ComponentConn struct {
	conn net.Conn
}

// Close ends the stream and closes the connection.
func (c *ComponentConn) Close() error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_, _ = c.conn.Write([]byte("</stream:stream>"))
	return c.conn.Close()
}

// DialComponent is Handshake that keeps the stream open, for tests that hold a
// component domain (Prosody refuses a second connection with "conflict").
func DialComponent(addr, domain, secret string) (*ComponentConn, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("harness: handshake: %w", err)
	}
	if err := handshake(conn, domain, secret); err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return &ComponentConn{conn: conn}, nil
}

func handshake(conn net.Conn, domain, secret string) error {
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	header := fmt.Sprintf("<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='%s'>", xmlEscape(domain))
	if _, err := conn.Write([]byte(header)); err != nil {
		return fmt.Errorf("harness: handshake: send header: %w", err)
	}
	d := xml.NewDecoder(conn)
	var id string
	for id == "" {
		tok, err := d.Token()
		if err != nil {
			return fmt.Errorf("harness: handshake: read stream header: %w", err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if start.Name.Local == "error" {
			return readStreamError(d, start)
		}
		if start.Name.Local != "stream" {
			return fmt.Errorf("harness: handshake: unexpected <%s> before stream header", start.Name.Local)
		}
		for _, a := range start.Attr {
			if a.Name.Local == "id" {
				id = a.Value
			}
		}
		if id == "" {
			return errors.New("harness: handshake: stream header without id")
		}
	}
	sum := sha1.Sum([]byte(id + secret))
	if _, err := conn.Write([]byte("<handshake>" + hex.EncodeToString(sum[:]) + "</handshake>")); err != nil {
		return fmt.Errorf("harness: handshake: send: %w", err)
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return fmt.Errorf("harness: handshake: read answer: %w", err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch start.Name.Local {
		case "handshake":
			return d.Skip()
		case "error":
			return readStreamError(d, start)
		default:
			return fmt.Errorf("harness: handshake: unexpected <%s> instead of <handshake/>", start.Name.Local)
		}
	}
}

func readStreamError(d *xml.Decoder, start xml.StartElement) error {
	el, err := ReadElement(d, start)
	if err != nil {
		return fmt.Errorf("harness: handshake: read stream error: %w", err)
	}
	se := &StreamError{}
	for _, c := range el.Children {
		if c.Name.Local == "text" {
			se.Text = c.Text
		} else if se.Condition == "" {
			se.Condition = c.Name.Local
		}
	}
	return fmt.Errorf("harness: handshake refused: %w", se)
}

func xmlEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '&':
			b = append(b, "&amp;"...)
		case '\'':
			b = append(b, "&apos;"...)
		case '"':
			b = append(b, "&quot;"...)
		default:
			b = append(b, c)
		}
	}
	return string(b)
}
