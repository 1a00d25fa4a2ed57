package mapping

import (
	"strings"
)

// The XEP-0106 escape sequences. Case is significant: only these lower-case
// forms are escapes ("\2F" is three ordinary characters).
const escapable = ` "&'/:<>@\`

func escapeOf(c byte) string {
	switch c {
	case ' ':
		return `\20`
	case '"':
		return `\22`
	case '&':
		return `\26`
	case '\'':
		return `\27`
	case '/':
		return `\2f`
	case ':':
		return `\3a`
	case '<':
		return `\3c`
	case '>':
		return `\3e`
	case '@':
		return `\40`
	case '\\':
		return `\5c`
	}
	return ""
}

// unescapeAt reports whether s begins with the two hex digits of one of the ten
// escape sequences (the part after the backslash), and which character they
// stand for.
func unescapeAt(s string) (byte, bool) {
	if len(s) < 2 {
		return 0, false
	}
	switch s[:2] {
	case "20":
		return ' ', true
	case "22":
		return '"', true
	case "26":
		return '&', true
	case "27":
		return '\'', true
	case "2f":
		return '/', true
	case "3a":
		return ':', true
	case "3c":
		return '<', true
	case "3e":
		return '>', true
	case "40":
		return '@', true
	case "5c":
		return '\\', true
	}
	return 0, false
}

// EscapeLocal escapes s for use as a JID localpart (XEP-0106): each of
// space " & ' / : < > @ becomes \20 \22 \26 \27 \2f \3a \3c \3e \40, and a
// backslash becomes \5c only when it is followed by the hex digits of one of
// those ten sequences (XEP-0106 §4.2 step 3 and §4.3); any other backslash
// stays as it is. So c:\net escapes to c\3a\net and \40 to \5c40. (The
// XEP's own example table, §5.1 examples 9-11, escapes every backslash, which
// contradicts its rules; UnescapeLocal reads both forms the same.)
//
// XEP-0106 forbids an escaped localpart to begin or end with \20: s must not
// begin or end with a space (UnescapeLocal rejects such a localpart). Callers
// that take addresses from outside check that first.
func EscapeLocal(s string) string {
	if !strings.ContainsAny(s, escapable) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if _, ok := unescapeAt(s[i+1:]); ok {
				b.WriteString(`\5c`)
			} else {
				b.WriteByte(c)
			}
		case escapeOf(c) != "":
			b.WriteString(escapeOf(c))
		default:
			// Bytes of multi-byte UTF-8 sequences are all >= 0x80 and
			// never match an ASCII special character.
			b.WriteByte(c)
		}
	}
	return b.String()
}

// UnescapeLocal reverses EscapeLocal: each of the ten lower-case escape
// sequences becomes its character; anything else, including a backslash not
// followed by one of them, is kept (XEP-0106 §4.3). It fails if local contains
// a character that may not appear unescaped in a localpart, or begins or ends
// with \20.
func UnescapeLocal(local string) (string, error) {
	if strings.HasPrefix(local, `\20`) || strings.HasSuffix(local, `\20`) {
		return "", &AddressError{Input: local, Kind: "a valid JID localpart",
			Reason: `it begins or ends with an escaped space (\20)`}
	}
	if i := strings.IndexAny(local, ` "&'/:<>@`); i >= 0 {
		return "", &AddressError{Input: local, Kind: "a valid JID localpart",
			Reason: "it contains " + describeChar(local[i]) + ", which must be written " + escapeOf(local[i])}
	}
	if !strings.Contains(local, `\`) {
		return local, nil
	}
	var b strings.Builder
	b.Grow(len(local))
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c == '\\' {
			if u, ok := unescapeAt(local[i+1:]); ok {
				b.WriteByte(u)
				i += 2
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

func describeChar(c byte) string {
	if c == ' ' {
		return "a space"
	}
	return "'" + string(c) + "'"
}
