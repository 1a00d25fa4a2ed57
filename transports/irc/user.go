package irc

import (
	"encoding/xml"
	"strings"
	"time"

	"github.com/lrstanley/girc"

	"xgate/mapping"
	"xgate/transports"
	"xgate/transports/irc/ircconn"
)

// Events posted to a user's goroutine.
type (
	// stanzaEvent is a stanza the user sent to an IRC address.
	stanzaEvent struct {
		st   transports.Stanza
		addr mapping.IRCAddress
	}
	// ircEvent is a line (or a girc virtual event) from one connection.
	ircEvent struct {
		s *session
		c *ircconn.Conn
		e girc.Event
	}
	// closedEvent says a connection ended (err nil after a QUIT we sent).
	closedEvent struct {
		s   *session
		c   *ircconn.Conn
		err error
	}
	// reconnectEvent says the backoff after a lost connection is over.
	reconnectEvent struct{ s *session }
	// funcEvent runs on the user's goroutine (tests use it as a barrier).
	funcEvent func()
)

// user is one XMPP user (bare JID) and its IRC sessions, one per network.
// Everything in it is owned by "the user's goroutine": the run that drains
// its inbox. That goroutine is lazy (see inbox): it exists only while events
// wait, and ownership passes from one run to the next through inbox.mu.
type user struct {
	t        *Transport
	jid      string
	events   *inbox
	sessions map[string]*session // by lower-cased host
}

func newUser(t *Transport, bare string) *user {
	u := &user{t: t, jid: bare, sessions: map[string]*session{}}
	// Called under the inbox's lock: Run's close of the inbox orders this
	// Add before its Wait (see Transport.Run).
	u.events = newInbox(userQueueSize, func() {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			u.run()
		}()
	})
	return u
}

// run is the user's goroutine: the inbox starts it when an event arrives
// while none runs. It handles the events in order and ends when none is
// left (the next event starts it again), retiring the user when it has no
// session left either. At shutdown, Run closes the inbox with a last event
// that closes the sessions.
func (u *user) run() {
	for {
		if len(u.sessions) == 0 && u.t.retire(u) {
			return
		}
		ev, ok := u.events.take()
		if !ok {
			return
		}
		u.handle(ev)
	}
}

func (u *user) handle(ev any) {
	switch ev := ev.(type) {
	case stanzaEvent:
		u.handleStanza(ev)
	case ircEvent:
		if u.sessions[ev.s.key] == ev.s {
			ev.s.handleIRC(ev.c, ev.e)
		}
	case closedEvent:
		if u.sessions[ev.s.key] == ev.s {
			ev.s.handleClosed(ev.c, ev.err)
		}
	case funcEvent:
		ev()
	case reconnectEvent:
		if u.sessions[ev.s.key] == ev.s {
			ev.s.reconnect()
		}
	}
}

// send queues a stanza to XMPP.
// It waits while the output queue is full (back-pressure, see outbound).
func (u *user) send(e *el) { u.t.out.send(u.t.life, e) }

// inStanza is what the transport reads of a user's stanza.
type inStanza struct {
	XMLName xml.Name
	Bodies  []struct {
		Lang string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
		Text string `xml:",chardata"`
	} `xml:"body"`
	Subject *struct {
		Text string `xml:",chardata"`
	} `xml:"subject"`
	MUC *struct {
		Password string      `xml:"password"`
		History  *historyReq `xml:"history"`
	} `xml:"http://jabber.org/protocol/muc x"`
	OriginID *struct {
		ID string `xml:"id,attr"`
	} `xml:"urn:xmpp:sid:0 origin-id"`
	MUCUser *struct {
		Invites []struct {
			To     string `xml:"to,attr"`
			Reason string `xml:"reason"`
		} `xml:"invite"`
	} `xml:"http://jabber.org/protocol/muc#user x"`
	Status string      `xml:"status"`
	Admin  *adminQuery `xml:"http://jabber.org/protocol/muc#admin query"`
	Items  *itemsQuery `xml:"http://jabber.org/protocol/disco#items query"`
	MAM    *mamQuery   `xml:"urn:xmpp:mam:2 query"`
}

// adminQuery is a muc#admin request.
type adminQuery struct {
	Items []struct {
		Nick        string `xml:"nick,attr"`
		Role        string `xml:"role,attr"`
		Affiliation string `xml:"affiliation,attr"`
		Reason      string `xml:"reason"`
	} `xml:"item"`
}

// itemsQuery is a disco#items request, with its XEP-0059 paging.
type itemsQuery struct {
	Set *rsmSet `xml:"http://jabber.org/protocol/rsm set"`
}

// rsmSet is a XEP-0059 request: Before is set (maybe empty) for <before/>.
type rsmSet struct {
	Max    *int    `xml:"max"`
	After  string  `xml:"after"`
	Before *string `xml:"before"`
	Index  *int    `xml:"index"`
}

func (m *inStanza) body() string {
	if len(m.Bodies) == 0 {
		return ""
	}
	return m.Bodies[0].Text
}

func (u *user) handleStanza(ev stanzaEvent) {
	st := ev.st
	var m inStanza
	if err := st.Decode(&m); err != nil {
		u.t.replyError(st, "bad-request", "the stanza could not be parsed")
		return
	}
	switch st.Name {
	case "presence":
		u.handlePresence(ev, &m)
	case "message":
		u.handleMessage(ev, &m)
	case "iq":
		u.handleIQ(ev, &m)
	}
}

// session returns the session for host, starting one with nick when start
// is set; ok is false (and the user told) when the network is not allowed.
func (u *user) session(st transports.Stanza, host, nick string, start bool) (*session, bool) {
	key := strings.ToLower(host)
	if s, ok := u.sessions[key]; ok {
		return s, true
	}
	if !start {
		u.t.replyError(st, "recipient-unavailable", "you are not connected to "+host+": join a room on it first")
		return nil, false
	}
	n, ok := u.t.network(host)
	if !ok {
		u.t.replyError(st, "not-allowed", host+" is not an IRC network of this gateway")
		return nil, false
	}
	if !u.admit(st, n) { // the network's connection budget (budget.go)
		return nil, false
	}
	s := newSession(u, key, host, u.withIdent(u.t.netSettingsFor(u.jid, n.Host).apply(n)), nick)
	u.sessions[key] = s
	s.connect()
	return s, true
}

// removeSession forgets s (its connection is closed or closing).
func (u *user) removeSession(s *session) {
	if u.sessions[s.key] == s {
		delete(u.sessions, s.key)
	}
}

// post is how a session's goroutines hand events to the user, starting the
// user's goroutine when none runs. It waits while the user's inbox is full,
// and gives up (the event is dropped) when the session is gone, the
// transport stops or the inbox is closed.
func (u *user) post(s *session, ev any) {
	u.events.put(ev, s.done, u.t.life.Done())
}

// after posts ev after d, unless the session ended by then. It is a timer,
// not a waiting goroutine (one per connected user would cost a stack).
func (u *user) after(s *session, d time.Duration, ev any) {
	time.AfterFunc(d, func() {
		select {
		case <-s.done:
		default:
			u.post(s, ev)
		}
	})
}
