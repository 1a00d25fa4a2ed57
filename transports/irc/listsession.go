package irc

import (
	"strings"

	"xgate/transports"
)

// LIST on a network the user is not connected to opens a connection just
// for it, with the nick the user configured for the network (or one made
// of their JID): it quits once the channels are listed, unless the user
// joined a room on it meanwhile, which adopts it with the room's nick.

// listSession is the user's session on host, opened for LIST when there is
// none.
func (u *user) listSession(st transports.Stanza, host string) (*session, bool) {
	if s, ok := u.sessions[strings.ToLower(host)]; ok {
		return s, true
	}
	n, ok := u.t.network(host)
	if !ok {
		u.t.replyError(st, "not-allowed", orText(host, u.t.cfg.FixedNetwork)+" is not an IRC network of this gateway")
		return nil, false
	}
	nick := orText(u.t.netSettingsFor(u.jid, n.Host).nick, defaultNick(u.jid))
	s, ok := u.session(st, host, nick, true)
	if ok {
		s.listOnly = true
	}
	return s, ok
}

// listDone quits a LIST-only connection once nothing waits on it.
func (s *session) listDone() {
	if s.listOnly && len(s.rooms) == 0 && len(s.lists) == 0 {
		s.close("channels listed")
	}
}

// adopt makes a LIST-only connection the user's: the first join's nick
// becomes its nick.
func (s *session) adopt(nick string) {
	if !s.listOnly {
		return
	}
	s.listOnly = false
	s.wantNick = nick
	if nick != "" && nick != s.nick {
		s.queue("NICK", nick)
	}
}
