package irc

import (
	"sort"
	"strings"

	"xgate/mapping"
	"xgate/transports"
)

// room is one channel the user is in (or joining) on a session.
type room struct {
	name string // as the user addressed it
	key  string // channel key (MUC password)
	jid  string // the room's bare JID

	res     map[string]bool // full JIDs that are in the room
	pending map[string]bool // full JIDs waiting for the join to complete
	// joinNick is the nick each pending resource asked for (210 if ours differs).
	joinNick map[string]string
	// rejoin marks pending resources that were in the room when the
	// connection was lost: they wait silently for the reconnection.
	rejoin map[string]bool
	// echoes are our messages waiting for the server's echo (echo-message),
	// oldest first; admin the muc#admin requests waiting for their MODE or
	// KICK, and the subject changes waiting for their TOPIC.
	echoes []pendingEcho
	admin  []transports.Stanza

	// conv is the room's archive conversation (lower-cased bare JID);
	// persistent rooms stay joined without resources; archived rooms
	// archive their lines. history is each pending resource's <history/>.
	conv       string
	persistent bool
	archived   bool
	history    map[string]*historyReq

	joined    bool                // NAMES complete: occupants known
	occupants map[string]occupant // by folded nick
	names     map[string]occupant // NAMES being collected
	topic     string
	topicBy   string
}

// occupant is a nick in a channel and its prefix symbols ("@", "+", "~@").
type occupant struct {
	nick   string
	prefix string
	// away is the AWAY text (away-notify; "" when present), account the
	// services account (extended-join, account-notify, account-tag). See
	// ircv3_presence.go.
	away, account string
}

func newRoom(s *session, name, key string) *room {
	rk := roomKey(name, s.host)
	return &room{
		name: name, key: key,
		jid:        mapping.IRCAddress{Kind: mapping.IRCChannel, Name: name, Server: strings.ToLower(s.host)}.Local() + "@" + s.u.t.cfg.Domain,
		conv:       rk + "@" + s.u.t.cfg.Domain,
		persistent: s.u.t.isPersistent(s.u.jid, rk, s.key),
		archived:   s.u.t.isArchived(s.u.jid, rk),
		history:    map[string]*historyReq{},
		res:        map[string]bool{},
		pending:    map[string]bool{},
		joinNick:   map[string]string{},
		rejoin:     map[string]bool{},
		occupants:  map[string]occupant{},
	}
}

// occupantJID is room@domain/nick.
func (r *room) occupantJID(nick string) string { return r.jid + "/" + nick }

// affiliationRole maps IRC prefixes as biboumi does: ~ and & owner, @ admin
// (moderators), % member and moderator, + member, nothing none/participant.
func affiliationRole(prefix string) (affiliation, role string) {
	switch {
	case strings.ContainsAny(prefix, "~&"):
		return "owner", "moderator"
	case strings.Contains(prefix, "@"):
		return "admin", "moderator"
	case strings.Contains(prefix, "%"):
		return "member", "moderator"
	case strings.Contains(prefix, "+"):
		return "member", "participant"
	}
	return "none", "participant"
}

// presenceOf is the available presence of occupant o to one resource.
func (r *room) presenceOf(o occupant, to string, codes ...int) *el {
	aff, role := affiliationRole(o.prefix)
	return o.decorate(presenceEl(r.occupantJID(o.nick), to, "").add(mucItem{affiliation: aff, role: role, codes: codes}.el()))
}

// broadcast sends a stanza built for each joined resource.
func (r *room) broadcast(s *session, build func(to string) *el) {
	for to := range r.res {
		s.u.send(build(to))
	}
}

// completeJoin sends each pending resource the occupants, its own presence
// (110, 100, and 210 when its nick is not the one it asked for) and the
// subject, and makes it a joined resource.
func (r *room) completeJoin(s *session) {
	if !r.joined {
		return
	}
	nicks := make([]string, 0, len(r.occupants))
	for k := range r.occupants {
		nicks = append(nicks, k)
	}
	sort.Strings(nicks)
	self := r.occupants[s.fold(s.nick)]
	self.nick = s.nick
	for to := range r.pending {
		for _, k := range nicks {
			if o := r.occupants[k]; !s.isMe(o.nick) {
				s.u.send(r.presenceOf(o, to))
			}
		}
		codes := []int{110, 100}
		if asked := r.joinNick[to]; asked != "" && asked != s.nick {
			codes = append(codes, 210)
		}
		aff, role := affiliationRole(self.prefix)
		s.u.send(presenceEl(r.occupantJID(s.nick), to, "").add(
			mucItem{affiliation: aff, role: role, jid: to, codes: codes}.el()))
		if !r.rejoin[to] {
			r.sendHistory(s, to, r.history[to])
		}
		from := r.jid
		if r.topicBy != "" {
			from = r.occupantJID(r.topicBy)
		}
		s.u.send(messageEl(from, to, "groupchat", s.u.t.newID()).add(textEl("subject", r.topic)))
		r.res[to] = true
		delete(r.pending, to)
		delete(r.joinNick, to)
		delete(r.rejoin, to)
		delete(r.history, to)
	}
}

// leaveResource sends resource to its own unavailable presence.
func (r *room) selfUnavailable(s *session, to string, item mucItem) *el {
	item.codes = append([]int{110}, item.codes...)
	item.jid = to
	if item.affiliation == "" {
		item.affiliation, item.role = "none", "none"
	}
	return presenceEl(r.occupantJID(s.nick), to, "unavailable").add(item.el())
}

// connectionLost tells every joined resource it left the room (332), and
// keeps it waiting for the rejoin after the reconnection; resources that
// were joining for the first time get an error with condition cond instead.
func (r *room) connectionLost(s *session, cond, reason string) {
	for to := range r.pending {
		if r.rejoin[to] {
			continue
		}
		s.u.send(presenceEl(r.occupantJID(orText(r.joinNick[to], s.nick)), to, "error").add(errorEl("cancel", cond, reason)))
		delete(r.pending, to)
		delete(r.joinNick, to)
	}
	for to := range r.res {
		p := r.selfUnavailable(s, to, mucItem{codes: []int{332}})
		p.add(textEl("status", reason))
		s.u.send(p)
		r.pending[to] = true
		r.rejoin[to] = true
	}
	for _, st := range r.admin {
		s.u.t.replyError(st, "remote-server-not-found", reason)
	}
	r.admin = nil
	r.echoes = nil
	r.res = map[string]bool{}
	r.joined = false
	r.occupants = map[string]occupant{}
	r.names = nil
}

// forget removes resource from the room in every state.
func (r *room) forget(to string) {
	delete(r.history, to)
	delete(r.res, to)
	delete(r.pending, to)
	delete(r.joinNick, to)
	delete(r.rejoin, to)
}

// empty reports whether no resource is in or waiting for the room.
func (r *room) empty() bool { return len(r.res) == 0 && len(r.pending) == 0 }
