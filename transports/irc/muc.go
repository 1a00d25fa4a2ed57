package irc

import (
	"strings"
	"time"

	"github.com/lrstanley/girc"

	"xgate/mapping"
	"xgate/transports"
)

// handlePresence: available presence to #chan%host/nick joins (or, from a
// joined resource with a new nick, changes the nick); unavailable leaves.
// An unavailable presence to any other IRC address is the resource going
// offline (its broadcast presence): it leaves every room.
func (u *user) handlePresence(ev stanzaEvent, m *inStanza) {
	st, addr := ev.st, ev.addr
	if addr.Kind != mapping.IRCChannel {
		if st.Type == "unavailable" {
			u.offline(st.From, m.Status)
		}
		return
	}
	if st.Type == "unavailable" {
		u.leave(st, addr, m.Status)
		return
	}
	if addr.Nick == "" {
		u.t.replyError(st, "jid-malformed", "to join, add your nick as the resource: "+addr.Local()+"@"+u.t.cfg.Domain+"/yournick")
		return
	}
	s, ok := u.session(st, addr.Server, addr.Nick, true)
	if !ok {
		return
	}
	s.adopt(addr.Nick) // a connection opened for LIST becomes the user's
	k := s.fold(addr.Name)
	r, ok := s.rooms[k]
	if ok && r.res[st.From] {
		// Already in: a new nick is a NICK; any other update is nothing.
		if addr.Nick != s.nick && s.registered {
			s.nickReq = st.From
			s.queue("NICK", addr.Nick)
		}
		return
	}
	if !ok {
		key := ""
		if m.MUC != nil {
			key = m.MUC.Password
		}
		r = newRoom(s, addr.Name, key)
		s.rooms[k] = r
		if s.registered {
			s.join(r)
		}
	}
	r.pending[st.From] = true
	r.joinNick[st.From] = addr.Nick
	if m.MUC != nil && m.MUC.History != nil {
		r.history[st.From] = m.MUC.History
	}
	r.completeJoin(s) // at once when the channel is already joined
}

// join sends JOIN for r.
func (s *session) join(r *room) {
	if r.key != "" {
		s.queue("JOIN", r.name, r.key)
	} else {
		s.queue("JOIN", r.name)
	}
}

// leave handles an unavailable presence to a room: the resource gets its
// own unavailable presence; the last resource out PARTs; the last room on
// the network QUITs.
func (u *user) leave(st transports.Stanza, addr mapping.IRCAddress, status string) {
	s, ok := u.sessions[strings.ToLower(addr.Server)]
	if !ok {
		return
	}
	if r, ok := s.rooms[s.fold(addr.Name)]; ok {
		s.leaveRoom(r, st.From, status)
	}
}

// offline takes resource out of every room on every network.
func (u *user) offline(resource, status string) {
	for _, s := range u.sessions {
		for _, r := range s.rooms {
			if r.res[resource] || r.pending[resource] {
				s.leaveRoom(r, resource, status)
			}
		}
	}
}

// leaveRoom takes resource out of r (PART when it was the last, QUIT when
// r was the last room).
func (s *session) leaveRoom(r *room, resource, status string) {
	if r.res[resource] || r.pending[resource] {
		s.u.send(r.selfUnavailable(s, resource, mucItem{}))
	}
	r.forget(resource)
	if !r.empty() || r.persistent {
		return // a persistent room stays joined: lines are archived
	}
	delete(s.rooms, s.fold(r.name))
	if len(s.rooms) == 0 {
		s.close(orText(status, "leaving"))
		return
	}
	if status != "" {
		s.queue("PART", r.name, status)
	} else {
		s.queue("PART", r.name)
	}
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// handleMessage: groupchat to a room → PRIVMSG to the channel (or TOPIC for
// a subject), reflected to every joined resource; chat to a nick or an
// occupant → PRIVMSG to the nick; a message to the server → a raw command.
func (u *user) handleMessage(ev stanzaEvent, m *inStanza) {
	st, addr := ev.st, ev.addr
	body := m.body()
	s, ok := u.session(st, addr.Server, "", false)
	if !ok {
		return
	}
	switch {
	case addr.Kind == mapping.IRCServer:
		if line := strings.TrimSpace(strings.SplitN(body, "\n", 2)[0]); line != "" {
			ev := girc.ParseEvent(line)
			if ev == nil {
				u.t.replyError(st, "bad-request", "not an IRC command: "+line)
				return
			}
			s.w.enqueue(ev)
		}
	case addr.Kind == mapping.IRCChannel && addr.Nick == "" || st.Type == "groupchat":
		r, ok := s.rooms[s.fold(addr.Name)]
		if !ok || !r.res[st.From] {
			u.t.replyError(st, "not-acceptable", "you are not in "+addr.Name+": join it first")
			return
		}
		if m.MUCUser != nil && len(m.MUCUser.Invites) > 0 {
			s.invite(st, r, m.MUCUser.Invites)
			return
		}
		if m.Subject != nil && body == "" {
			s.setTopic(st, r, m.Subject.Text)
			return
		}
		if body == "" {
			return
		}
		n, ok := s.say(r.name, body)
		if !ok {
			u.t.replyError(st, "resource-constraint", "too many lines are waiting to be sent to "+s.displayHost())
			return
		}
		pe := pendingEcho{id: st.ID, body: body, lines: n, st: st}
		if m.OriginID != nil {
			pe.origin = m.OriginID.ID
		}
		if s.caps["echo-message"] {
			// Reflected when the server echoes what it accepted.
			r.echoes = append(r.echoes, pe)
			return
		}
		r.reflect(s, pe, body, "")
	default:
		target := addr.Name
		if addr.Kind == mapping.IRCChannel {
			target = addr.Nick // in-room private message
		}
		if body == "" {
			return
		}
		if _, ok := s.say(target, body); !ok {
			u.t.replyError(st, "resource-constraint", "too many lines are waiting to be sent to "+s.displayHost())
			return
		}
		s.archivePM(target, orText(st.ID, u.t.newID()), body, true, time.Now())
	}
}

// say queues body to target as PRIVMSGs (an ACTION for "/me "), split at
// the line limit; n is the number of lines.
func (s *session) say(target, body string) (n int, ok bool) {
	action := false
	if rest, ok := strings.CutPrefix(body, "/me "); ok {
		action, body = true, rest
	}
	for _, line := range splitText(body, textBudget("PRIVMSG", target, action)) {
		if action {
			line = "\x01ACTION " + line + "\x01"
		}
		if !s.queue("PRIVMSG", target, line) {
			return n, false
		}
		n++
	}
	return n, true
}

// setTopic asks the server to change r's topic. The server's TOPIC, sent
// to every member, confirms it: every joined resource gets the subject
// (events.go). A refusal (482, +t without operator status) answers st
// with a message error carrying the server's text. An unchanged topic is
// confirmed at once: servers may ignore it silently.
func (s *session) setTopic(st transports.Stanza, r *room, text string) {
	if text == r.topic {
		r.broadcast(s, func(to string) *el {
			return messageEl(r.occupantJID(orText(r.topicBy, s.nick)), to, "groupchat", s.u.t.newID()).add(textEl("subject", r.topic))
		})
		return
	}
	if !s.queue("TOPIC", r.name, text) {
		s.u.t.replyError(st, "resource-constraint", "too many lines are waiting for "+s.displayHost()+"; try again in a moment")
		return
	}
	r.admin = append(r.admin, st) // answered like a muc#admin request
}
