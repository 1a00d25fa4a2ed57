package irc

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lrstanley/girc"

	"xgate/mapping"
	"xgate/transports/irc/ircconn"
)

// reconnectMin and reconnectMax bound the backoff after a lost connection.
const (
	reconnectMin = 2 * time.Second
	reconnectMax = 2 * time.Minute
)

// session is one IRC connection of one user to one network, with its rooms.
// Owned by the user's goroutine, except client, w and done, which the
// connection's goroutines use.
type session struct {
	u    *user
	key  string // lower-cased host: the key in user.sessions
	host string // as in the user's addresses
	net  Network

	client    *ircconn.Conn                // the current connection (user goroutine)
	clientRef atomic.Pointer[ircconn.Conn] // the same, for the writer
	w         *writer
	ctx       context.Context // the writer's and the connection's lifetime
	cancel    context.CancelFunc
	done      chan struct{} // closed when the session is removed

	wantNick   string // the MUC nick of the first join
	nick       string // the nick on IRC once registered
	registered bool
	quitting   bool
	backoff    time.Duration
	casemap    string
	chantypes  string
	prefixes   string          // PREFIX modes, e.g. "qaohv"
	symbols    string          // PREFIX symbols, e.g. "~&@%+"
	chanmodes  string          // CHANMODES, e.g. "beI,k,l,imnpst"
	caps       map[string]bool // IRCv3 capabilities the server acknowledged
	// everUp is set once a connection registered: a failure before that is
	// the user's join failing, after it a loss to recover from.
	everUp bool
	// saslFailed is the server's text when it refused the SASL login of the
	// current connection (904 and kin): girc then closes the connection.
	saslFailed string
	// lists are the LIST requests waiting for the server's answer.
	lists []listReq
	// listOnly marks a connection opened only to answer a LIST: it quits
	// once answered, unless a join adopted it (listsession.go).
	listOnly bool
	// listing collects a LIST reply; listCache keeps the last one a minute
	// for paging.
	listing   []listEntry
	listCache []listEntry
	listAt    time.Time

	rooms map[string]*room // by folded channel name
	// nickReq is the resource that asked for a nick change in progress.
	nickReq string
}

func newSession(u *user, key, host string, n Network, nick string) *session {
	ctx, cancel := context.WithCancel(u.t.life)
	s := &session{
		u: u, key: key, host: host, net: n,
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
		wantNick: nick, nick: nick,
		casemap: "rfc1459", chantypes: "#&", prefixes: "ov", symbols: "@+",
		chanmodes: "beI,k,l,imnpst",
		rooms:     map[string]*room{},
	}
	return s
}

// ircCaps are the IRCv3 capabilities requested when the server offers them.
const ircCaps = "account-notify account-tag away-notify cap-notify chghost echo-message " +
	"extended-join invite-notify message-tags multi-prefix server-time userhost-in-names"

// connect starts (or restarts) the connection in the background.
func (s *session) connect() {
	cfg := ircconn.Config{
		Addr:         net.JoinHostPort(s.net.Host, strconv.Itoa(s.net.Port)),
		Nick:         s.wantNick,
		User:         s.net.Username,
		Realname:     s.net.Realname,
		Pass:         s.net.ServerPassword,
		Bind:         s.net.Bind,
		Caps:         strings.Fields(ircCaps),
		PingInterval: 60 * time.Second,
		PingTimeout:  30 * time.Second,
	}
	tlsOn := !s.net.Plaintext
	mech, cert := s.sasl(tlsOn) // PLAIN, EXTERNAL (clientcert.go) or none
	cfg.SASL = mech
	cfg.WebIRC = s.webirc()       // nil without a WEBIRC password
	cfg.Dial = s.u.t.identDial(s) // nil without identd (identd.go)
	cfg.Slot = s.u.t.budget.registering.slot(budgetKey(s.net))
	if tlsOn {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if s.u.t.cfg.TLSConfig != nil {
			tc = s.u.t.cfg.TLSConfig.Clone()
		}
		if s.net.RootCAs != nil {
			tc.RootCAs = s.net.RootCAs
		}
		if cert != nil {
			// Always present it: a server whose certificate request names
			// acceptable CAs would otherwise get none from crypto/tls (a
			// self-signed certificate is not issued by them), and CertFP
			// only looks at the fingerprint.
			tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
		}
		tc.ServerName = s.net.Host
		cfg.TLS = tc
	}
	c := ircconn.New(cfg)
	s.client = c
	s.registered = false
	s.saslFailed = ""
	s.caps = map[string]bool{}
	if s.w == nil {
		send := s.u.t.net.send
		s.w = newWriter(s.ctx, s.net.Burst, s.net.Interval, func(e *girc.Event) { send(s, e) })
	}
	s.clientRef.Store(c)
	s.u.t.net.dial(s, c)
}

// netHooks are how sessions reach the network: the defaults dial for real;
// unit tests replace them with a fake server.
type netHooks struct {
	// dial connects c in the background and posts a closedEvent when the
	// connection ends.
	dial func(s *session, c *ircconn.Conn)
	// send writes one line on the session's current connection.
	send func(s *session, e *girc.Event)
}

func ircHooks() netHooks {
	return netHooks{
		dial: func(s *session, c *ircconn.Conn) {
			// This goroutine is the connection's only one: it reads, and
			// hands each line to the user's goroutine (waiting while the
			// user's queue is full, so TCP slows the server).
			go func() {
				err := c.Run(s.ctx, func(e *girc.Event) { s.u.post(s, ircEvent{s: s, c: c, e: *e}) })
				s.u.post(s, closedEvent{s: s, c: c, err: err})
			}()
		},
		send: func(s *session, e *girc.Event) {
			if err := s.clientRef.Load().Write(e); err != nil {
				s.u.t.log.Debug("irc write", "user", s.u.jid, "network", s.displayHost(), "err", err)
			}
		},
	}
}

// handleClosed runs when a connection ended. After a QUIT the session is
// gone; after a loss every joined resource gets a 332 presence, and the
// session reconnects with backoff while rooms remain, to rejoin them. A
// refused SASL login gives every room up with not-authorized instead.
func (s *session) handleClosed(c *ircconn.Conn, err error) {
	if c != s.client {
		return
	}
	s.w.setUp(false)
	wasUp := s.registered
	s.registered = false
	s.failLists("the connection to " + s.displayHost() + " was lost")
	if s.quitting || len(s.rooms) == 0 {
		s.remove()
		return
	}
	reason := "the IRC server closed the connection"
	if err != nil {
		reason = "connection to " + s.displayHost() + " lost: " + err.Error()
	}
	if wasUp {
		s.u.t.log.Info("irc connection lost", "user", s.u.jid, "network", s.displayHost(), "err", err)
	}
	cond := "remote-server-not-found"
	if s.saslFailed != "" {
		// Wrong credentials: retrying would only fail again (and may get
		// the account locked), so every room is given up with the reason.
		acct, _ := s.saslCreds()
		cond = "not-authorized"
		reason = "SASL login to " + s.displayHost() + " as " + acct + " failed (" + s.saslFailed +
			"): check the SASL account and password registered with " + s.u.t.cfg.Domain
		if s.saslExternal() {
			reason = "SASL EXTERNAL login to " + s.displayHost() + " failed (" + s.saslFailed +
				"): add your client certificate's fingerprint to your account (Configure an IRC network on " + s.u.t.cfg.Domain + " shows it)"
		}
		s.u.t.log.Info("irc sasl login refused", "user", s.u.jid, "network", s.displayHost(), "account", acct)
	}
	for k, r := range s.rooms {
		if s.saslFailed != "" {
			clear(r.rejoin) // waiting rejoins fail too, with the reason
		}
		r.connectionLost(s, cond, reason)
		if (len(r.pending) == 0 && !r.persistent) || s.saslFailed != "" {
			delete(s.rooms, k)
		}
	}
	if len(s.rooms) == 0 {
		s.remove()
		return
	}
	s.backoff = min(max(2*s.backoff, s.u.t.backoffMin), s.u.t.backoffMax)
	s.u.after(s, s.backoff, reconnectEvent{s: s})
}

// reconnect starts a new connection after a loss, unless no room is left.
func (s *session) reconnect() {
	if s.registered || s.quitting {
		return
	}
	if len(s.rooms) == 0 {
		s.remove()
		return
	}
	s.connect()
}

// remove ends the session: the writer stops, the user forgets it.
func (s *session) remove() {
	s.u.removeSession(s)
	s.cancel()
	select {
	case <-s.done:
	default:
		close(s.done)
		s.u.t.budget.conns.release(budgetKey(s.net)) // the slot admit took, once
	}
}

// close quits the network with reason and removes the session. The QUIT
// is written off the user's goroutine (a write may wait for the socket).
func (s *session) close(reason string) {
	s.quitting = true
	s.remove()
	go s.client.Quit(reason)
}

// queue sends a line through the writer; false when its queue is full.
func (s *session) queue(command string, params ...string) bool {
	return s.w.enqueue(&girc.Event{Command: command, Params: params})
}

// fold is the server's case mapping of a nick or channel.
func (s *session) fold(name string) string {
	b := []byte(strings.ToLower(name))
	if s.casemap != "ascii" {
		for i, c := range b {
			switch c {
			case '[':
				b[i] = '{'
			case ']':
				b[i] = '}'
			case '\\':
				b[i] = '|'
			case '~':
				if s.casemap == "rfc1459" {
					b[i] = '^'
				}
			}
		}
	}
	return string(b)
}

// isChannel reports whether name is a channel on this network.
func (s *session) isChannel(name string) bool {
	return name != "" && strings.IndexByte(s.chantypes, name[0]) >= 0
}

// isMe reports whether nick is ours.
func (s *session) isMe(nick string) bool { return s.fold(nick) == s.fold(s.nick) }

// nickJID is the contact JID of an IRC user on this network.
func (s *session) nickJID(nick string) string {
	return mapping.IRCAddress{Kind: mapping.IRCNick, Name: strings.ToLower(nick), Server: strings.ToLower(s.host)}.Local() + "@" + s.u.t.cfg.Domain
}

// serverJID is the JID of the network itself.
func (s *session) serverJID() string {
	if s.host == "" {
		return s.u.t.fixedServerJID() // fixed.go
	}
	return mapping.IRCAddress{Kind: mapping.IRCServer, Server: strings.ToLower(s.host)}.Local() + "@" + s.u.t.cfg.Domain
}
