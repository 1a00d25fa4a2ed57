package irc

import (
	"errors"
	"strings"
	"testing"
)

// budgetRefused has user (a bare JID whose localpart is the nick) try to
// join #chan, and returns the error presence the budget answers.
func budgetRefused(t *testing.T, f *fakeNet, user string) *el {
	t.Helper()
	nick, _, _ := strings.Cut(user, "@")
	full := user + "/r"
	f.send(`<presence from='` + full + `' to='` + roomJID + `/` + nick + `'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	return f.expect("the refusal of "+user, isPresence(roomJID+"/"+nick, full, "error"))
}

// budgetJoined is budgetJoin for a join the budget admits.
func budgetJoined(t *testing.T, f *fakeNet, user string) fakeConn {
	t.Helper()
	nick, _, _ := strings.Cut(user, "@")
	full := user + "/r"
	f.send(`<presence from='` + full + `' to='` + roomJID + `/` + nick + `'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	fc := f.conn()
	if fc.s.u.jid != user {
		t.Fatalf("connection for %s, want %s", fc.s.u.jid, user)
	}
	f.register(fc, nick)
	f.expectLine("JOIN #chan")
	f.recv(fc, ":"+nick+"!u@h JOIN #chan", ":srv 353 "+nick+" = #chan :"+nick, ":srv 366 "+nick+" #chan :End of NAMES list")
	f.expect(nick+"'s self-presence", isPresence(roomJID+"/"+nick, full, ""))
	return fc
}

// wantBudgetError checks a join refused by the budget.
func wantBudgetError(t *testing.T, p *el, limit string) {
	t.Helper()
	e := p.find("error")
	if e == nil || e.attr("type") != "wait" || e.find("resource-constraint") == nil {
		t.Fatalf("want a resource-constraint (wait) error: %s", p)
	}
	text := e.find("text")
	if text == nil || !strings.Contains(text.text, limit+" connections to "+fakeHost) {
		t.Fatalf("error text should name the network and the limit %s: %s", limit, p)
	}
}

func TestConnectionBudget(t *testing.T) {
	f := newFake(t)
	f.tr.cfg.Budget.MaxConnections = map[string]int{fakeHost: 2}
	fc1 := budgetJoined(t, f, "ann@example.org")
	budgetJoined(t, f, "ben@example.org")

	// The third user is refused, with the network and the limit.
	p := budgetRefused(t, f, "cat@example.org")
	wantBudgetError(t, p, "2")
	f.noConn()
	if n := f.tr.budget.conns.count(fakeHost); n != 2 {
		t.Fatalf("%d slots taken, want 2", n)
	}

	// The users already connected are untouched.
	f.send(`<message type='groupchat' from='ann@example.org/r' to='` + roomJID + `'><body>still here</body></message>`)
	f.expectLine("PRIVMSG #chan :still here")

	// Ann leaves: her slot is free, and cat gets in.
	f.send(`<presence type='unavailable' from='ann@example.org/r' to='` + roomJID + `/ann'/>`)
	f.expect("ann's leave", isPresence(roomJID+"/ann", "ann@example.org/r", "unavailable"))
	f.flush(fc1)
	if n := f.tr.budget.conns.count(fakeHost); n != 1 {
		t.Fatalf("%d slots taken after a leave, want 1", n)
	}
	budgetJoined(t, f, "cat@example.org")
}

func TestConnectionBudgetKeepsSlotOnReconnect(t *testing.T) {
	f := newFake(t)
	f.tr.cfg.Budget.MaxConnections = map[string]int{strings.ToUpper(fakeHost): 1} // case-insensitive
	fc := budgetJoined(t, f, "ann@example.org")

	// Ann's connection drops: while it is retried, her slot stays hers.
	f.closed(fc, errors.New("EOF"))
	f.expect("ann's 332", isPresence(roomJID+"/ann", "ann@example.org/r", "unavailable"))
	p := budgetRefused(t, f, "ben@example.org")
	wantBudgetError(t, p, "1")
	fc2 := f.conn()
	if fc2.s.u.jid != "ann@example.org" || fc2.s != fc.s {
		t.Fatalf("the reconnection should be ann's session, got %s", fc2.s.u.jid)
	}
	f.noConn()
	if n := f.tr.budget.conns.count(fakeHost); n != 1 {
		t.Fatalf("%d slots taken, want 1", n)
	}

	// A connection given up (nothing left to rejoin) frees the slot.
	f.send(`<presence type='unavailable' from='ann@example.org/r' to='` + roomJID + `/ann'/>`)
	f.flush(fc2)
	if n := f.tr.budget.conns.count(fakeHost); n != 0 {
		t.Fatalf("%d slots taken after ann left, want 0", n)
	}
}

func TestConnectionBudgetAnyNetwork(t *testing.T) {
	f := newFake(t)
	f.tr.cfg.AnyNetwork = true
	f.tr.cfg.Budget.MaxConnectionsPerNetwork = 1
	const other = "#chan%other.test@" + fakeDomain
	join := func(user string) {
		f.send(`<presence from='` + user + `/r' to='` + other + `/x'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	}
	join("ann@example.org")
	if fc := f.conn(); fc.s.key != "other.test" {
		t.Fatalf("connection to %s", fc.s.key)
	}
	join("ben@example.org")
	p := f.expect("ben's refusal", isPresence(other+"/x", "ben@example.org/r", "error"))
	if e := p.find("text"); e == nil || !strings.Contains(e.text, "1 connections to other.test") {
		t.Fatalf("refusal: %s", p)
	}
	f.noConn()
	// The listed network has no cap of its own: the any-network one does
	// not apply to it.
	budgetJoined(t, f, "ann@example.org")
	budgetJoined(t, f, "ben@example.org")
}

func TestConnLimit(t *testing.T) {
	tr, err := New(Config{Domain: fakeDomain, AnyNetwork: true, Networks: []Network{{Host: "Capped.Test"}, {Host: "free.test"}},
		Budget: Budget{MaxConnections: map[string]int{"capped.test": 4, "unlisted.test": 9}, MaxConnectionsPerNetwork: 2}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host string
		want int
	}{
		{"capped.test", 4},   // listed with a cap (hosts compare case-insensitively)
		{"free.test", 0},     // listed without one: no cap
		{"unlisted.test", 2}, // not listed: the any-network cap (its map entry is ignored)
	}
	for _, tt := range tests {
		if got := tr.connLimit(tt.host); got != tt.want {
			t.Errorf("connLimit(%s) = %d, want %d", tt.host, got, tt.want)
		}
	}
}

func TestConnBudgetCounts(t *testing.T) {
	var b connBudget
	steps := []struct {
		op    string // acquire or release
		limit int
		ok    bool
		count int
	}{
		{"acquire", 2, true, 1},
		{"acquire", 2, true, 2},
		{"acquire", 2, false, 2},
		{"acquire", 0, true, 3}, // 0: no cap
		{"release", 0, true, 2},
		{"release", 0, true, 1},
		{"acquire", 2, true, 2},
		{"release", 0, true, 1},
		{"release", 0, true, 0},
		{"release", 0, true, 0}, // never below zero
	}
	for i, s := range steps {
		ok := true
		if s.op == "acquire" {
			ok = b.acquire("h", s.limit)
		} else {
			b.release("h")
		}
		if ok != s.ok || b.count("h") != s.count {
			t.Fatalf("step %d (%s): ok %v count %d, want %v %d", i, s.op, ok, b.count("h"), s.ok, s.count)
		}
	}
}

// TestConnectionBudgetFixedNetwork: short addresses (#chan@domain) count
// against the fixed network's budget like its %-addresses.
func TestConnectionBudgetFixedNetwork(t *testing.T) {
	f := newFake(t)
	f.tr.cfg.FixedNetwork = fakeHost
	f.tr.cfg.Budget.MaxConnections = map[string]int{fakeHost: 1}
	f.send(`<presence from='ann@example.org/r' to='#chan@` + fakeDomain + `/ann'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	if fc := f.conn(); fc.s.key != "" {
		t.Fatalf("short-address session key %q", fc.s.key)
	}
	p := budgetRefused(t, f, "ben@example.org")
	wantBudgetError(t, p, "1")
	f.noConn()
}
