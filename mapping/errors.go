package mapping

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// AddressError says why a string is not an address of some family. Its text
// ("bob@@x is not an email address: it has 2 @ signs (expected exactly one)")
// is meant for the user who typed the address.
type AddressError struct {
	// Input is the address as the user would write it (unescaped when that
	// was possible).
	Input string
	// Kind names the family, with its article: "an email address".
	Kind string
	// Reason says what is wrong.
	Reason string
}

func (e *AddressError) Error() string {
	return quoteIfNeeded(e.Input) + " is not " + e.Kind + ": " + e.Reason
}

// quoteIfNeeded leaves an ordinary address as it is, readable, and quotes one
// that would be ambiguous or invisible: empty, with surrounding spaces, with
// control characters or invalid UTF-8.
func quoteIfNeeded(s string) string {
	if s == "" || strings.TrimSpace(s) != s || !utf8.ValidString(s) ||
		strings.IndexFunc(s, func(r rune) bool { return !unicode.IsGraphic(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}
