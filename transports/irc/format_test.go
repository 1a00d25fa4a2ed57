package irc

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeText(t *testing.T) {
	tests := []struct{ in, fallback, want string }{
		{"plain", "cp1252", "plain"},
		{"café", "cp1252", "café"},
		{"caf\xe9", "cp1252", "café"},
		{"\x80 \x93quoted\x94", "cp1252", "€ “quoted”"},
		{"\x80", "latin1", "\u0080"},
		{"\x81", "cp1252", "\uFFFD"},
	}
	for _, tc := range tests {
		if got := decodeText(tc.in, tc.fallback); got != tc.want {
			t.Errorf("decodeText(%q, %s) = %q, want %q", tc.in, tc.fallback, got, tc.want)
		}
	}
}

func TestIRCToStyled(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"\x02bold\x02 text", "*bold* text"},
		{"\x1Ditalic\x1D", "_italic_"},
		{"\x11mono\x11", "`mono`"},
		{"\x1Estrike\x1E", "~strike~"},
		{"\x02unclosed", "*unclosed*"},
		{"\x02\x1Dboth\x0F after", "*_both_* after"},
		{"\x0304red\x03 \x0312,01blue\x03", "red blue"},
		{"\x03,5not a colour", ",5not a colour"},
		{"\x04ff0000hex\x04", "hex"},
		{"\x1Funder\x1F \x16rev\x16", "under rev"},
		{"bell\x07 nul\x00 tab\t", "bell nul tab\t"},
		{"\x0399", ""},
	}
	for _, tc := range tests {
		if got := ircToStyled(tc.in); got != tc.want {
			t.Errorf("ircToStyled(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []string
	}{
		{"short", "hello", 100, []string{"hello"}},
		{"lines", "a\r\nb\n\nc", 100, []string{"a", "b", "c"}},
		{"at a space", "aaaaaaa bbbbbbbb cccc", 16, []string{"aaaaaaa bbbbbbbb", "cccc"}},
		{"long word", strings.Repeat("x", 40), 16, []string{strings.Repeat("x", 16), strings.Repeat("x", 16), strings.Repeat("x", 8)}},
		{"utf-8 boundary", strings.Repeat("é", 10), 17, []string{strings.Repeat("é", 8), strings.Repeat("é", 2)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := splitText(tc.in, tc.max)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("splitText = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTextBudgetFitsTheLine(t *testing.T) {
	target := "#a-rather-long-channel-name"
	n := textBudget("PRIVMSG", target, true)
	line := ":" + strings.Repeat("n", 30) + "!" + strings.Repeat("u", 18) + "@" + strings.Repeat("h", 63) +
		" PRIVMSG " + target + " :\x01ACTION " + strings.Repeat("x", n) + "\x01\r\n"
	if len(line) > 512 {
		t.Errorf("a full line is %d bytes, more than 512", len(line))
	}
}

func FuzzSplitText(f *testing.F) {
	f.Add("hello world", 20)
	f.Add(strings.Repeat("é ", 300), 17)
	f.Add("a\nb\r\n", 16)
	f.Fuzz(func(t *testing.T, in string, max int) {
		if max < 16 || max > 1000 || !utf8.ValidString(in) {
			return
		}
		parts := splitText(in, max)
		for _, p := range parts {
			if len(p) > max || !utf8.ValidString(p) || p == "" || strings.ContainsAny(p, "\r\n") {
				t.Fatalf("bad part %q (max %d)", p, max)
			}
		}
		// Nothing but line breaks and split spaces is lost.
		norm := func(s string) string { return strings.Join(strings.Fields(s), "") }
		if norm(strings.Join(parts, "")) != norm(in) {
			t.Fatalf("content changed: %q → %q", in, parts)
		}
	})
}

func FuzzIncomingText(f *testing.F) {
	f.Add("\x02b\x0304,05c\x1d\xe9\x0f")
	f.Fuzz(func(t *testing.T, in string) {
		out := ircToStyled(decodeText(in, "cp1252"))
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 from %q", in)
		}
		for _, r := range out {
			if r < 0x20 && r != '\t' || r == 0x7F {
				t.Fatalf("control character %U in %q", r, out)
			}
		}
	})
}
