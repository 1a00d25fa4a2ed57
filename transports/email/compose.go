package email

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"

	"xgate/transports"
)

// digestMail is what a digest email is built from.
type digestMail struct {
	FromName   string // display name, without " (XMPP)"
	FromAddr   string // the user's routing address
	User       string // the user's bare JID, named in the text
	To         string // the contact's address
	Subject    string
	MessageID  string   // without angle brackets
	References []string // earlier Message-IDs of the conversation, oldest first
	Date       time.Time
	Messages   []transports.Message
}

// maxReferences caps the References header: the most recent ones are kept.
const maxReferences = 10

// compose renders d as an RFC 5322 message: text/plain with times, and a
// text/html alternative.
func compose(d digestMail) ([]byte, error) {
	var h mail.Header
	h.SetDate(d.Date)
	h.SetAddressList("From", []*mail.Address{{Name: d.FromName + " (XMPP)", Address: d.FromAddr}})
	h.SetAddressList("Reply-To", []*mail.Address{{Name: d.FromName + " (XMPP)", Address: d.FromAddr}})
	h.SetAddressList("To", []*mail.Address{{Address: d.To}})
	h.SetSubject(d.Subject)
	h.SetMessageID(d.MessageID)
	if n := len(d.References); n > 0 {
		refs := d.References
		if n > maxReferences {
			refs = refs[n-maxReferences:]
		}
		h.SetMsgIDList("In-Reply-To", refs[len(refs)-1:])
		h.SetMsgIDList("References", refs)
	}
	// Not Auto-Submitted: a person wrote these messages, and replies are
	// wanted. X-Mailer names us for the operator's logs.
	h.Set("X-Mailer", "xgate")

	var buf bytes.Buffer
	w, err := mail.CreateWriter(&buf, h)
	if err != nil {
		return nil, fmt.Errorf("email: compose: %w", err)
	}
	iw, err := w.CreateInline()
	if err != nil {
		return nil, fmt.Errorf("email: compose: %w", err)
	}
	parts := []struct {
		ctype string
		body  string
	}{
		{"text/plain", plainBody(d)},
		{"text/html", htmlBody(d)},
	}
	for _, p := range parts {
		var ph mail.InlineHeader
		ph.SetContentType(p.ctype, map[string]string{"charset": "utf-8"})
		pw, err := iw.CreatePart(ph)
		if err != nil {
			return nil, fmt.Errorf("email: compose: %w", err)
		}
		if _, err := io.WriteString(pw, p.body); err != nil {
			return nil, fmt.Errorf("email: compose: %w", err)
		}
		if err := pw.Close(); err != nil {
			return nil, fmt.Errorf("email: compose: %w", err)
		}
	}
	if err := iw.Close(); err != nil {
		return nil, fmt.Errorf("email: compose: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("email: compose: %w", err)
	}
	return buf.Bytes(), nil
}

// stampOf is when m was accepted, in UTC.
func stampOf(m transports.Message, fallback time.Time) time.Time {
	if m.Stamp.IsZero() {
		return fallback.UTC()
	}
	return m.Stamp.UTC()
}

// timeLabel formats a message time: the full date for the first message and
// whenever the day changes, else only the time.
func timeLabel(t, prev time.Time) string {
	if !prev.IsZero() && t.YearDay() == prev.YearDay() && t.Year() == prev.Year() {
		return t.Format("15:04")
	}
	return t.Format("2006-01-02 15:04 MST")
}

func plainBody(d digestMail) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s wrote:\r\n\r\n", d.User)
	var prev time.Time
	for _, m := range d.Messages {
		at := stampOf(m, d.Date)
		fmt.Fprintf(&b, "[%s] ", timeLabel(at, prev))
		prev = at
		body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
		b.WriteString(body)
		b.WriteString("\r\n")
		for _, u := range m.OOB {
			fmt.Fprintf(&b, "    Link: %s\r\n", u)
		}
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "-- \r\nSent from XMPP by %s. Reply to this email to answer in the chat.\r\n", d.User)
	return b.String()
}

func htmlBody(d digestMail) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\r\n<html><body>\r\n")
	fmt.Fprintf(&b, "<p>%s wrote:</p>\r\n", html.EscapeString(d.User))
	var prev time.Time
	for _, m := range d.Messages {
		at := stampOf(m, d.Date)
		fmt.Fprintf(&b, "<p><small style=\"color:#666\">%s</small><br>\r\n", html.EscapeString(timeLabel(at, prev)))
		prev = at
		lines := strings.Split(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n")
		for i, l := range lines {
			if i > 0 {
				b.WriteString("<br>\r\n")
			}
			b.WriteString(html.EscapeString(l))
		}
		for _, u := range m.OOB {
			e := html.EscapeString(u)
			fmt.Fprintf(&b, "<br>\r\n<a href=\"%s\">%s</a>", e, e)
		}
		b.WriteString("</p>\r\n")
	}
	fmt.Fprintf(&b, "<p style=\"color:#666\">-- <br>Sent from XMPP by %s. Reply to this email to answer in the chat.</p>\r\n",
		html.EscapeString(d.User))
	b.WriteString("</body></html>\r\n")
	return b.String()
}

// digestSubject is the subject of a digest: the last subject a message set,
// else "Messages from <user>".
func digestSubject(user string, ms []transports.Message) string {
	for i := len(ms) - 1; i >= 0; i-- {
		if s := strings.TrimSpace(ms[i].Subject); s != "" {
			return s
		}
	}
	if len(ms) == 1 {
		return "Message from " + user
	}
	return "Messages from " + user
}
