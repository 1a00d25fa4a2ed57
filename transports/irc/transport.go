package irc

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"xgate/store"
	"xgate/transports"
)

// userQueueSize bounds the events waiting for one user's goroutine.
const userQueueSize = 512

// Transport is the IRC transport. It is a transports.Transport, a
// transports.StanzaHandler and a transports.AddressChecker.
type Transport struct {
	cfg Config
	log *slog.Logger
	out *outbound

	// life is the lifetime of every user goroutine and connection; Run
	// cancels it when it returns.
	life context.Context
	stop context.CancelFunc

	mu    sync.Mutex
	users map[string]*user // by bare JID
	wg    sync.WaitGroup

	ids atomic.Uint64
	net netHooks
	// backoffMin and backoffMax bound the reconnection delay.
	backoffMin, backoffMax time.Duration

	// settings are the users' settings (from their registrations, see
	// settings.go), by bare JID.
	setMu    sync.Mutex
	settings map[string]*userSettings
	saveMu   sync.Mutex // serialises updateSettings
	// seal encrypts stored passwords; nil without Config.SecretsKey.
	seal *sealer
	// archive batches archive writes; nil when the archive is off.
	archive *store.ArchiveWriter
	// idPrefix makes stanza and archive ids unique across restarts.
	idPrefix string
	// budget counts connections per network and maps them to idents
	// (budget.go, identd.go); ready as the zero value.
	budget budgetState
}

var (
	_ transports.Transport      = (*Transport)(nil)
	_ transports.StanzaHandler  = (*Transport)(nil)
	_ transports.AddressChecker = (*Transport)(nil)
)

// New checks cfg and returns the transport; nothing connects before users
// join rooms.
func New(cfg Config) (*Transport, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.Domain = strings.ToLower(cfg.Domain)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var seal *sealer
	if len(cfg.SecretsKey) > 0 {
		var err error
		if seal, err = newSealer(cfg.SecretsKey); err != nil {
			return nil, err
		}
	}
	var archive *store.ArchiveWriter
	if cfg.Archive != nil {
		archive = store.NewArchiveWriter(cfg.Archive, store.ArchiveWriterOptions{Logger: log})
	}
	life, stop := context.WithCancel(context.Background())
	return &Transport{
		seal:  seal,
		cfg:   cfg,
		log:   log,
		out:   newOutbound(log),
		life:  life,
		stop:  stop,
		users: map[string]*user{},
		net:   ircHooks(),

		backoffMin: reconnectMin,
		backoffMax: reconnectMax,
		settings:   map[string]*userSettings{},
		archive:    archive,
		idPrefix:   idPrefix(),
	}, nil
}

// Name is "irc".
func (t *Transport) Name() string { return "irc" }

// Identity is gateway/irc.
func (t *Transport) Identity() transports.Identity {
	return transports.Identity{Category: "gateway", Type: "irc", Name: "IRC gateway"}
}

// Run writes stanzas to XMPP until ctx ends, then quits every IRC
// connection and waits for the user goroutines.
func (t *Transport) Run(ctx context.Context, up transports.Uplink) error {
	defer t.serveIdentd(ctx)() // identd (if configured) stops with Run
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.out.run(ctx, up)
	}()
	// The archive writer outlives the user goroutines, so their last lines
	// are committed.
	archCtx, archStop := context.WithCancel(context.Background())
	archDone := t.runArchive(archCtx)
	t.rejoinPersistent()
	<-ctx.Done()
	t.stop()
	// Each user's inbox is closed with a last event that closes its
	// sessions on its goroutine (waiting events are dropped). A closed
	// inbox starts no goroutine, and a user created later is refused
	// (HandleStanza and postUser check life under t.mu), so no wg.Add can
	// race with Wait.
	t.mu.Lock()
	for _, u := range t.users {
		u.events.close(funcEvent(func() {
			for _, s := range u.sessions {
				s.close("xgate is shutting down")
			}
		}))
	}
	t.mu.Unlock()
	t.wg.Wait()
	archStop()
	<-archDone
	<-done
	return nil
}

// Deliver is never used: every message to an IRC contact is taken by
// HandleStanza. An item that still reaches the outbox fails permanently.
func (t *Transport) Deliver(ctx context.Context, m transports.Message) error {
	return transports.Permanent("service-unavailable", "IRC messages are sent live; join the room or try again", nil)
}

// CheckAddress accepts biboumi-style addresses (see mapping.ParseIRC).
func (t *Transport) CheckAddress(local string) error {
	_, err := t.parseAddr(local, "")
	return err
}

// HandleStanza takes every stanza a user sends to an IRC address, except
// presence subscriptions and probes (the component answers those), and
// posts it to the user's goroutine. It never blocks: a full user queue is
// answered with resource-constraint, and its own answers use postError.
func (t *Transport) HandleStanza(ctx context.Context, st transports.Stanza) bool {
	if st.Name == "presence" {
		switch st.Type {
		case "", "unavailable":
		default:
			return false // subscription management: XEP-0100 in the component
		}
	}
	if st.Name == "iq" && isCommandIQ(st) {
		return false // XEP-0050 on a network or room: the component runs it
	}
	local, resource, _ := splitJID(st.To)
	addr, err := t.parseAddr(local, resource)
	if err != nil {
		t.postError(st, "jid-malformed", err.Error())
		return true
	}
	bare, _, _ := strings.Cut(st.From, "/")
	bare = strings.ToLower(bare)
	ev := stanzaEvent{st: st, addr: addr}

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.life.Err() != nil {
		t.postError(st, "service-unavailable", "the IRC gateway is shutting down")
		return true
	}
	if !t.userLocked(bare).events.tryPut(ev) {
		t.postError(st, "resource-constraint", "too many requests are waiting; try again in a moment")
	}
	return true
}

// retire removes u when it has nothing left to do (its goroutine calls it
// when u has no session): its inbox is closed if empty, and the goroutine
// must end. HandleStanza posts under the same lock, so no event is lost: it
// either queues before (no retirement) or finds u gone (a new user).
func (t *Transport) retire(u *user) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !u.events.retire() {
		return false
	}
	if t.users[u.jid] == u {
		delete(t.users, u.jid)
	}
	return true
}

// replyError answers a stanza (not an error) with an error from its
// destination. It may wait for room in the output queue: user goroutines
// only; HandleStanza uses postError.
func (t *Transport) replyError(st transports.Stanza, condition, text string) {
	if st.From == "" {
		// Nobody asked (a persistent room joined at start).
		t.log.Info("irc: "+condition, "text", text)
		return
	}
	if e := errorReply(st, condition, text); e != nil {
		t.out.send(t.life, e)
	}
}

// postError is replyError for the XMPP reader: it never waits.
func (t *Transport) postError(st transports.Stanza, condition, text string) {
	if e := errorReply(st, condition, text); e != nil {
		t.out.post(e)
	}
}

// errorReply is the error answering st; nil for a stanza that must not be
// answered (an error, an iq result).
func errorReply(st transports.Stanza, condition, text string) *el {
	if st.Type == "error" || (st.Name == "iq" && st.Type != "get" && st.Type != "set") {
		return nil
	}
	e := elem("", st.Name, "from", st.To, "to", st.From, "type", "error", "id", st.ID)
	return e.add(errorEl(errorType(condition), condition, text))
}

// newID returns a unique stanza id.
func (t *Transport) newID() string {
	return t.idPrefix + strconv.FormatUint(t.ids.Add(1), 36)
}

// splitJID splits local@domain/resource.
func splitJID(s string) (local, resource string, ok bool) {
	bare, res, _ := strings.Cut(s, "/")
	local, _, ok = strings.Cut(bare, "@")
	if !ok {
		return "", res, false
	}
	return local, res, true
}

// userLocked returns bare's user, creating it when there is none; the
// caller posts to it at once (the post starts its goroutine). t.mu must be
// held (retire takes it too, so no event is lost), and the caller must have
// checked that life is not over (Run closes the users' inboxes under t.mu).
func (t *Transport) userLocked(bare string) *user {
	u, ok := t.users[bare]
	if !ok {
		u = newUser(t, bare)
		t.users[bare] = u
	}
	return u
}
