package mapping

import (
	"errors"
	"strings"
	"testing"
)

// xep0106Table is the JID examples table of XEP-0106 §5.1 (localparts only),
// plus the cases of its business rules (§4.2, §4.3).
var xep0106Table = []struct {
	unescaped, escaped string
}{
	{"space cadet", `space\20cadet`},
	{`call me "ishmael"`, `call\20me\20\22ishmael\22`},
	{"at&t guy", `at\26t\20guy`},
	{"d'artagnan", `d\27artagnan`},
	{"/.fanboy", `\2f.fanboy`},
	{"::foo::", `\3a\3afoo\3a\3a`},
	{"<foo>", `\3cfoo\3e`},
	{"user@host", `user\40host`},
	{`c:\5commas`, `c\3a\5c5commas`},
	{"here's_a_wild_&_/cr%zy/_address", `here\27s_a_wild_\26_\2fcr%zy\2f_address`},
	// §4.2 step 3: a backslash that starts an escape sequence is escaped.
	{`\3and\2is\5cool`, `\5c3and\2is\5c5cool`},
	{`\40`, `\5c40`},
	{`\5c`, `\5c5c`},
	{`\20x`, `\5c20x`},
	// §4.3: partial or unknown sequences are left alone, by both transformations.
	{`\2plus\2is\4`, `\2plus\2is\4`},
	{`foo\bar`, `foo\bar`},
	{`foob\41r`, `foob\41r`},
	{`c:\net`, `c\3a\net`},
	{`c:\cool stuff`, `c\3a\cool\20stuff`},
	{`trailing\`, `trailing\`},
	// Case is significant: \2F is not an escape sequence.
	{`a\2Fb`, `a\2Fb`},
	{`a/b`, `a\2fb`},
	// A backslash before a special character stays; the character is escaped.
	{`\@`, `\\40`},
	{`\\40`, `\\5c40`},
	// Non-ASCII passes through.
	{"josé@exämple.org", `josé\40exämple.org`},
	{"", ""},
	{"plain", "plain"},
}

func TestEscapeLocal(t *testing.T) {
	for _, tt := range xep0106Table {
		if got := EscapeLocal(tt.unescaped); got != tt.escaped {
			t.Errorf("EscapeLocal(%q) = %q, want %q", tt.unescaped, got, tt.escaped)
		}
		got, err := UnescapeLocal(tt.escaped)
		if err != nil || got != tt.unescaped {
			t.Errorf("UnescapeLocal(%q) = %q, %v; want %q", tt.escaped, got, err, tt.unescaped)
		}
	}
}

func TestUnescapeLocal(t *testing.T) {
	tests := []struct {
		in, want string
		errPart  string
	}{
		// mellium's jid.Unescape gets this one wrong.
		{`bob\40example.com`, "bob@example.com", ""},
		// XEP-0106 §5.1 examples 9-11 escape every backslash; we read them right.
		{`c\3a\5cnet`, `c:\net`, ""},
		{`c\3a\5c\5cnet`, `c:\\net`, ""},
		{`c\3a\5ccool\20stuff`, `c:\cool stuff`, ""},
		{`a\20b`, "a b", ""},
		{`\20a`, "", `begins or ends with an escaped space (\20)`},
		{`a\20`, "", `begins or ends with an escaped space (\20)`},
		{`\20`, "", "escaped space"},
		{`a\5c20`, `a\20`, ""},
		{"a b", "", "contains a space, which must be written \\20"},
		{"a@b", "", `contains '@', which must be written \40`},
		{"a'b", "", `contains ''', which must be written \27`},
		{`a\4`, `a\4`, ""},
		{`a\`, `a\`, ""},
	}
	for _, tt := range tests {
		got, err := UnescapeLocal(tt.in)
		if tt.errPart == "" {
			if err != nil || got != tt.want {
				t.Errorf("UnescapeLocal(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			continue
		}
		var ae *AddressError
		if !errors.As(err, &ae) || !strings.Contains(err.Error(), tt.errPart) {
			t.Errorf("UnescapeLocal(%q) error = %v, want one containing %q", tt.in, err, tt.errPart)
		}
	}
}

func TestEscapedHasNoDisallowedCharacters(t *testing.T) {
	all := ` "&'/:<>@\`
	e := EscapeLocal(all + "x" + all)
	if strings.ContainsAny(e, ` "&'/:<>@`) {
		t.Errorf("EscapeLocal left a disallowed character: %q", e)
	}
	// Leading and trailing spaces cannot be represented (XEP-0106: \20 may not
	// begin or end a localpart): they do not survive the round trip.
	for _, s := range []string{" a", "a ", " "} {
		if _, err := UnescapeLocal(EscapeLocal(s)); err == nil {
			t.Errorf("UnescapeLocal(EscapeLocal(%q)) accepted a localpart with an edge \\20", s)
		}
	}
}

// checkEscapeRoundTrip is the property both the test and the fuzz target check.
func checkEscapeRoundTrip(t *testing.T, s string) {
	t.Helper()
	e := EscapeLocal(s)
	if strings.ContainsAny(e, ` "&'/:<>@`) {
		t.Fatalf("EscapeLocal(%q) = %q contains a disallowed character", s, e)
	}
	got, err := UnescapeLocal(e)
	if strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		if err == nil {
			t.Fatalf("UnescapeLocal(%q) accepted an edge \\20 (from %q)", e, s)
		}
		return
	}
	if err != nil || got != s {
		t.Fatalf("UnescapeLocal(EscapeLocal(%q)) = %q, %v (escaped %q)", s, got, err, e)
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	for _, tt := range xep0106Table {
		checkEscapeRoundTrip(t, tt.unescaped)
		checkEscapeRoundTrip(t, tt.escaped)
	}
}

func FuzzEscapeLocal(f *testing.F) {
	for _, tt := range xep0106Table {
		f.Add(tt.unescaped)
		f.Add(tt.escaped)
	}
	f.Add(" edge ")
	f.Fuzz(func(t *testing.T, s string) {
		checkEscapeRoundTrip(t, s)
	})
}

func FuzzUnescapeLocal(f *testing.F) {
	for _, tt := range xep0106Table {
		f.Add(tt.escaped)
	}
	f.Add(`\20a`)
	f.Add(`a\5c20`)
	f.Fuzz(func(t *testing.T, local string) {
		s, err := UnescapeLocal(local)
		if err != nil {
			return
		}
		// Whatever unescapes, escapes back to something that unescapes the
		// same, and escaping is then stable.
		e := EscapeLocal(s)
		s2, err := UnescapeLocal(e)
		if err != nil || s2 != s {
			t.Fatalf("UnescapeLocal(%q) = %q; escaped again %q; unescaped %q, %v", local, s, e, s2, err)
		}
		if e2 := EscapeLocal(s2); e2 != e {
			t.Fatalf("escaping is not stable: %q then %q", e, e2)
		}
	})
}
