package email

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decodes the charsets mail uses (ISO-8859-*, Windows-125x, ...)
	"github.com/emersion/go-message/mail"
)

// inMail is what xgate takes from an inbound mail.
type inMail struct {
	MessageID     string
	From          string // address
	FromName      string
	Subject       string
	InReplyTo     []string
	References    []string
	AutoSubmitted string // "" or "no" for mail a person wrote
	Precedence    string
	// Text is the reply text: the plain text part (or the HTML part as
	// text), quoted history and signature removed.
	Text        string
	Attachments []attachment
	// DSN is set for a delivery status notification (a bounce).
	DSN *dsn
}

type attachment struct {
	Name string
	Size int64
}

// dsn is what a delivery status notification says about the failed recipient.
type dsn struct {
	Recipient  string // the address that failed
	Action     string // failed, delayed, ...
	Status     string // 5.1.1
	Diagnostic string // the remote server's reply
}

// maxTextPart caps how much of one text part is read.
const maxTextPart = 1 << 20

// errMalformed marks mail that cannot be parsed at all.
var errMalformed = errors.New("malformed message")

// parseMail reads an RFC 5322 message. Only a header that cannot be read at
// all is an error (errMalformed); a damaged body yields what could be read.
func parseMail(raw []byte) (*inMail, error) {
	e, err := message.Read(bytes.NewReader(raw))
	if e == nil || (err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err)) {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	h := mail.Header{Header: e.Header}
	m := &inMail{}
	m.MessageID, _ = h.MessageID()
	m.InReplyTo, _ = h.MsgIDList("In-Reply-To")
	m.References, _ = h.MsgIDList("References")
	m.Subject, _ = h.Subject()
	m.AutoSubmitted = strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted")))
	m.Precedence = strings.ToLower(strings.TrimSpace(h.Get("Precedence")))
	if from, err := h.AddressList("From"); err == nil && len(from) > 0 {
		m.From, m.FromName = from[0].Address, from[0].Name
	} else if v := h.Get("From"); v != "" {
		// A From that does not parse: take what looks like an address.
		if a := looseAddress(v); a != "" {
			m.From = a
		}
	}

	var plain, htmlText string
	walkErr := e.Walk(func(path []int, part *message.Entity, err error) error {
		if err != nil {
			return nil // a broken part: skip it, keep the rest
		}
		ctype, params, _ := part.Header.ContentType()
		if strings.HasPrefix(ctype, "multipart/") {
			return nil
		}
		disp, dparams, _ := part.Header.ContentDisposition()
		name := dparams["filename"]
		if name == "" {
			name = params["name"]
		}
		if name != "" {
			if dec, err := new(mime.WordDecoder).DecodeHeader(name); err == nil {
				name = dec
			}
		}
		switch {
		case ctype == "message/delivery-status":
			m.DSN = parseDeliveryStatus(part.Body)
			return nil
		case disp == "attachment" || (name != "" && !strings.HasPrefix(ctype, "text/")):
			n, _ := io.Copy(io.Discard, part.Body)
			if name == "" {
				name = "unnamed " + ctype
			}
			m.Attachments = append(m.Attachments, attachment{Name: name, Size: n})
			return nil
		case ctype == "text/plain" || ctype == "":
			if plain == "" {
				plain = readText(part.Body)
			}
		case ctype == "text/html":
			if htmlText == "" {
				htmlText = htmlToText(readText(part.Body))
			}
		}
		return nil
	})
	_ = walkErr // parts read so far are kept
	text := plain
	if strings.TrimSpace(text) == "" {
		text = htmlText
	}
	m.Text = extractReply(text)
	return m, nil
}

func readText(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, maxTextPart))
	if !utf8.Valid(b) {
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	}
	return string(b)
}

var looseAddrRe = regexp.MustCompile(`[^\s<>"]+@[^\s<>"]+`)

func looseAddress(s string) string {
	return strings.Trim(looseAddrRe.FindString(s), ".,;")
}

// parseDeliveryStatus reads the per-recipient fields of a message/delivery-
// status part (RFC 3464): the first recipient whose action is failed (or the
// first one).
func parseDeliveryStatus(r io.Reader) *dsn {
	var out *dsn
	var cur dsn
	flush := func() {
		if cur.Recipient == "" {
			cur = dsn{}
			return
		}
		if out == nil || (out.Action != "failed" && cur.Action == "failed") {
			c := cur
			out = &c
		}
		cur = dsn{}
	}
	sc := bufio.NewScanner(io.LimitReader(r, 64<<10))
	var lastKey string
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			flush()
			lastKey = ""
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && lastKey == "diagnostic-code" {
			cur.Diagnostic += " " + strings.TrimSpace(line)
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		lastKey = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		switch lastKey {
		case "final-recipient", "original-recipient":
			// "rfc822; bob@example.org"
			if _, addr, ok := strings.Cut(v, ";"); ok {
				v = addr
			}
			if lastKey == "final-recipient" || cur.Recipient == "" {
				cur.Recipient = strings.Trim(strings.TrimSpace(v), "<>")
			}
		case "action":
			cur.Action = strings.ToLower(v)
		case "status":
			cur.Status = v
		case "diagnostic-code":
			if _, d, ok := strings.Cut(v, ";"); ok {
				v = d
			}
			cur.Diagnostic = strings.TrimSpace(v)
		}
	}
	flush()
	return out
}

// Reply extraction.

var (
	// attributionRe matches the line a mail client puts above the quoted
	// message: "On Tue, 1 Jan 2026, Alice wrote:", and common translations.
	attributionRe = regexp.MustCompile(`(?i)^\s*(on\s.*|le\s.*|am\s.*|el\s.*|il\s.*|op\s.*)?(wrote|a écrit|schrieb|escribió|ha scritto|schreef)\s*:\s*$`)
	// outlookRe matches separators of clients that do not quote with ">".
	outlookRe     = regexp.MustCompile(`(?i)^\s*(-{2,}\s*(original message|ursprüngliche nachricht|message d'origine)\s*-{2,}|_{10,})\s*$`)
	headerBlockRe = regexp.MustCompile(`(?i)^\s*(from|de|von):\s.+`)
)

// extractReply removes the quoted history and the signature from a reply.
func extractReply(text string) string {
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	lines := strings.Split(text, "\n")
	var out []string
cut:
	for i, l := range lines {
		trimmed := strings.TrimRight(l, " \t")
		switch {
		case trimmed == "--" || l == "-- ":
			break cut // signature delimiter
		case outlookRe.MatchString(trimmed):
			break cut
		case attributionRe.MatchString(trimmed) && quotedFollows(lines[i+1:]):
			break cut
		case i+1 < len(lines) && attributionRe.MatchString(strings.TrimSpace(lines[i+1])) &&
			strings.TrimSpace(lines[i+1]) != "" && quotedFollows(lines[i+2:]) &&
			!strings.HasPrefix(strings.TrimSpace(l), ">") && strings.Contains(l, "@"):
			// An attribution wrapped over two lines ("On ..., Alice <a@b>\nwrote:").
			break cut
		case headerBlockRe.MatchString(trimmed) && i > 0 && strings.TrimSpace(lines[i-1]) == "" && headerBlockFollows(lines[i+1:]):
			break cut
		case strings.HasPrefix(strings.TrimLeft(l, " "), ">"):
			continue // quoted line
		}
		out = append(out, trimmed)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// quotedFollows reports whether the next non-empty line is quoted, or there
// is nothing else (an attribution at the very end).
func quotedFollows(rest []string) bool {
	for _, l := range rest {
		if strings.TrimSpace(l) == "" {
			continue
		}
		return strings.HasPrefix(strings.TrimLeft(l, " "), ">")
	}
	return true
}

// headerBlockFollows recognises "From: ...\nSent: ...\nTo: ..." blocks of
// clients that put the original below a header block.
func headerBlockFollows(rest []string) bool {
	n := 0
	for _, l := range rest {
		if k, _, ok := strings.Cut(l, ":"); ok && len(k) < 20 && !strings.Contains(k, " ") {
			n++
			if n >= 2 {
				return true
			}
			continue
		}
		break
	}
	return false
}
