package irc

import (
	"strings"

	"github.com/lrstanley/girc"
)

// IRCv3 presence extensions (away-notify, account-notify, extended-join,
// account-tag, chghost, invite-notify) mapped to XMPP:
//
//   - AWAY :text → every room shared with the nick re-sends the occupant's
//     presence with <show>away</show> and <status>text</status>; AWAY with
//     no text → the presence again without them (available).
//   - The services account (extended-join's JOIN parameter, ACCOUNT,
//     the account tag on any line) is kept per occupant. MUC has no slot
//     for it (a <status> would be taken for the user's own words), so it is
//     not put in presences; it is shown in disco#info on the occupant's JID
//     (occupantInfo) and is what WHOIS (330) tells through the network JID.
//   - Who is away already when the user joins: with away-notify, the join
//     is followed by WHO #chan, whose replies flag away users "G" (gone),
//     without their text: they get <show>away</show> and the status
//     "away" until their next AWAY.
//   - CHGHOST changes nothing visible: occupant presences carry the nick
//     JID, never user@host, so nothing is re-sent.
//   - INVITE of someone else (invite-notify; servers send it to channel
//     operators) → a groupchat message from the room's bare JID (a room
//     notice): "alice invited carol to #chan".

// decorate adds the occupant's away state to its presence.
func (o occupant) decorate(p *el) *el {
	if o.away == "" {
		return p
	}
	return p.add(textEl("show", "away"), textEl("status", o.away))
}

// awayChanged handles AWAY from nick (away-notify): text "" is back.
func (s *session) awayChanged(nick, text string) {
	k := s.fold(nick)
	for _, r := range s.rooms {
		o, ok := r.occupants[k]
		if !ok || o.away == text {
			continue
		}
		o.away = text
		r.occupants[k] = o
		if r.joined {
			r.broadcast(s, func(to string) *el { return r.presenceOf(o, to) })
		}
	}
}

// accountChanged records nick's account ("" or "*": logged out) in every
// room shared with it. Nothing is sent (see above).
func (s *session) accountChanged(nick, account string) {
	if account == "*" {
		account = ""
	}
	k := s.fold(nick)
	for _, r := range s.rooms {
		if o, ok := r.occupants[k]; ok && o.account != account {
			o.account = account
			r.occupants[k] = o
		}
	}
}

// tagAccount applies the account tag of a line from nick (account-tag):
// present means logged in as it, absent means not logged in — only when
// the capability is on, since otherwise no line carries it.
func (s *session) tagAccount(e girc.Event, nick string) {
	if !s.caps["account-tag"] || nick == "" || e.Source == nil || e.Source.IsServer() || s.isMe(nick) {
		return
	}
	acct, _ := e.Tags.Get("account")
	s.accountChanged(nick, acct)
}

// known copies what the session already knows of nick (from another room)
// into an occupant that just joined: away text and account.
func (s *session) known(o occupant) occupant {
	k := s.fold(o.nick)
	for _, r := range s.rooms {
		if prev, ok := r.occupants[k]; ok {
			o.away = prev.away
			if o.account == "" {
				o.account = prev.account
			}
			return o
		}
	}
	return o
}

// joined handles JOIN of another nick: with extended-join the parameters
// are #chan account :realname.
func (s *session) joinedBy(r *room, e girc.Event, nick string) {
	o := occupant{nick: nick}
	if s.caps["extended-join"] && len(e.Params) >= 2 && e.Params[1] != "*" {
		o.account = e.Params[1]
	}
	o = s.known(o)
	r.occupants[s.fold(nick)] = o
	if r.joined {
		r.broadcast(s, func(to string) *el { return r.presenceOf(o, to) })
	}
}

// invitedOther shows an INVITE of someone else to a joined room
// (invite-notify) as a room notice.
func (s *session) invitedOther(by, nick, channel string) {
	r := s.rooms[s.fold(channel)]
	if r == nil || !r.joined {
		return
	}
	body := by + " invited " + nick + " to " + r.name
	r.broadcast(s, func(to string) *el {
		return messageEl(r.jid, to, "groupchat", s.u.t.newID()).add(textEl("body", body))
	})
}

// accountOf is what the session knows of nick's account, "" when not
// logged in or unknown.
func (s *session) accountOf(nick string) string {
	k := s.fold(nick)
	for _, r := range s.rooms {
		if o, ok := r.occupants[k]; ok && o.account != "" {
			return o.account
		}
	}
	return ""
}

// occupantInfo is the disco#info of an occupant (#chan%host@domain/nick)
// the resource shares a room with: a client identity whose name carries
// the services account when known. nil when the occupant is unknown.
func (u *user) occupantInfo(host, channel, nick, resource string) *el {
	s, ok := u.sessions[strings.ToLower(host)]
	if !ok {
		return nil
	}
	r := s.rooms[s.fold(channel)]
	if r == nil || !r.res[resource] {
		return nil
	}
	o, ok := r.occupants[s.fold(nick)]
	if !ok {
		return nil
	}
	name := o.nick
	if o.account != "" {
		name += " (logged in as " + o.account + ")"
	}
	q := elem(nsDiscoInfo, "query")
	q.add(elem("", "identity", "category", "client", "type", "pc", "name", name))
	q.add(elem("", "feature", "var", nsDiscoInfo))
	return q
}

// whoAway asks who in r is away, when away-notify keeps it current after.
func (s *session) whoAway(r *room) {
	if s.caps["away-notify"] {
		s.queue("WHO", r.name)
	}
}

// whoReply reads RPL_WHOREPLY (me #chan user host server nick flags :hops
// realname): "G" is away, its text unknown.
func (s *session) whoReply(params []string) {
	if len(params) < 7 || !strings.HasPrefix(params[6], "G") || s.isMe(params[5]) {
		return
	}
	for _, r := range s.rooms {
		if o, ok := r.occupants[s.fold(params[5])]; ok && o.away != "" {
			return // its text is known already
		}
	}
	s.awayChanged(params[5], "away")
}
