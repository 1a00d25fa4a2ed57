package irc

import (
	"strings"
	"testing"
)

// TestCTCPReplies: VERSION names xgate (not the IRC library), PING echoes,
// CLIENTINFO lists what is answered, and unknown requests, replies and
// requests from ourselves get nothing. Replies are NOTICEs to the sender.
func TestCTCPReplies(t *testing.T) {
	f, fc := joined(t)
	f.flush(fc)
	tests := []struct{ line, want string }{
		{":bob!b@h PRIVMSG alice :\x01VERSION\x01", "NOTICE bob :\x01VERSION xgate 1.0-test (XMPP gateway)\x01"},
		{":bob!b@h PRIVMSG alice :\x01PING 12345 678\x01", "NOTICE bob :\x01PING 12345 678\x01"},
		{":bob!b@h PRIVMSG #chan :\x01CLIENTINFO\x01", "NOTICE bob :\x01CLIENTINFO ACTION CLIENTINFO PING TIME VERSION\x01"},
		{":bob!b@h PRIVMSG alice :\x01TIME\x01", "NOTICE bob :\x01TIME "},
	}
	for _, tt := range tests {
		f.recv(fc, tt.line)
		if l := f.line(); !strings.HasPrefix(l, tt.want) {
			t.Errorf("answer to %q: %q, want %q", tt.line, l, tt.want)
		}
	}
	f.recv(fc,
		":bob!b@h PRIVMSG alice :\x01FINGER\x01",
		":bob!b@h NOTICE alice :\x01VERSION other 1.0\x01",
		":alice!a@h PRIVMSG alice :\x01VERSION\x01",
		":carol!c@h PRIVMSG alice :\x01PING last\x01",
	)
	// Lines are written in order: the next one answers carol.
	if l := f.line(); l != "NOTICE carol :\x01PING last\x01" {
		t.Errorf("after the ignored requests: %q, want the answer to carol", l)
	}
	f.quiet(fc) // and no chat message came of them
}
