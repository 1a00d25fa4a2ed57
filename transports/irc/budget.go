package irc

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"

	"xgate/transports"
)

// Budget holds the transport-wide protections of the gateway's address:
// how many connections it opens to each network, and identd.
type Budget struct {
	// MaxConnections caps the connections (all users together) to each
	// listed network, by host (case-insensitive); absent or 0: no cap.
	MaxConnections map[string]int
	// MaxConnectionsPerNetwork caps the connections to each network that is
	// not listed (reached through AnyNetwork); 0: no cap.
	MaxConnectionsPerNetwork int
	// IdentdListener, when set, is served as an RFC 1413 ident server while
	// Run runs (Run closes it): it answers each IRC connection's ident, which
	// the connection also sends as its USER name (see identFor).
	IdentdListener net.Listener
}

// budgetState is the transport-wide state behind Budget; its zero value
// is ready. Its parts are safe from any goroutine.
type budgetState struct {
	conns       connBudget
	idents      identTable
	registering registerGate
}

// maxRegistering is how many connections to one network may be between
// their dial and the server's 001 at the same time. Servers refuse or reset
// bursts of connections from one address (ngircd's listen backlog is 10;
// InspIRCd and others throttle), and a restart reconnects every persistent
// room's user at once.
const maxRegistering = 8

// registerGate holds the per-network registration slots.
type registerGate struct {
	mu    sync.Mutex
	slots map[string]chan struct{} // by budgetKey
}

// slot is the ircconn.Config.Slot of a connection to the network key.
func (g *registerGate) slot(key string) func(ctx context.Context) (func(), error) {
	g.mu.Lock()
	ch := g.slots[key]
	if ch == nil {
		if g.slots == nil {
			g.slots = map[string]chan struct{}{}
		}
		ch = make(chan struct{}, maxRegistering)
		g.slots[key] = ch
	}
	g.mu.Unlock()
	return func(ctx context.Context) (func(), error) {
		select {
		case ch <- struct{}{}:
			return func() { <-ch }, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// connBudget counts the sessions each network has, across all users. A
// session holds its slot from its start to its removal, through
// reconnections: a connection lost and being retried still counts, so a
// returning user never finds their slot taken.
type connBudget struct {
	mu   sync.Mutex
	open map[string]int // by lower-cased host
}

// acquire takes a slot on host unless limit (> 0) slots are taken already.
func (b *connBudget) acquire(host string, limit int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if limit > 0 && b.open[host] >= limit {
		return false
	}
	if b.open == nil {
		b.open = map[string]int{}
	}
	b.open[host]++
	return true
}

// release gives back a slot acquire took.
func (b *connBudget) release(host string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open[host] <= 1 {
		delete(b.open, host)
		return
	}
	b.open[host]--
}

// count is the number of slots taken on host.
func (b *connBudget) count(host string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open[host]
}

// connLimit is the cap on connections to the network with lower-cased host
// key: its own max_connections when it is listed, the any-network one
// otherwise; 0 for none.
func (t *Transport) connLimit(key string) int {
	for _, n := range t.cfg.Networks {
		if strings.EqualFold(n.Host, key) {
			for h, max := range t.cfg.Budget.MaxConnections {
				if strings.EqualFold(h, key) {
					return max
				}
			}
			return 0
		}
	}
	return t.cfg.Budget.MaxConnectionsPerNetwork
}

// budgetKey is the network n's key in the budget: its lower-cased host
// (the fixed network's for short-address sessions, whose session key is "").
func budgetKey(n Network) string { return strings.ToLower(n.Host) }

// admit takes a connection slot on network n for a new session of u. When
// the network's budget is spent it answers st (the join) with
// resource-constraint, naming the network and the limit, and returns false:
// the users already connected are not affected. session.remove gives the
// slot back. A zero st (no join to answer) is only logged.
func (u *user) admit(st transports.Stanza, n Network) bool {
	key := budgetKey(n)
	limit := u.t.connLimit(key)
	if u.t.budget.conns.acquire(key, limit) {
		return true
	}
	u.t.log.Info("irc connection budget reached", "user", u.jid, "network", n.Host, "limit", limit)
	if st.Name == "" {
		return false // no stanza to answer (a persistent room rejoined at start)
	}
	u.t.replyError(st, "resource-constraint", "the gateway already has "+strconv.Itoa(limit)+
		" connections to "+n.Host+", the most it opens to that network (the network limits connections per address): try again later")
	return false
}

// withIdent is n with the user's ident as the USER name when identd is on,
// so that the name the server shows matches what identd answers.
func (u *user) withIdent(n Network) Network {
	if u.t.cfg.Budget.IdentdListener != nil {
		n.Username = identFor(u.jid)
	}
	return n
}
