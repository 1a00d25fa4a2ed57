package email

import (
	"strings"
	"testing"
)

func TestExtractReply(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "Hello\nthere\n", "Hello\nthere"},
		{"quote with attribution", "Yes!\n\nOn Mon, 1 Jan 2026 at 10:00, Alice (XMPP) <x@gw> wrote:\n> hi\n> there\n", "Yes!"},
		{"wrapped attribution", "Yes!\n\nOn Mon, 1 Jan 2026 at 10:00, Alice (XMPP) <x@gw>\nwrote:\n> hi\n", "Yes!"},
		{"signature", "Ok.\n-- \nBob\nCEO\n", "Ok."},
		{"interleaved quotes", "> question?\nanswer\n", "answer"},
		{"outlook", "Fine\n\n-----Original Message-----\nFrom: alice\nhi\n", "Fine"},
		{"outlook header block", "Fine\n\nFrom: Alice <x@gw>\nSent: Monday\nTo: bob\n\nhi\n", "Fine"},
		{"french", "Oui\n\nLe lun. 1 janv. 2026, Alice a écrit :\n> salut\n", "Oui"},
		{"crlf", "Hi\r\n\r\n> old\r\n", "Hi"},
	}
	for _, tt := range tests {
		if got := extractReply(tt.in); got != tt.want {
			t.Errorf("%s: extractReply = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestHTMLToText(t *testing.T) {
	in := `<html><head><style>p{color:red}</style></head><body><p>Hello <b>Alice</b>,</p><p>see <a href="https://example.org/x">this</a></p>` +
		`<ul><li>one</li><li>two &amp; three</li></ul><div class="gmail_quote">On Mon, Alice wrote:<blockquote>old</blockquote></div></body></html>`
	got := htmlToText(in)
	for _, want := range []string{"Hello Alice,", "see this (https://example.org/x)", "• one", "• two & three"} {
		if !strings.Contains(got, want) {
			t.Errorf("htmlToText lacks %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{"color:red", "old", "Alice wrote"} {
		if strings.Contains(got, bad) {
			t.Errorf("htmlToText keeps %q:\n%s", bad, got)
		}
	}
}

func TestParseMail(t *testing.T) {
	tests := []struct {
		name, raw     string
		text, subject string
		attachments   int
	}{
		{"latin1 quoted-printable", "From: =?ISO-8859-1?Q?J=F6rg?= <j@example.org>\r\nSubject: =?ISO-8859-1?Q?Gr=FC=DFe?=\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe aus K=F6ln\r\n",
			"Grüße aus Köln", "Grüße", 0},
		{"html only", "From: j@example.org\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hi <i>there</i></p>\r\n", "Hi there", "", 0},
		{"alternative prefers plain", "From: j@example.org\r\nContent-Type: multipart/alternative; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nplain text\r\n--B\r\nContent-Type: text/html\r\n\r\n<p>html text</p>\r\n--B--\r\n",
			"plain text", "", 0},
		{"attachment listed", "From: j@example.org\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--B\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\nContent-Disposition: attachment; filename=\"r.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAAAAAA\r\n--B--\r\n",
			"see attached", "", 1},
		{"unterminated multipart", "From: j@example.org\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nstill readable\r\n", "still readable", "", 0},
	}
	for _, tt := range tests {
		m, err := parseMail([]byte(tt.raw))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if m.Text != tt.text || m.Subject != tt.subject || len(m.Attachments) != tt.attachments {
			t.Errorf("%s: text %q subject %q attachments %+v; want %q %q %d", tt.name, m.Text, m.Subject, m.Attachments, tt.text, tt.subject, tt.attachments)
		}
	}
	if m, _ := parseMail([]byte("From: j@example.org\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\nContent-Disposition: attachment; filename=\"r.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAAAAAA\r\n--B--\r\n")); m == nil || len(m.Attachments) != 1 || m.Attachments[0].Name != "r.pdf" || m.Attachments[0].Size != 6 {
		t.Errorf("attachment: %+v; want r.pdf, 6 bytes", m)
	}
}

func FuzzParseMail(f *testing.F) {
	f.Add([]byte("From: a@b\r\nSubject: x\r\n\r\nbody\r\n> quote\r\n"))
	f.Add([]byte("Content-Type: multipart/report; report-type=delivery-status; boundary=X\r\n\r\n--X\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; a@b\r\nAction: failed\r\n--X--\r\n"))
	f.Add([]byte("Content-Type: text/html\r\n\r\n<p><a href='x'>y</a><blockquote><blockquote>z</blockquote></blockquote>"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := parseMail(raw)
		if err == nil && m == nil {
			t.Fatal("nil mail without error")
		}
		_ = extractReply(string(raw))
		_ = htmlToText(string(raw))
	})
}
