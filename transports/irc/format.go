package irc

import (
	"strings"
	"unicode/utf8"
)

// cp1252High maps the bytes 0x80–0x9F of Windows-1252 to runes; the other
// bytes ≥ 0xA0 are Latin-1. Undefined positions decode as U+FFFD.
var cp1252High = [32]rune{
	'€', '\uFFFD', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\uFFFD', 'Ž', '\uFFFD',
	'\uFFFD', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\uFFFD', 'ž', 'Ÿ',
}

// decodeText turns IRC bytes into valid UTF-8: a valid UTF-8 line is kept,
// anything else is decoded with the fallback ("cp1252", the default, or
// "latin1"). Nothing is dropped.
func decodeText(s, fallback string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x80:
			b.WriteByte(c)
		case c < 0xA0 && fallback != "latin1":
			b.WriteRune(cp1252High[c-0x80])
		default:
			b.WriteRune(rune(c))
		}
	}
	return b.String()
}

// IRC formatting control codes.
const (
	fmtBold      = '\x02'
	fmtColor     = '\x03'
	fmtHexColor  = '\x04'
	fmtReset     = '\x0F'
	fmtMono      = '\x11'
	fmtReverse   = '\x16'
	fmtItalic    = '\x1D'
	fmtStrike    = '\x1E'
	fmtUnderline = '\x1F'
)

// ircToStyled turns IRC formatting into XEP-0393 message styling: bold → *,
// italic → _, monospace → `, strikethrough → ~; colours, reverse and
// underline are stripped, and so is every other control character but tab.
// Open spans are closed at a reset and at the end of the line.
func ircToStyled(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	var open []byte // markers opened, in order
	toggle := func(m byte) {
		for i := len(open) - 1; i >= 0; i-- {
			if open[i] == m {
				// Close it (and everything opened after it, then reopen those).
				after := append([]byte(nil), open[i+1:]...)
				for j := len(open) - 1; j >= i; j-- {
					b.WriteByte(open[j])
				}
				open = append(open[:i], after...)
				b.Write(after)
				return
			}
		}
		open = append(open, m)
		b.WriteByte(m)
	}
	closeAll := func() {
		for j := len(open) - 1; j >= 0; j-- {
			b.WriteByte(open[j])
		}
		open = open[:0]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case fmtBold:
			toggle('*')
		case fmtItalic:
			toggle('_')
		case fmtMono:
			toggle('`')
		case fmtStrike:
			toggle('~')
		case fmtReset:
			closeAll()
		case fmtColor:
			i = skipColor(s, i, isDigit, 2)
		case fmtHexColor:
			i = skipColor(s, i, isHex, 6)
		case '\t':
			b.WriteByte(c)
		default:
			if c < 0x20 || c == 0x7F {
				continue // reverse, underline and any other control byte
			}
			b.WriteByte(c)
		}
	}
	closeAll()
	return b.String()
}

// skipColor skips the colour arguments after the control byte at s[i]:
// fg[,bg], each up to n characters accepted by ok. It returns the index of
// the last byte consumed.
func skipColor(s string, i int, ok func(byte) bool, n int) int {
	j := i + 1
	k := 0
	for k < n && j < len(s) && ok(s[j]) {
		j++
		k++
	}
	if k > 0 && j+1 < len(s) && s[j] == ',' && ok(s[j+1]) {
		j++
		k = 0
		for k < n && j < len(s) && ok(s[j]) {
			j++
			k++
		}
	}
	return j - 1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// splitText splits a message body into IRC lines of at most max bytes each:
// at line breaks first (empty lines dropped, CR removed), then each line at
// the last space that fits (the space itself is dropped), or at a UTF-8
// boundary when a word is longer than max. No rune is ever cut. max below
// 16 counts as 16.
func splitText(body string, max int) []string {
	if max < 16 {
		max = 16
	}
	var out []string
	for line := range strings.SplitSeq(strings.ReplaceAll(body, "\r", ""), "\n") {
		for len(line) > max {
			cut := max
			for cut > 0 && !utf8.RuneStart(line[cut]) {
				cut--
			}
			next := cut
			if sp := strings.LastIndexByte(line[:cut+1], ' '); sp > max/2 {
				// Split at the space and drop it: servers strip trailing
				// spaces, and a leading one would show.
				cut, next = sp, sp+1
			}
			out = append(out, line[:cut])
			line = line[next:]
		}
		if line != "" {
			out = append(out, line)
		}
	}
	return out
}

// maxPrefix is what xgate assumes the server adds in front of a line it
// relays (":nick!user@host "), generously: the host is not known in advance.
const maxPrefix = 1 + 30 + 1 + 18 + 1 + 63 + 1

// textBudget is how many bytes of text fit in one PRIVMSG/NOTICE to target,
// under the 512-byte limit (CRLF included) with the relayed prefix.
func textBudget(command, target string, action bool) int {
	n := 510 - maxPrefix - len(command) - 1 - len(target) - 2
	if action {
		n -= len("\x01ACTION \x01")
	}
	return n
}
