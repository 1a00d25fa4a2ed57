package irc

import (
	"encoding/xml"
	"strings"

	"xgate/mapping"
	"xgate/transports"
)

// handleIQ answers disco#info on rooms and occupants, disco#items on a
// server (LIST), muc#admin changes on a room (KICK, MODE) and XEP-0410
// self-pings; everything else is service-unavailable.
func (u *user) handleIQ(ev stanzaEvent, m *inStanza) {
	st, addr := ev.st, ev.addr
	if st.Type != "get" && st.Type != "set" {
		return
	}
	child := firstChild(st.Tokens)
	reply := func(payload *el) {
		res := elem("", "iq", "from", st.To, "to", st.From, "type", "result", "id", st.ID)
		u.send(res.add(payload))
	}
	switch {
	case st.Type == "get" && child == xml.Name{Space: nsPing, Local: "ping"}:
		if addr.Kind == mapping.IRCChannel && addr.Nick != "" {
			if r := u.joinedRoom(addr, st.From); r == nil {
				u.t.replyError(st, "not-acceptable", "you are not in "+addr.Name)
				return
			}
		}
		reply(nil)
	case st.Type == "get" && child == xml.Name{Space: nsDiscoInfo, Local: "query"} && addr.Kind == mapping.IRCChannel && addr.Nick != "":
		// An occupant: its nick and, when known, its account.
		if q := u.occupantInfo(addr.Server, addr.Name, addr.Nick, st.From); q != nil {
			reply(q)
		} else {
			u.t.replyError(st, "item-not-found", addr.Nick+" is not in "+addr.Name)
		}
	case st.Type == "get" && child == xml.Name{Space: nsDiscoInfo, Local: "query"} && addr.Nick == "":
		q := discoInfo(addr)
		if u.t.archive != nil && u.t.archiveJID(addr) != "" {
			q.add(elem("", "feature", "var", nsMAM))
		}
		if addr.Kind == mapping.IRCChannel || addr.Kind == mapping.IRCServer {
			q.add(elem("", "feature", "var", nsCommands)) // configure (adhoc.go)
		}
		reply(q)
	case child == xml.Name{Space: nsMAM, Local: "query"} && addr.Nick == "":
		u.handleMAM(st, addr, m.MAM)
	case st.Type == "get" && child == xml.Name{Space: nsDiscoItems, Local: "query"} && addr.Kind == mapping.IRCServer:
		s, ok := u.listSession(st, addr.Server)
		if !ok {
			return
		}
		s.list(st, m.Items)
	case st.Type == "set" && child == xml.Name{Space: nsMUCAdmin, Local: "query"} && addr.Kind == mapping.IRCChannel && addr.Nick == "":
		u.admin(st, addr, m.Admin)
	default:
		u.t.replyError(st, "service-unavailable", "this request is not supported by the IRC gateway")
	}
}

// discoInfo is the disco#info of a room, a server or a nick. Rooms
// advertise only what IRC carries (no corrections or reactions); handleIQ
// adds MAM where the archive is on.
func discoInfo(addr mapping.IRCAddress) *el {
	q := elem(nsDiscoInfo, "query")
	switch addr.Kind {
	case mapping.IRCChannel:
		q.add(elem("", "identity", "category", "conference", "type", "irc", "name", addr.Name))
		for _, f := range []string{nsDiscoInfo, nsMUC, "muc_nonanonymous", "muc_open", "muc_persistent", nsPing, nsSID} {
			q.add(elem("", "feature", "var", f))
		}
	case mapping.IRCServer:
		q.add(elem("", "identity", "category", "gateway", "type", "irc", "name", addr.Server))
		q.add(elem("", "feature", "var", nsDiscoInfo), elem("", "feature", "var", nsDiscoItems), elem("", "feature", "var", nsRSM))
	default:
		q.add(elem("", "identity", "category", "client", "type", "pc", "name", addr.Name))
		q.add(elem("", "feature", "var", nsDiscoInfo))
	}
	return q
}

// joinedRoom is the room of addr when resource is in it, else nil.
func (u *user) joinedRoom(addr mapping.IRCAddress, resource string) *room {
	s, ok := u.sessions[strings.ToLower(addr.Server)]
	if !ok {
		return nil
	}
	r := s.rooms[s.fold(addr.Name)]
	if r == nil || !r.res[resource] {
		return nil
	}
	return r
}

// admin turns a muc#admin item into IRC: role none → KICK with the reason,
// other roles and affiliations → MODE (see adminModes). The IQ is answered
// when the server confirms (our KICK or MODE comes back) or refuses.
func (u *user) admin(st transports.Stanza, addr mapping.IRCAddress, q *adminQuery) {
	r := u.joinedRoom(addr, st.From)
	if r == nil {
		u.t.replyError(st, "not-acceptable", "you are not in "+addr.Name)
		return
	}
	if q == nil || len(q.Items) != 1 || q.Items[0].Nick == "" {
		u.t.replyError(st, "bad-request", "one item with a nick is expected (IRC has no real JIDs to change)")
		return
	}
	s := u.sessions[strings.ToLower(addr.Server)]
	it := q.Items[0]
	o, ok := r.occupants[s.fold(it.Nick)]
	if !ok {
		u.t.replyError(st, "item-not-found", it.Nick+" is not in "+r.name)
		return
	}
	if it.Role == "none" {
		if it.Reason != "" {
			s.queue("KICK", r.name, o.nick, it.Reason)
		} else {
			s.queue("KICK", r.name, o.nick)
		}
		r.admin = append(r.admin, st)
		return
	}
	modes, n := s.adminModes(o.prefix, it.Affiliation, it.Role)
	if n == 0 {
		if it.Affiliation == "outcast" {
			s.queue("MODE", r.name, "+b", o.nick+"!*@*")
			r.admin = append(r.admin, st)
			return
		}
		u.send(elem("", "iq", "from", st.To, "to", st.From, "type", "result", "id", st.ID))
		return
	}
	params := []string{r.name, modes}
	for range n {
		params = append(params, o.nick)
	}
	s.queue("MODE", params...)
	r.admin = append(r.admin, st)
}

// adminDone answers the oldest muc#admin request on r: a result, or the
// server's refusal.
func (s *session) adminDone(r *room, condition, text string) {
	if len(r.admin) == 0 {
		return
	}
	st := r.admin[0]
	r.admin = r.admin[1:]
	if condition != "" {
		s.u.t.replyError(st, condition, text)
		return
	}
	if st.Name != "iq" {
		return // a topic change: the subject broadcast was its answer
	}
	s.u.send(elem("", "iq", "from", st.To, "to", st.From, "type", "result", "id", st.ID))
}

// firstChild is the name of the first element inside the stanza.
func firstChild(toks []xml.Token) xml.Name {
	for _, t := range toks {
		if se, ok := t.(xml.StartElement); ok {
			return se.Name
		}
	}
	return xml.Name{}
}

// isCommandIQ reports whether st is a XEP-0050 request or the listing of
// commands (disco on the commands node), which the component answers.
func isCommandIQ(st transports.Stanza) bool {
	for _, tok := range st.Tokens {
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if se.Name.Space == nsCommands {
			return true
		}
		if se.Name.Space == nsDiscoItems || se.Name.Space == nsDiscoInfo {
			for _, a := range se.Attr {
				if a.Name.Local == "node" && a.Value == nsCommands {
					return true
				}
			}
		}
		return false
	}
	return false
}
