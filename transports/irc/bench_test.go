package irc

import (
	"strings"
	"testing"

	"github.com/lrstanley/girc"
)

// The line codec: an IRC line parsed (girc), its text decoded (UTF-8 or the
// fallback) and its formatting turned into XEP-0393; and the splitter for
// long XMPP bodies.

const benchLine = "@time=2024-01-02T03:04:05.000Z;msgid=abc :bob!b@host.example PRIVMSG #chan :hello \x02there\x02, \x0304red\x03 and plain text to make a typical line"

func BenchmarkParseLine(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if girc.ParseEvent(benchLine) == nil {
			b.Fatal("parse failed")
		}
	}
}

func BenchmarkDecodeUTF8(b *testing.B) {
	s := "hello there, café crème — a typical line of IRC chat text"
	b.ReportAllocs()
	for b.Loop() {
		_ = ircToStyled(decodeText(s, "cp1252"))
	}
}

func BenchmarkDecodeLatin1(b *testing.B) {
	s := "hello there, caf\xe9 cr\xe8me \x02bold\x02 \x0304red\x03 a typical line of IRC chat text"
	b.ReportAllocs()
	for b.Loop() {
		_ = ircToStyled(decodeText(s, "cp1252"))
	}
}

func BenchmarkSplitShort(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = splitText("a short message", textBudget("PRIVMSG", "#chan", false))
	}
}

func BenchmarkSplit2000(b *testing.B) {
	body := strings.Repeat("wörd ", 400)
	b.ReportAllocs()
	for b.Loop() {
		_ = splitText(body, textBudget("PRIVMSG", "#chan", false))
	}
}
