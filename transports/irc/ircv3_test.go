package irc

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/lrstanley/girc"
)

// TestAwayNotify: AWAY from an occupant re-sends its presence with show
// away and the text in every room it shares with us; AWAY without text
// makes it available again; a second resource joining later sees the
// away state; a nick that joins another room carries it along.
func TestAwayNotify(t *testing.T) {
	f, fc := joined(t)
	f.recv(fc, ":bob!b@h AWAY :gone fishing")
	p := f.expect("bob away", isPresence(roomJID+"/bob", alicePhone, ""))
	if p.find("show") == nil || p.find("show").text != "away" || p.find("status") == nil || p.find("status").text != "gone fishing" {
		t.Fatalf("away presence: %s", p)
	}
	if p.find("item").attr("affiliation") != "admin" {
		t.Errorf("away presence lost bob's affiliation: %s", p)
	}
	// Repeated AWAY with the same text: nothing new.
	f.recv(fc, ":bob!b@h AWAY :gone fishing")
	f.quiet(fc)

	// A second resource gets bob's away presence with the occupants.
	f.send(`<presence from='` + aliceLaptop + `' to='` + roomJID + `/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	p = f.expect("bob to laptop", isPresence(roomJID+"/bob", aliceLaptop, ""))
	if p.find("show") == nil || p.find("status").text != "gone fishing" {
		t.Fatalf("laptop's bob presence: %s", p)
	}
	f.flush(fc)
	for len(f.tr.out.q) > 0 {
		<-f.tr.out.q
	}

	f.recv(fc, ":bob!b@h AWAY")
	got := map[string]bool{}
	for range 2 {
		p = f.expect("bob back", isPresence(roomJID+"/bob", "", ""))
		if p.find("show") != nil || p.find("status") != nil {
			t.Fatalf("back presence still away: %s", p)
		}
		got[p.attr("to")] = true
	}
	if !got[alicePhone] || !got[aliceLaptop] {
		t.Errorf("back presences went to %v", got)
	}
	f.quiet(fc)
}

// TestAwayCarriedToNewRoom: what the session knows of a nick from one room
// is in its presence when it joins another.
func TestAwayCarriedToNewRoom(t *testing.T) {
	f, fc := joined(t)
	f.recv(fc, ":carol!c@h AWAY :lunch")
	f.expect("carol away", isPresence(roomJID+"/carol", alicePhone, ""))
	room2 := "#two%" + fakeHost + "@" + fakeDomain
	f.send(`<presence from='` + alicePhone + `' to='` + room2 + `/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	f.expectLine("JOIN #two")
	f.recv(fc, ":alice!a@h JOIN #two", ":srv 353 alice = #two :alice", ":srv 366 alice #two :End")
	f.expect("subject of #two", func(e *el) bool { return e.find("subject") != nil && e.attr("from") == room2 })
	f.recv(fc, ":carol!c@h JOIN #two")
	p := f.expect("carol joins #two", isPresence(room2+"/carol", alicePhone, ""))
	if p.find("show") == nil || p.find("status").text != "lunch" {
		t.Fatalf("carol's presence in #two: %s", p)
	}
}

// TestAccountTracking: extended-join, ACCOUNT and the account tag set the
// occupant's account, shown in disco#info on the occupant and never in
// presences.
func TestAccountTracking(t *testing.T) {
	f, fc := joined(t)
	f.recv(fc, ":srv CAP alice ACK :extended-join account-tag account-notify")
	f.recv(fc, ":frank!f@h JOIN #chan frankacct :Frank Realname")
	p := f.expect("frank joins", isPresence(roomJID+"/frank", alicePhone, ""))
	if strings.Contains(p.String(), "frankacct") {
		t.Errorf("the account is in the presence: %s", p)
	}
	info := func(nick string) string {
		var got string
		done := make(chan struct{})
		fc.s.u.post(fc.s, funcEvent(func() {
			if q := fc.s.u.occupantInfo(fakeHost, "#chan", nick, alicePhone); q != nil {
				got = q.find("identity").attr("name")
			}
			close(done)
		}))
		<-done
		return got
	}
	if got := info("frank"); got != "frank (logged in as frankacct)" {
		t.Errorf("frank's info after extended-join: %q", got)
	}
	f.recv(fc, ":frank!f@h ACCOUNT *")
	if got := info("frank"); got != "frank" {
		t.Errorf("frank's info after logout: %q", got)
	}
	f.recv(fc, "@account=bobacct :bob!b@h PRIVMSG #chan :hi")
	f.expect("bob's message", isMessage(roomJID+"/bob", alicePhone))
	if got := info("bob"); got != "bob (logged in as bobacct)" {
		t.Errorf("bob's info after account-tag: %q", got)
	}
	if got := info("nobody"); got != "" {
		t.Errorf("unknown occupant's info: %q", got)
	}
	f.recv(fc, ":bob!b@h CHGHOST newuser new.host")
	f.quiet(fc) // chghost: nothing to show
}

// TestInviteNotify: an INVITE of someone else becomes a room notice.
func TestInviteNotify(t *testing.T) {
	f, fc := joined(t)
	f.recv(fc, ":bob!b@h INVITE carol #chan")
	m := f.expect("invite notice", isMessage(roomJID, alicePhone))
	if m.attr("type") != "groupchat" || m.find("body").text != "bob invited carol to #chan" {
		t.Fatalf("invite notice: %s", m)
	}
	// An INVITE to a channel we are not in is not shown.
	f.recv(fc, ":bob!b@h INVITE carol #elsewhere")
	f.quiet(fc)
}

// TestJoinAtEndOfMOTD: the rooms are joined when the MOTD ends, without
// waiting for girc's CONNECTED (2 s after 001); a late CONNECTED does not
// join twice.
func TestJoinAtEndOfMOTD(t *testing.T) {
	for _, end := range []string{":srv 376 alice :End of MOTD", ":srv 422 alice :MOTD File is missing"} {
		t.Run(end[5:8], func(t *testing.T) {
			f := newFake(t)
			f.send(`<presence from='` + alicePhone + `' to='` + roomJID + `/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
			fc := f.conn()
			f.recv(fc, ":srv 001 alice :Welcome", ":srv 005 alice CHANTYPES=# :are supported", end)
			if l := f.line(); l != "JOIN #chan" {
				t.Fatalf("line after the MOTD: %q", l)
			}
			fc.s.u.post(fc.s, ircEvent{s: fc.s, c: fc.c, e: girc.Event{Command: girc.CONNECTED}})
			f.flush(fc)
			select {
			case l := <-f.lines:
				t.Fatalf("second line after CONNECTED: %q", l)
			default:
			}
		})
	}
}

// TestSASLNotOffered: with SASL credentials registered and a server that
// did not acknowledge sasl, the connection is closed at 001 and the join
// fails with not-authorized and a text that says so; the password is
// never written.
func TestSASLNotOffered(t *testing.T) {
	f := newFake(t)
	if _, err := f.tr.Register(context.Background(), "alice@example.org", map[string]string{"network": fakeHost, "sasl_account": "acct", "sasl_password": "pw-secret"}, nil); err != nil {
		t.Fatal(err)
	}
	f.send(`<presence from='` + alicePhone + `' to='` + roomJID + `/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	fc := f.conn()
	f.recv(fc, ":srv CAP * ACK :multi-prefix server-time", ":srv 001 alice :Welcome", ":srv 376 alice :End of MOTD")
	p := f.expect("join error", isPresence(roomJID+"/alice", alicePhone, "error"))
	if p.find("not-authorized") == nil {
		t.Fatalf("want not-authorized: %s", p)
	}
	text := p.find("text").text
	for _, want := range []string{fakeHost + " does not offer SASL", "as acct", "empty sasl_password"} {
		if !strings.Contains(text, want) {
			t.Errorf("error text %q lacks %q", text, want)
		}
	}
	if strings.Contains(text, "pw-secret") {
		t.Errorf("error text shows the password")
	}
	f.flush(fc)
	for len(f.lines) > 0 {
		if l := <-f.lines; strings.Contains(l, "pw-secret") || strings.HasPrefix(l, "JOIN") {
			t.Errorf("line written: %q", l)
		}
	}
	f.tr.mu.Lock()
	u := f.tr.users["alice@example.org"]
	f.tr.mu.Unlock()
	if u != nil {
		done := make(chan int)
		u.events.put(funcEvent(func() { done <- len(u.sessions) }), nil, nil)
		if n := <-done; n != 0 {
			t.Errorf("%d sessions left after the SASL check", n)
		}
	}
}

// TestFixedNetwork: with a fixed network, #chan@domain joins #chan on it
// and every JID that comes back is short; nick@domain is a private chat;
// the fixed host's JID is the network; %-addresses still work.
func TestFixedNetwork(t *testing.T) {
	f := newFake(t)
	f.tr.cfg.FixedNetwork = fakeHost
	short := "#chan@" + fakeDomain
	f.send(`<presence from='` + alicePhone + `' to='` + short + `/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	fc := f.conn()
	if fc.s.net.Host != fakeHost || fc.s.host != "" {
		t.Fatalf("session host %q, network %q", fc.s.host, fc.s.net.Host)
	}
	f.register(fc, "alice")
	if l := f.line(); l != "JOIN #chan" {
		t.Fatalf("join: %q", l)
	}
	f.recv(fc, ":alice!a@h JOIN #chan", ":srv 353 alice = #chan :alice @bob", ":srv 366 alice #chan :End")
	f.expect("bob", isPresence(short+"/bob", alicePhone, ""))
	f.expect("self", isPresence(short+"/alice", alicePhone, ""))
	f.recv(fc, ":bob!b@h PRIVMSG alice :psst", ":srv NOTICE alice :server says")
	f.expect("private message from bob", isMessage("bob@"+fakeDomain, "alice@example.org"))
	f.expect("server notice", isMessage(fakeHost+"@"+fakeDomain, "alice@example.org"))
	f.send(`<message from='` + alicePhone + `' to='bob@` + fakeDomain + `' type='chat'><body>hello there</body></message>`)
	f.expectLine("PRIVMSG bob :hello there")
	f.send(`<message from='` + alicePhone + `' to='` + fakeHost + `@` + fakeDomain + `' type='chat'><body>WHOIS bob</body></message>`)
	f.expectLine("WHOIS bob")

	// The long form opens its own session, with long JIDs.
	f.send(`<presence from='` + alicePhone + `' to='` + roomJID + `/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	fc2 := f.conn()
	if fc2.s.host != fakeHost {
		t.Fatalf("long-form session host %q", fc2.s.host)
	}
}

func TestParseAddrFixed(t *testing.T) {
	tr := &Transport{cfg: Config{FixedNetwork: "irc.fixed.net"}}
	tests := []struct {
		local, res   string
		kind         string
		name, server string
		wantLocal    string
		wantErr      bool
	}{
		{"#chan", "nick", "channel", "#chan", "", "#chan", false},
		{"bob", "", "nick", "bob", "", "bob", false},
		{"irc.fixed.net", "", "server", "", "", "", false},
		{"#chan%other.net", "", "channel", "#chan", "other.net", "#chan%other.net", false},
		{"irc.other.net", "", "server", "", "irc.other.net", "irc.other.net", false}, // a dot is no nick
		{"bad nick", "", "", "", "", "", true},
	}
	for _, tt := range tests {
		a, err := tr.parseAddr(tt.local, tt.res)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: err %v", tt.local, err)
			continue
		}
		if err != nil {
			continue
		}
		if a.Kind.String() != tt.kind || a.Name != tt.name || a.Server != tt.server || a.Local() != tt.wantLocal {
			t.Errorf("%q: got %+v (local %q)", tt.local, a, a.Local())
		}
	}
}

// TestWebIRCIdentity: per-user host and address, stable, distinct between
// users, inside the prefix, hiding the JID.
func TestWebIRCIdentity(t *testing.T) {
	w := WebIRC{Password: "wp", Prefix: "2001:db8:42::/64", HostSuffix: "users.gw"}
	h1, a1 := webircIdentity(w, "irc.gw", "alice@example.org")
	h1b, a1b := webircIdentity(w, "irc.gw", "Alice@Example.org")
	h2, a2 := webircIdentity(w, "irc.gw", "bob@example.org")
	if h1 != h1b || a1 != a1b {
		t.Errorf("not stable: %s %s vs %s %s", h1, a1, h1b, a1b)
	}
	if h1 == h2 || a1 == a2 {
		t.Errorf("two users share %s / %s", h1, a1)
	}
	if !strings.HasSuffix(h1, ".users.gw") || strings.Contains(h1, "alice") || len(h1) != 16+len(".users.gw") {
		t.Errorf("host %q", h1)
	}
	addr := netip.MustParseAddr(a1)
	if !netip.MustParsePrefix("2001:db8:42::/64").Contains(addr) {
		t.Errorf("address %s outside the prefix", a1)
	}
	// Another password gives other identities (the hash is keyed).
	if h3, _ := webircIdentity(WebIRC{Password: "other", HostSuffix: "users.gw"}, "irc.gw", "alice@example.org"); h3 == h1 {
		t.Errorf("the host does not depend on the password")
	}
	// Defaults: the domain as suffix, fd00::/8.
	h4, a4 := webircIdentity(WebIRC{Password: "wp"}, "irc.gw", "alice@example.org")
	if !strings.HasSuffix(h4, ".irc.gw") || !netip.MustParsePrefix("fd00::/8").Contains(netip.MustParseAddr(a4)) {
		t.Errorf("defaults: %s %s", h4, a4)
	}
}

// TestWebIRCConfig: the session hands the connection the WEBIRC parameters.
func TestWebIRCConfig(t *testing.T) {
	f := newFake(t)
	f.tr.cfg.Networks[0].WebIRC = WebIRC{Password: "wp", Gateway: "gw"}
	f.send(`<presence from='` + alicePhone + `' to='` + roomJID + `/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	fc := f.conn()
	w := fc.c.Config().WebIRC
	host, addr := webircIdentity(WebIRC{Password: "wp"}, fakeDomain, "alice@example.org")
	if strings.Join(w, " ") != "wp gw "+host+" "+addr {
		t.Errorf("WEBIRC parameters = %q", w)
	}
}

// TestEchoRefused: with echo-message, a line the server refuses (404) is
// never reflected: the sender gets the server's text with its message id,
// and the next message's echo is matched to the next message.
func TestEchoRefused(t *testing.T) {
	f, fc := joined(t)
	f.recv(fc, ":srv CAP alice ACK :echo-message")
	f.send(`<message from='` + alicePhone + `' to='` + roomJID + `' type='groupchat' id='m1'><body>first</body></message>`)
	f.expectLine("PRIVMSG #chan first")
	f.recv(fc, ":srv 404 alice #chan :Cannot send to channel (+m)")
	e := f.expect("refusal", func(e *el) bool { return e.attr("type") == "error" && e.attr("id") == "m1" })
	if e.attr("to") != alicePhone || e.find("not-allowed") == nil || !strings.Contains(e.find("text").text, "Cannot send to channel (+m)") {
		t.Fatalf("refusal: %s", e)
	}
	f.send(`<message from='` + alicePhone + `' to='` + roomJID + `' type='groupchat' id='m2'><body>second</body></message>`)
	f.expectLine("PRIVMSG #chan second")
	f.recv(fc, ":alice!a@h PRIVMSG #chan :second")
	m := f.expect("reflection", isMessage(roomJID+"/alice", alicePhone))
	if m.attr("id") != "m2" || m.find("body").text != "second" {
		t.Fatalf("reflection: %s", m)
	}
	f.quiet(fc)
}

// TestCapDel: a capability the server withdraws (cap-notify CAP DEL) is
// no longer relied on: without echo-message, reflections are immediate.
func TestCapDel(t *testing.T) {
	f, fc := joined(t)
	f.recv(fc, ":srv CAP alice ACK :echo-message", ":srv CAP alice DEL :echo-message")
	f.send(`<message from='` + alicePhone + `' to='` + roomJID + `' type='groupchat' id='d1'><body>hi</body></message>`)
	f.expectLine("PRIVMSG #chan hi")
	m := f.expect("reflection", isMessage(roomJID+"/alice", alicePhone))
	if m.attr("id") != "d1" {
		t.Fatalf("reflection: %s", m)
	}
}

// TestAwayAtJoin: with away-notify, the join asks WHO, and users flagged
// away ("G") are shown away at once.
func TestAwayAtJoin(t *testing.T) {
	f := newFake(t)
	f.send(`<presence from='` + alicePhone + `' to='` + roomJID + `/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	fc := f.conn()
	f.recv(fc, ":srv CAP alice ACK :away-notify")
	f.register(fc, "alice")
	if l := f.line(); l != "JOIN #chan" {
		t.Fatalf("join line: %q", l)
	}
	f.recv(fc, ":alice!a@h JOIN #chan", ":srv 353 alice = #chan :alice bob carol", ":srv 366 alice #chan :End")
	f.expect("alice's self-presence", isPresence(roomJID+"/alice", alicePhone, ""))
	if l := f.line(); l != "WHO #chan" {
		t.Fatalf("who line: %q", l)
	}
	f.recv(fc, ":srv 352 alice #chan b h srv bob G :0 Bob", ":srv 352 alice #chan c h srv carol H :0 Carol", ":srv 315 alice #chan :End of WHO")
	p := f.expect("bob away", isPresence(roomJID+"/bob", alicePhone, ""))
	if p.find("show") == nil || p.find("show").text != "away" {
		t.Fatalf("bob's presence: %s", p)
	}
	f.quiet(fc) // carol is here: nothing for her
}
