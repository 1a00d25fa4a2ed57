package irc

import (
	"strings"
	"time"
)

// ctcpReply answers a CTCP request (the text between the \x01 of a
// PRIVMSG, ACTION excepted) the way IRC clients do, with a NOTICE through
// the paced writer: VERSION gives xgate's version, PING echoes its
// argument, TIME and CLIENTINFO answer; anything else is ignored.
func (s *session) ctcpReply(nick, request string) {
	if nick == "" {
		return
	}
	cmd, arg, _ := strings.Cut(request, " ")
	var reply string
	switch strings.ToUpper(cmd) {
	case "VERSION":
		reply = "VERSION xgate " + s.u.t.cfg.Version + " (XMPP gateway)"
	case "PING":
		reply = strings.TrimSpace("PING " + arg)
	case "TIME":
		reply = "TIME " + time.Now().UTC().Format(time.RFC1123)
	case "CLIENTINFO":
		reply = "CLIENTINFO ACTION CLIENTINFO PING TIME VERSION"
	default:
		return
	}
	s.queue("NOTICE", nick, "\x01"+reply+"\x01")
}
