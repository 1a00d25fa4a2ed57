package irc

import (
	"strings"
	"time"

	"github.com/lrstanley/girc"

	"xgate/transports/irc/ircconn"
)

// handleIRC turns one IRC line of the current connection into stanzas.
func (s *session) handleIRC(c *ircconn.Conn, e girc.Event) {
	if c != s.client {
		return // a late line from a previous connection
	}
	nick := ""
	if e.Source != nil {
		nick = e.Source.Name
	}
	p := func(i int) string {
		if i < len(e.Params) {
			return e.Params[i]
		}
		return ""
	}
	s.tagAccount(e, nick)
	switch e.Command {
	case girc.RPL_WELCOME:
		s.nick = p(0)
		if s.wantsSASL() && !s.caps["sasl"] {
			s.saslUnavailable()
		}
		// A server that never ends its MOTD is joined a little later.
		s.u.after(s, motdWait, ircEvent{s: s, c: c, e: girc.Event{Command: girc.CONNECTED}})
	case girc.RPL_ENDOFMOTD, girc.ERR_NOMOTD, girc.CONNECTED:
		// Registration is over with the MOTD (ISUPPORT came before it);
		// CONNECTED is the fallback posted at 001.
		s.registrationDone()
	case girc.RPL_ISUPPORT:
		s.isupport(e.Params)
	case girc.ERR_SASLFAIL, girc.ERR_SASLTOOLONG, girc.ERR_SASLABORTED, girc.RPL_NICKLOCKED:
		s.saslFailed = orText(s.text(e.Last()), "SASL authentication failed")
	case girc.JOIN:
		r := s.rooms[s.fold(p(0))]
		if r == nil {
			if s.isMe(nick) {
				s.queue("PART", p(0)) // a join we did not ask for (forced)
			}
			return
		}
		if s.isMe(nick) {
			return // NAMES follows
		}
		s.joinedBy(r, e, nick)
	case girc.AWAY: // away-notify: AWAY [:text]
		if len(e.Params) > 0 {
			s.awayChanged(nick, orText(s.text(p(0)), "away"))
		} else {
			s.awayChanged(nick, "")
		}
	case "ACCOUNT": // account-notify: ACCOUNT account|*
		s.accountChanged(nick, p(0))
	case girc.RPL_NAMREPLY: // me = #chan :names
		if r := s.rooms[s.fold(p(2))]; r != nil {
			if r.names == nil {
				r.names = map[string]occupant{}
			}
			for _, n := range strings.Fields(p(3)) {
				o := s.known(s.parseName(n))
				r.names[s.fold(o.nick)] = o
			}
		}
	case girc.RPL_ENDOFNAMES:
		if r := s.rooms[s.fold(p(1))]; r != nil && r.names != nil {
			first := !r.joined
			r.occupants, r.names = r.names, nil
			r.joined = true
			r.completeJoin(s)
			if first {
				s.whoAway(r) // who is away already (ircv3_presence.go)
			}
		}
	case girc.RPL_WHOREPLY:
		s.whoReply(e.Params)
	case girc.RPL_TOPIC:
		if r := s.rooms[s.fold(p(1))]; r != nil {
			r.topic = s.text(p(2))
		}
	case girc.RPL_TOPICWHOTIME:
		if r := s.rooms[s.fold(p(1))]; r != nil {
			by, _, _ := strings.Cut(p(2), "!")
			r.topicBy = by
		}
	case girc.TOPIC:
		if r := s.rooms[s.fold(p(0))]; r != nil {
			r.topic, r.topicBy = s.text(p(1)), nick
			if r.joined {
				r.broadcast(s, func(to string) *el {
					return s.stamp(messageEl(r.occupantJID(nick), to, "groupchat", s.u.t.newID()).add(textEl("subject", r.topic)), e)
				})
			}
			if s.isMe(nick) && len(r.admin) > 0 && r.admin[0].Name == "message" {
				s.adminDone(r, "", "") // our topic change is confirmed
			}
		}
	case "CAP": // nick ACK|DEL :caps
		switch p(1) {
		case "ACK":
			for _, c := range strings.Fields(p(2)) {
				s.caps[strings.TrimPrefix(c, "-")] = !strings.HasPrefix(c, "-")
			}
		case "DEL": // cap-notify: the server withdrew them
			for _, c := range strings.Fields(p(2)) {
				delete(s.caps, c)
			}
		}
	case girc.MODE:
		if s.isChannel(p(0)) && len(e.Params) >= 2 {
			s.channelMode(p(0), p(1), e.Params[2:])
			if r := s.rooms[s.fold(p(0))]; r != nil && s.isMe(nick) {
				s.adminDone(r, "", "")
			}
		}
	case girc.ERR_CHANOPRIVSNEEDED: // me #chan :text
		if r := s.rooms[s.fold(p(1))]; r != nil {
			s.adminDone(r, "forbidden", p(1)+": "+s.text(p(len(e.Params)-1)))
		}
	case girc.ERR_USERNOTINCHANNEL: // me nick #chan :text
		if r := s.rooms[s.fold(p(2))]; r != nil {
			s.adminDone(r, "item-not-found", s.text(p(len(e.Params)-1)))
		}
	case girc.ERR_CANNOTSENDTOCHAN: // me #chan :text
		if r := s.rooms[s.fold(p(1))]; r != nil && r.joined {
			s.cannotSend(r, s.text(p(len(e.Params)-1)))
		}
	case girc.RPL_LIST, girc.RPL_LISTEND:
		s.listReply(e.Command, e.Params)
	case girc.INVITE: // nick #chan
		if s.isMe(p(0)) {
			s.invited(nick, p(1))
		} else {
			s.invitedOther(nick, p(0), p(1)) // invite-notify
		}
	case girc.PRIVMSG, girc.NOTICE:
		s.message(e, nick)
	case girc.PART:
		s.gone(p(0), nick, mucItem{}, s.text(p(1)))
	case girc.KICK: // #chan nick :reason
		if r := s.rooms[s.fold(p(0))]; r != nil && s.isMe(nick) && !s.isMe(p(1)) {
			s.adminDone(r, "", "")
		}
		s.gone(p(0), p(1), mucItem{codes: []int{307}, reason: s.text(p(2))}, "")
	case girc.QUIT:
		for _, r := range s.rooms {
			if _, ok := r.occupants[s.fold(nick)]; ok {
				s.gone(r.name, nick, mucItem{}, s.text(p(0)))
			}
		}
	case girc.NICK:
		s.nickChange(nick, p(0))
	case girc.ERR_NICKNAMEINUSE, girc.ERR_ERRONEUSNICKNAME, girc.ERR_NICKCOLLISION:
		if s.registered && s.nickReq != "" {
			s.nickError(p(1), p(len(e.Params)-1), e.Command == girc.ERR_NICKNAMEINUSE)
		}
	case girc.ERR_BANNEDFROMCHAN, girc.ERR_INVITEONLYCHAN, girc.ERR_BADCHANNELKEY,
		girc.ERR_CHANNELISFULL, girc.ERR_TOOMANYCHANNELS, girc.ERR_NOSUCHCHANNEL, "477":
		s.joinError(e.Command, p(1), s.text(p(len(e.Params)-1)))
	}
}

// motdWait is how long after 001 the rooms are joined when the server has
// not ended its MOTD (376 or 422) by then.
const motdWait = 5 * time.Second

// registrationDone opens the writer and joins the rooms once the server
// has registered us (end of MOTD, or motdWait after 001). It runs once per
// connection.
func (s *session) registrationDone() {
	if s.registered || s.quitting {
		return
	}
	s.registered = true
	s.everUp = true
	s.backoff = 0
	s.w.setUp(true)
	s.afterConnect() // the user's commands (bouncer.go)
	for _, r := range s.rooms {
		s.join(r)
	}
}

// isupport records the RPL_ISUPPORT tokens the transport uses.
func (s *session) isupport(params []string) {
	for _, tok := range params {
		k, v, _ := strings.Cut(tok, "=")
		switch k {
		case "CASEMAPPING":
			s.casemap = strings.ToLower(v)
		case "CHANTYPES":
			s.chantypes = v
		case "CHANMODES":
			s.chanmodes = v
		case "PREFIX": // (ov)@+
			if modes, syms, ok := strings.Cut(strings.TrimPrefix(v, "("), ")"); ok && len(modes) == len(syms) {
				s.prefixes, s.symbols = modes, syms
			}
		}
	}
}

// parseName splits a NAMES entry into prefix symbols and nick (multi-prefix
// and userhost-in-names aware).
func (s *session) parseName(n string) occupant {
	i := 0
	for i < len(n) && strings.IndexByte(s.symbols, n[i]) >= 0 {
		i++
	}
	nick, _, _ := strings.Cut(n[i:], "!")
	return occupant{nick: nick, prefix: n[:i]}
}

// text decodes an IRC parameter for XMPP: valid UTF-8 (with the network's
// fallback) and XEP-0393 styling instead of control codes.
func (s *session) text(raw string) string {
	return ircToStyled(decodeText(raw, s.net.Encoding))
}

// stamp adds a XEP-0203 delay when the server gave the line a time
// (server-time).
func (s *session) stamp(m *el, e girc.Event) *el {
	if _, ok := e.Tags.Get("time"); ok {
		m.add(delayEl(s.serverJID(), e.Timestamp))
	}
	return m
}

// message turns a PRIVMSG or NOTICE into a groupchat (channel) or chat
// (private) message. ACTION becomes "/me "; other CTCPs are girc's.
func (s *session) message(e girc.Event, nick string) {
	if len(e.Params) < 2 {
		return
	}
	target, raw := e.Params[0], e.Params[1]
	if strings.HasPrefix(raw, "\x01") {
		inner := strings.TrimSuffix(strings.TrimPrefix(raw, "\x01"), "\x01")
		rest, ok := strings.CutPrefix(inner, "ACTION ")
		if !ok || e.Command != girc.PRIVMSG {
			if e.Command == girc.PRIVMSG && !s.isMe(nick) {
				s.ctcpReply(nick, inner) // a request (ctcp.go); replies are dropped
			}
			return
		}
		raw = "/me " + rest
	}
	body := s.text(raw)
	if e.Command == girc.NOTICE {
		body = "[notice] " + body
	}
	if e.Source == nil || e.Source.IsServer() || nick == "" {
		s.u.send(s.stamp(messageEl(s.serverJID(), s.u.jid, "chat", s.u.t.newID()).add(textEl("body", body)), e))
		return
	}
	if s.isChannel(target) {
		r := s.rooms[s.fold(target)]
		if r == nil || !r.joined {
			return
		}
		if s.isMe(nick) {
			if s.caps["echo-message"] {
				s.echoed(r, e, body)
			}
			return // without echo-message, reflections are sent at once
		}
		sid := s.stanzaID(e)
		r.archiveLine(s, nick, sid, body, e.Timestamp)
		r.mentionOffline(s, nick, body, e) // bouncer.go
		r.broadcast(s, func(to string) *el {
			m := messageEl(r.occupantJID(nick), to, "groupchat", sid).add(textEl("body", body))
			m.add(elem(nsSID, "stanza-id", "id", sid, "by", r.jid))
			return s.stamp(m, e)
		})
		return
	}
	if s.isMe(nick) {
		return // the echo of a private message
	}
	sid := s.stanzaID(e)
	s.archivePM(nick, sid, body, false, e.Timestamp)
	m := messageEl(s.nickJID(nick), s.u.jid, "chat", sid).add(textEl("body", body))
	s.u.send(s.stamp(m, e)) // the user's server adds its own stanza-id
}

// gone handles nick leaving channel (PART, KICK, QUIT): an unavailable
// presence to every resource; when the nick is ours, the room is closed.
func (s *session) gone(channel, nick string, item mucItem, status string) {
	r := s.rooms[s.fold(channel)]
	if r == nil {
		return
	}
	k := s.fold(nick)
	o, known := r.occupants[k]
	delete(r.occupants, k)
	if s.isMe(nick) {
		for to := range r.res {
			p := r.selfUnavailable(s, to, item)
			if status != "" {
				p.add(textEl("status", status))
			}
			s.u.send(p)
		}
		delete(s.rooms, s.fold(channel))
		if len(s.rooms) == 0 {
			s.close("no room left")
		}
		return
	}
	if !known || !r.joined {
		return
	}
	r.broadcast(s, func(to string) *el {
		it := item
		it.affiliation, it.role = affiliationRole(o.prefix)
		it.role = "none"
		p := presenceEl(r.occupantJID(o.nick), to, "unavailable").add(it.el())
		if status != "" {
			p.add(textEl("status", status))
		}
		return p
	})
}

// nickChange handles NICK old → new: in every room with old, unavailable
// from old with 303 and the new nick, then available from new (110 for us).
func (s *session) nickChange(old, nick string) {
	me := s.isMe(old)
	if me {
		s.nick = nick
		s.nickReq = ""
		s.rememberNick() // persistent rooms are rejoined with it (bouncer.go)
	}
	for _, r := range s.rooms {
		o, ok := r.occupants[s.fold(old)]
		if !ok && !me {
			continue
		}
		delete(r.occupants, s.fold(old))
		o.nick = nick
		r.occupants[s.fold(nick)] = o
		if !r.joined {
			continue
		}
		aff, role := affiliationRole(o.prefix)
		r.broadcast(s, func(to string) *el {
			codes := []int{303}
			jid := ""
			if me {
				codes, jid = []int{110, 303}, to
			}
			return presenceEl(r.occupantJID(old), to, "unavailable").add(
				mucItem{affiliation: aff, role: role, nick: nick, jid: jid, codes: codes}.el())
		})
		r.broadcast(s, func(to string) *el {
			if me {
				return presenceEl(r.occupantJID(nick), to, "").add(
					mucItem{affiliation: aff, role: role, jid: to, codes: []int{110}}.el())
			}
			return r.presenceOf(o, to)
		})
	}
}

// nickError answers a refused NICK to the resource that asked.
func (s *session) nickError(nick, text string, inUse bool) {
	cond := "not-acceptable"
	if inUse {
		cond = "conflict"
	}
	to := s.nickReq
	s.nickReq = ""
	for _, r := range s.rooms {
		if r.res[to] {
			s.u.send(presenceEl(r.occupantJID(nick), to, "error").add(errorEl(errorType(cond), cond, s.text(text))))
			return
		}
	}
}

// joinError maps a refused JOIN to a MUC error for the pending resources,
// with the server's text, and forgets the room.
func (s *session) joinError(code, channel, text string) {
	k := s.fold(channel)
	r := s.rooms[k]
	if r == nil || r.joined {
		return
	}
	cond := map[string]string{
		girc.ERR_BANNEDFROMCHAN:  "forbidden",
		girc.ERR_INVITEONLYCHAN:  "registration-required",
		girc.ERR_BADCHANNELKEY:   "not-authorized",
		girc.ERR_CHANNELISFULL:   "service-unavailable",
		girc.ERR_TOOMANYCHANNELS: "service-unavailable",
		girc.ERR_NOSUCHCHANNEL:   "item-not-found",
		"477":                    "registration-required",
	}[code]
	for to := range r.pending {
		s.u.send(presenceEl(r.occupantJID(orText(r.joinNick[to], s.nick)), to, "error").add(
			errorEl(errorType(cond), cond, channel+": "+text)))
	}
	delete(s.rooms, k)
	if len(s.rooms) == 0 {
		s.close("no room left")
	}
}
