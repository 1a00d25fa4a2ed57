package irc

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"

	"github.com/lrstanley/girc"

	"xgate/mapping"
	"xgate/store"
	"xgate/transports"
)

// Bouncer is the part of Config for the bouncer features: persistent rooms,
// the per-user archive and the settings users change with ad-hoc commands.
type Bouncer struct {
	// Store keeps the users' settings in their registrations; without it
	// the configure commands answer that nothing can be saved.
	Store store.Store
	// Archive, when set, archives every room line and private message per
	// user: replayed on join (XEP-0045 history) and queried with XEP-0313.
	Archive store.Archives
	// ArchiveRetention prunes older lines (0: kept forever).
	ArchiveRetention time.Duration
	// History is how many lines a join replays unless the client asks.
	History int
	// Persistent makes rooms persistent unless a user turns it off.
	Persistent bool
}

// maxHistory bounds the lines one join replays, whatever the client asks.
const maxHistory = 1000

// archiveTimeout bounds the archive reads a join or a query waits for.
const archiveTimeout = 10 * time.Second

// idPrefix is a random prefix for this process's stanza ids: archive ids
// must stay unique across restarts.
func idPrefix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "xg" + strings.ToLower(base32.StdEncoding.EncodeToString(b)) + "-"
}

// runArchive runs the archive writer and the hourly pruning until ctx
// ends; the channel is closed when both are done (the writer has committed
// what was left).
func (t *Transport) runArchive(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	if t.archive == nil {
		close(done)
		return done
	}
	pruned := make(chan struct{})
	go func() {
		defer close(pruned)
		if t.cfg.ArchiveRetention <= 0 {
			return
		}
		tick := time.NewTicker(time.Hour)
		defer tick.Stop()
		for {
			t.pruneArchive(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	go func() {
		defer close(done)
		if err := t.archive.Run(ctx); err != nil && ctx.Err() == nil {
			t.log.Error("irc: archive writer stopped", "err", err)
		}
		<-pruned
	}()
	return done
}

// pruneArchive deletes the lines older than the retention.
func (t *Transport) pruneArchive(ctx context.Context) {
	n, err := t.cfg.Archive.PruneArchive(ctx, time.Now().Add(-t.cfg.ArchiveRetention))
	if err != nil && ctx.Err() == nil {
		t.log.Warn("irc: prune the archive", "err", err)
	} else if n > 0 {
		t.log.Info("irc: archive pruned", "lines", n, "retention", t.cfg.ArchiveRetention)
	}
}

// rejoinPersistent joins, at start, every persistent room and auto-join
// channel of every user, without resources: the connections come up and
// lines are archived until the users come back.
func (t *Transport) rejoinPersistent() {
	for jid, keys := range t.persistentRooms() {
		ok := t.postUser(jid, func(u *user) {
			for _, k := range keys {
				u.joinPersistent(k)
			}
		})
		if !ok {
			t.log.Warn("irc: persistent rooms not rejoined", "user", jid, "rooms", len(keys))
		}
	}
}

// postUser runs fn on user's goroutine, starting it when needed; false
// when the transport stops or the user's queue is full.
func (t *Transport) postUser(bare string, fn func(u *user)) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.life.Err() != nil {
		return false
	}
	u := t.userLocked(bare)
	return u.events.tryPut(funcEvent(func() { fn(u) }))
}

// joinPersistent joins the room key (#chan%host) with no resource in it;
// an auto-join entry of the network may give the channel's key.
func (u *user) joinPersistent(key string) {
	addr, err := u.t.parseAddr(key, "")
	if err != nil || addr.Kind != mapping.IRCChannel {
		u.t.log.Warn("irc: a stored persistent room is not a room address; skipped", "user", u.jid, "room", key)
		return
	}
	ns := u.t.netSettingsFor(u.jid, orText(addr.Server, u.t.cfg.FixedNetwork))
	rs := u.t.roomSettingsFor(u.jid, key)
	nick := orText(rs.nick, orText(ns.nick, defaultNick(u.jid)))
	s, ok := u.session(transports.Stanza{}, addr.Server, nick, true)
	if !ok {
		return
	}
	k := s.fold(addr.Name)
	if _, ok := s.rooms[k]; ok {
		return
	}
	chanKey := ""
	for _, ch := range ns.autojoin {
		name, kk, _ := strings.Cut(ch, " ")
		if strings.EqualFold(name, addr.Name) {
			chanKey = strings.TrimSpace(kk)
		}
	}
	r := newRoom(s, addr.Name, chanKey)
	r.persistent = true
	s.rooms[k] = r
	if s.registered {
		s.join(r)
	}
}

// defaultNick is a nick made of the JID's localpart when the user set none.
func defaultNick(jid string) string {
	local, _, _ := strings.Cut(jid, "@")
	var b strings.Builder
	for _, c := range local {
		if b.Len() >= 16 {
			break
		}
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9' && b.Len() > 0, strings.ContainsRune("_-[]{}|^`", c):
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return "xgate-user"
	}
	return b.String()
}

// isPersistent reports whether user's room key is persistent.
func (t *Transport) isPersistent(jid, key, host string) bool {
	rs := t.roomSettingsFor(jid, key)
	switch rs.persistent {
	case "1":
		return true
	case "0":
		return false
	}
	for _, ch := range t.netSettingsFor(jid, host).autojoin {
		name, _, _ := strings.Cut(ch, " ")
		if roomKey(name, host) == key {
			return true
		}
	}
	return t.cfg.Persistent
}

// isArchived reports whether user's room key is archived.
func (t *Transport) isArchived(jid, key string) bool {
	return t.archive != nil && t.roomSettingsFor(jid, key).archive != "0"
}

// archiveRoom archives one line said in r by nick.
func (r *room) archiveLine(s *session, nick, id, body string, when time.Time) {
	if r.archived {
		s.u.archiveLine(r.conv, r.occupantJID(nick), id, body, when)
	}
}

// archivePM archives a private message with nick (out: sent by the user).
func (s *session) archivePM(nick, id, body string, out bool, when time.Time) {
	if s.u.t.archive == nil {
		return
	}
	conv := s.nickJID(nick)
	with := conv
	if out {
		with = s.u.jid
	}
	s.u.archiveLine(conv, with, id, body, when)
}

// archiveLine queues one entry; it waits while the writer is full (the
// user's goroutine slows down rather than losing lines).
func (u *user) archiveLine(conv, with, id, body string, when time.Time) {
	if when.IsZero() {
		when = time.Now()
	}
	err := u.t.archive.Add(u.t.life, store.ArchiveEntry{
		ID: id, Transport: "irc", User: u.jid, Conversation: conv, With: with,
		Time: when.UTC(), Payload: []byte(body),
	})
	if err != nil && u.t.life.Err() == nil {
		u.t.log.Warn("irc: archive a line", "user", u.jid, "err", err)
	}
}

// historyReq is a join's XEP-0045 <history/> request.
type historyReq struct {
	MaxStanzas *int   `xml:"maxstanzas,attr"`
	MaxChars   *int   `xml:"maxchars,attr"`
	Seconds    *int   `xml:"seconds,attr"`
	Since      string `xml:"since,attr"`
}

// sendHistory replays the archived lines the joining resource to asked
// for (or the configured default), before the subject.
func (r *room) sendHistory(s *session, to string, req *historyReq) {
	if !r.archived {
		return
	}
	limit := s.u.t.cfg.History
	var since time.Time
	if req != nil {
		if req.MaxStanzas != nil {
			limit = *req.MaxStanzas
		}
		if req.MaxChars != nil && *req.MaxChars == 0 {
			limit = 0
		}
		if req.Seconds != nil {
			since = time.Now().Add(-time.Duration(*req.Seconds) * time.Second)
		}
		if t, err := time.Parse(time.RFC3339, req.Since); err == nil && t.After(since) {
			since = t
		}
	}
	limit = min(limit, maxHistory)
	if limit <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.u.t.life, archiveTimeout)
	defer cancel()
	last := ""
	page, err := s.u.t.queryArchive(ctx, store.ArchiveQuery{
		Transport: "irc", User: s.u.jid, Conversation: r.conv, Start: since, BeforeID: &last, Max: limit,
	})
	if err != nil {
		s.u.t.log.Warn("irc: history: query the archive", "user", s.u.jid, "room", r.conv, "err", err)
		return
	}
	entries := page.Entries
	if req != nil && req.MaxChars != nil {
		total := 0
		for i := len(entries) - 1; i >= 0; i-- {
			total += len(entries[i].Payload)
			if total > *req.MaxChars {
				entries = entries[i+1:]
				break
			}
		}
	}
	for _, e := range entries {
		m := messageEl(e.With, to, "groupchat", e.ID).add(textEl("body", string(e.Payload)))
		m.add(delayEl(r.jid, e.Time))
		m.add(elem(nsSID, "stanza-id", "id", e.ID, "by", r.jid))
		s.u.send(m)
	}
}

// afterConnect sends the user's "commands after connecting" for the
// network, before the rooms are joined.
func (s *session) afterConnect() {
	for _, line := range s.u.t.netSettingsFor(s.u.jid, s.saslKey()).commands {
		if ev := girc.ParseEvent(line); ev != nil {
			s.w.enqueue(ev)
		} else {
			s.u.t.log.Info("irc: a command after connecting is not an IRC line; skipped", "user", s.u.jid, "network", s.displayHost())
		}
	}
}

// rememberNick stores the session's new nick for its persistent rooms, so
// that xgate rejoins them with it after a restart (a short write on the
// user's goroutine: nick changes are rare). A failure is logged: the old
// nick would be used.
func (s *session) rememberNick() {
	var keys []string
	for _, r := range s.rooms {
		if r.persistent {
			keys = append(keys, roomKey(r.name, s.host))
		}
	}
	if len(keys) == 0 || s.u.t.cfg.Store == nil {
		return
	}
	t := s.u.t
	ctx, cancel := context.WithTimeout(t.life, archiveTimeout)
	defer cancel()
	err := t.updateSettings(ctx, s.u.jid, func(set map[string]string, _ func(string, string) (string, error)) error {
		for _, k := range keys {
			set[roomSettingKey(k, "nick")] = s.nick
		}
		return nil
	})
	if err != nil && t.life.Err() == nil {
		t.log.Warn("irc: remember the nick of persistent rooms", "user", s.u.jid, "err", err)
	}
}

// mentionOffline tells the user, as a chat message to their bare JID (their
// server keeps it while they are offline), about a line of a persistent
// room that names their nick while none of their clients is in the room.
// The line itself is in the archive; this is the highlight a bouncer
// gives, so that a mention is not missed among the history.
func (r *room) mentionOffline(s *session, nick, body string, e girc.Event) {
	if !r.persistent || len(r.res) > 0 || !mentions(body, s.nick, s.fold) {
		return
	}
	m := messageEl(r.jid, s.u.jid, "chat", s.u.t.newID()).add(
		textEl("body", nick+" mentioned you in "+r.name+": "+body))
	s.u.send(s.stamp(m, e))
}

// mentions reports whether body names nick as a word (IRC case mapping).
func mentions(body, nick string, fold func(string) string) bool {
	if nick == "" {
		return false
	}
	b, n := fold(body), fold(nick)
	for i := 0; ; {
		j := strings.Index(b[i:], n)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(n)
		if (start == 0 || !nickByte(b[start-1])) && (end == len(b) || !nickByte(b[end])) {
			return true
		}
		i = start + 1
	}
}

// nickByte reports whether c can be part of a nick (so a match inside a
// longer word is not a mention).
func nickByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_[]{}\\|^`", c) >= 0
}
