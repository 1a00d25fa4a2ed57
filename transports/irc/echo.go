package irc

import (
	"strings"
	"time"

	"github.com/lrstanley/girc"

	"xgate/mapping"
	"xgate/transports"
)

// pendingEcho is a groupchat message of ours waiting for the server's echo
// (echo-message): lines more lines are expected; got collects the text
// the server accepted.
type pendingEcho struct {
	id, origin, body string
	lines            int
	got              []string
	// st is the user's message, answered with an error when the server
	// refuses a line (404); refused is then set and no reflection is sent.
	st      transports.Stanza
	refused bool
}

// reflect sends our message to every joined resource of r: body is the
// text as the server accepted it, sid the stanza-id.
func (r *room) reflect(s *session, pe pendingEcho, body, sid string) {
	if sid == "" {
		sid = s.u.t.newID()
	}
	id := orText(pe.id, sid)
	r.archiveLine(s, s.nick, sid, body, time.Now())
	r.broadcast(s, func(to string) *el {
		m := messageEl(r.occupantJID(s.nick), to, "groupchat", id).add(textEl("body", body))
		if pe.origin != "" {
			m.add(elem(nsSID, "origin-id", "id", pe.origin))
		}
		return m.add(elem(nsSID, "stanza-id", "id", sid, "by", r.jid))
	})
}

// echoed matches the echo of one of our lines to the oldest message
// waiting in r; when its last line is back, the reflection goes out with
// the text the server accepted (the original body when nothing changed).
// An echo nobody waits for (a raw command) is reflected as it is.
func (s *session) echoed(r *room, e girc.Event, text string) {
	if len(r.echoes) == 0 {
		r.reflect(s, pendingEcho{}, text, s.stanzaID(e))
		return
	}
	pe := &r.echoes[0]
	pe.got = append(pe.got, text)
	if len(pe.got) < pe.lines {
		return
	}
	done := *pe
	r.echoes = r.echoes[1:]
	if done.refused {
		return // the sender got the server's refusal instead
	}
	body := strings.Join(done.got, "\n")
	if sameText(done.got, done.body) {
		body = done.body
	}
	r.reflect(s, done, body, s.stanzaID(e))
}

// sameText reports whether the accepted lines are body split (the splitter
// cuts at spaces and newlines).
func sameText(lines []string, body string) bool {
	return strings.Join(strings.Fields(strings.Join(lines, " ")), " ") == strings.Join(strings.Fields(body), " ")
}

// stanzaID is the XEP-0359 id of an inbound line: the server's msgid tag
// when it gives one, else a fresh id.
func (s *session) stanzaID(e girc.Event) string {
	if id, ok := e.Tags.Get("msgid"); ok && id != "" {
		return id
	}
	return s.u.t.newID()
}

// invite sends a XEP-0045 mediated invitation as INVITE: the invitee must
// be a nick on the same network.
func (s *session) invite(st transports.Stanza, r *room, invites []struct {
	To     string `xml:"to,attr"`
	Reason string `xml:"reason"`
}) {
	for _, inv := range invites {
		local, rest, ok := strings.Cut(inv.To, "@")
		domain, _, _ := strings.Cut(rest, "/")
		addr, err := mapping.ParseIRCFixed(local, "", s.chantypes, s.u.t.cfg.FixedNetwork)
		if !ok || err != nil || !strings.EqualFold(domain, s.u.t.cfg.Domain) || addr.Kind != mapping.IRCNick || !strings.EqualFold(addr.Server, s.host) {
			s.u.t.replyError(st, "not-acceptable", "only nicks on "+s.displayHost()+" can be invited to "+r.name+" ("+mapping.IRCAddress{Kind: mapping.IRCNick, Name: "nick", Server: s.key}.Local()+"@"+s.u.t.cfg.Domain+")")
			return
		}
		s.queue("INVITE", addr.Name, r.name)
	}
}

// invited turns an INVITE to us into a mediated invitation from the room.
func (s *session) invited(from, channel string) {
	roomJID := mapping.IRCAddress{Kind: mapping.IRCChannel, Name: strings.ToLower(channel), Server: s.key}.Local() + "@" + s.u.t.cfg.Domain
	m := messageEl(roomJID, s.u.jid, "", s.u.t.newID())
	m.add(elem(nsMUCUser, "x").add(elem("", "invite", "from", s.nickJID(from)).add(textEl("reason", from+" invites you to "+channel))))
	m.add(textEl("body", from+" invites you to "+channel+": join "+roomJID))
	s.u.send(m)
}

// cannotSend handles ERR_CANNOTSENDTOCHAN (404) for a joined room: with
// echo-message the server will not echo the refused line, so the oldest
// message waiting for its echo is the refused one: its sender gets an
// error with the server's text (once per message), and it is never
// reflected. Without echo-message the reflection went out already; the
// sender still gets the error.
func (s *session) cannotSend(r *room, text string) {
	if !s.caps["echo-message"] || len(r.echoes) == 0 {
		for to := range r.res {
			s.u.send(messageEl(r.jid, to, "error", s.u.t.newID()).add(errorEl("cancel", "not-allowed", r.name+": "+text)))
		}
		return
	}
	pe := &r.echoes[0]
	if !pe.refused {
		pe.refused = true
		s.u.t.replyError(pe.st, "not-allowed", r.name+": "+text)
	}
	pe.got = append(pe.got, "")
	if len(pe.got) >= pe.lines {
		r.echoes = r.echoes[1:]
	}
}
