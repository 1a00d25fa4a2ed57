package irc

import (
	"context"
	"errors"
	"strings"
	"testing"

	"xgate/transports"
)

func adminIQ(id, item string) string {
	return `<iq from='` + alicePhone + `' to='` + roomJID + `' type='set' id='` + id + `'><query xmlns='http://jabber.org/protocol/muc#admin'>` + item + `</query></iq>`
}

func isIQ(id string) func(*el) bool {
	return func(e *el) bool { return e.name.Local == "iq" && e.attr("id") == id }
}

func TestAdminKickAndModes(t *testing.T) {
	tests := []struct {
		name, item, line, confirm string
	}{
		{"kick", `<item nick='carol' role='none'><reason>spam</reason></item>`, "KICK #chan carol spam", ":alice!a@h KICK #chan carol :spam"},
		{"moderator", `<item nick='carol' role='moderator'/>`, "MODE #chan +h carol", ":alice!a@h MODE #chan +h carol"},
		{"admin", `<item nick='carol' affiliation='admin'/>`, "MODE #chan +o carol", ":alice!a@h MODE #chan +o carol"},
		{"owner", `<item nick='carol' affiliation='owner'/>`, "MODE #chan +q carol", ":alice!a@h MODE #chan +q carol"},
		{"member", `<item nick='frank2' affiliation='member'/>`, "", ""},
		{"none", `<item nick='bob' affiliation='none'/>`, "MODE #chan -o bob", ":alice!a@h MODE #chan -o bob"},
		{"visitor", `<item nick='carol' role='visitor'/>`, "MODE #chan -v carol", ":alice!a@h MODE #chan -v carol"},
		{"outcast", `<item nick='carol' affiliation='outcast'/>`, "MODE #chan +b carol!*@*", ":alice!a@h MODE #chan +b carol!*@*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, fc := joined(t)
			f.send(adminIQ("a1", tt.item))
			if tt.line == "" {
				e := f.expect("error", isIQ("a1"))
				if e.attr("type") != "error" || e.find("item-not-found") == nil {
					t.Fatalf("unknown nick: %s", e)
				}
				return
			}
			if l := f.line(); l != tt.line {
				t.Fatalf("line %q, want %q", l, tt.line)
			}
			f.recv(fc, tt.confirm)
			e := f.expect("result", isIQ("a1"))
			if e.attr("type") != "result" {
				t.Fatalf("result: %s", e)
			}
		})
	}
}

func TestAdminRefused(t *testing.T) {
	f, fc := joined(t)
	f.send(adminIQ("a2", `<item nick='carol' role='none'/>`))
	f.expectLine("KICK #chan carol")
	f.recv(fc, ":srv 482 alice #chan :You're not channel operator")
	e := f.expect("error", isIQ("a2"))
	if e.attr("type") != "error" || e.find("forbidden") == nil || !strings.Contains(e.find("text").text, "not channel operator") {
		t.Fatalf("refused kick: %s", e)
	}
	// A resource that did not join cannot moderate.
	f.send(strings.Replace(adminIQ("a3", `<item nick='carol' role='none'/>`), alicePhone, aliceLaptop, 1))
	if e := f.expect("error", isIQ("a3")); e.find("not-acceptable") == nil {
		t.Fatalf("unjoined admin: %s", e)
	}
}

func TestInvites(t *testing.T) {
	f, fc := joined(t)
	f.send(`<message from='` + alicePhone + `' to='` + roomJID + `'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='zed%` + fakeHost + `@` + fakeDomain + `'/></x></message>`)
	if l := f.line(); l != "INVITE zed #chan" {
		t.Fatalf("invite line: %q", l)
	}
	f.send(`<message from='` + alicePhone + `' to='` + roomJID + `'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='someone@example.org'/></x></message>`)
	if e := f.expect("error", isMessage(roomJID, alicePhone)); e.find("not-acceptable") == nil {
		t.Fatalf("invite to a non-IRC JID: %s", e)
	}
	f.recv(fc, ":bob!b@h INVITE alice #Other")
	m := f.expect("invite", isMessage("#other%"+fakeHost+"@"+fakeDomain, "alice@example.org"))
	if inv := m.find("invite"); inv == nil || inv.attr("from") != "bob%"+fakeHost+"@"+fakeDomain {
		t.Fatalf("mediated invite: %s", m)
	}
}

func TestEchoMessage(t *testing.T) {
	f, fc := joined(t)
	f.recv(fc, ":srv CAP alice ACK :echo-message server-time")
	f.send(`<message from='` + alicePhone + `' to='` + roomJID + `' type='groupchat' id='e1'><body>one
two</body></message>`)
	f.expectLine("PRIVMSG #chan one")
	f.expectLine("PRIVMSG #chan two")
	f.quiet(fc) // no reflection before the echo
	f.recv(fc, "@msgid=abc;time=2024-01-02T03:04:05.000Z :alice!a@h PRIVMSG #chan :one")
	f.quiet(fc)
	f.recv(fc, "@msgid=abd;time=2024-01-02T03:04:05.000Z :alice!a@h PRIVMSG #chan :TWO")
	m := f.expect("reflection", isMessage(roomJID+"/alice", alicePhone))
	if m.attr("id") != "e1" || m.find("body").text != "one\nTWO" || m.find("stanza-id").attr("id") != "abd" {
		t.Fatalf("echo reflection: %s", m)
	}
	// server-time becomes a XEP-0203 delay on inbound messages.
	f.recv(fc, "@time=2024-01-02T03:04:05.000Z :bob!b@h PRIVMSG #chan :stamped")
	m = f.expect("stamped", isMessage(roomJID+"/bob", alicePhone))
	if d := m.find("delay"); d == nil || d.attr("stamp") != "2024-01-02T03:04:05.000Z" {
		t.Fatalf("server-time: %s", m)
	}
}

func TestListPaging(t *testing.T) {
	f, fc := joined(t)
	server := fakeHost + "@" + fakeDomain
	list := func(id, set string) {
		f.send(`<iq from='` + alicePhone + `' to='` + server + `' type='get' id='` + id + `'><query xmlns='http://jabber.org/protocol/disco#items'>` + set + `</query></iq>`)
	}
	list("l1", `<set xmlns='http://jabber.org/protocol/rsm'><max>2</max></set>`)
	if l := f.line(); l != "LIST" {
		t.Fatalf("list line: %q", l)
	}
	f.recv(fc, ":srv 321 alice Channel :Users Name",
		":srv 322 alice #b 3 :bee", ":srv 322 alice #a 5 :ay", ":srv 322 alice #c 1 :", ":srv 323 alice :End of LIST")
	res := f.expect("page 1", isIQ("l1"))
	items := itemJIDs(res)
	if items != "#a%irc.test@irc.gw #b%irc.test@irc.gw" || res.find("count").text != "3" || res.find("last").text != "#b" {
		t.Fatalf("page 1 (%s): %s", items, res)
	}
	list("l2", `<set xmlns='http://jabber.org/protocol/rsm'><max>2</max><after>#b</after></set>`)
	res = f.expect("page 2", isIQ("l2"))
	if items := itemJIDs(res); items != "#c%irc.test@irc.gw" {
		t.Fatalf("page 2 (%s): %s", items, res)
	}
	f.flush(fc)
	select {
	case l := <-f.lines:
		t.Fatalf("page 2 asked the server again: %q", l)
	default:
	}
}

func itemJIDs(e *el) string {
	var out []string
	for _, k := range e.find("query").kids {
		if k.name.Local == "item" {
			out = append(out, k.attr("jid"))
		}
	}
	return strings.Join(out, " ")
}

func TestCaseMapping(t *testing.T) {
	f, fc := joined(t)
	// JIDs are lower-cased; names are matched per CASEMAPPING (rfc1459).
	f.recv(fc, ":Bob[1]!b@h PRIVMSG alice :hi")
	m := f.expect("private", isMessage(`bob[1]%`+fakeHost+"@"+fakeDomain, "alice@example.org"))
	if m.find("body").text != "hi" {
		t.Fatalf("private: %s", m)
	}
	// The room is found whatever the case the server uses.
	f.recv(fc, ":bob!b@h PRIVMSG #CHAN :loud")
	f.expect("groupchat", isMessage(roomJID+"/bob", alicePhone))
	// rfc1459 folds [ ] \ ~ to { } | ^: the occupant is found either way.
	f.send(`<presence from='` + alicePhone + `' to='` + roomJID + `/alice'/>`) // not a NICK
	f.recv(fc, ":frank[x]!f@h JOIN #chan", ":FRANK{X}!f@h PART #chan")
	f.expect("frank in", isPresence(roomJID+"/frank[x]", alicePhone, ""))
	f.expect("frank out", isPresence(roomJID+"/frank[x]", alicePhone, "unavailable"))
}

func TestSASLSettings(t *testing.T) {
	f := newFake(t)
	ctx := context.Background()
	reg, err := f.tr.Register(ctx, "Alice@example.org", map[string]string{"network": fakeHost, "sasl_account": "acct", "sasl_password": "pw"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if reg.Settings["sasl:irc.test:password"] != "pw" || reg.Settings["sasl:irc.test:account"] != "acct" {
		t.Fatalf("settings: %v", reg.Settings)
	}
	if _, err := f.tr.Register(ctx, "alice@example.org", map[string]string{"network": "elsewhere.example"}, &transports.Registration{Settings: reg.Settings}); err == nil {
		t.Fatal("a network that is not configured was accepted")
	}
	f.send(`<presence from='` + alicePhone + `' to='` + roomJID + `/alice'/>`)
	fc := f.conn()
	if sasl := fc.c.Config().SASL; sasl == nil || sasl.Mech != "PLAIN" || sasl.Account != "acct" || sasl.Password != "pw" {
		t.Fatalf("no SASL PLAIN: %#v", fc.c.Config().SASL)
	}
	// Clearing the password forgets it.
	reg2, err := f.tr.Register(ctx, "alice@example.org", map[string]string{"network": fakeHost}, &transports.Registration{Settings: reg.Settings})
	if err != nil || len(reg2.Settings) != 0 {
		t.Fatalf("cleared: %v %v", reg2.Settings, err)
	}
}

// TestSASLRefused: a 904 during registration fails the join with
// not-authorized and a text naming the network and account (never the
// password), and no reconnection follows.
func TestSASLRefused(t *testing.T) {
	f := newFake(t)
	if _, err := f.tr.Register(context.Background(), "alice@example.org", map[string]string{"network": fakeHost, "sasl_account": "acct", "sasl_password": "wrong-pw"}, nil); err != nil {
		t.Fatal(err)
	}
	f.send(`<presence from='` + alicePhone + `' to='` + roomJID + `/alice'/>`)
	fc := f.conn()
	f.recv(fc, ":srv 904 alice :SASL authentication failed")
	f.closed(fc, errors.New("closing connection: SASL authentication failed"))
	p := f.expect("join error", isPresence(roomJID+"/alice", alicePhone, "error"))
	s := p.String()
	for _, want := range []string{"not-authorized", "SASL login to " + fakeHost + " as acct failed (SASL authentication failed)"} {
		if !strings.Contains(s, want) {
			t.Errorf("join error lacks %q: %s", want, s)
		}
	}
	if strings.Contains(s, "wrong-pw") {
		t.Errorf("join error shows the password: %s", s)
	}
	f.flush(fc)
	f.noConn()
}

// TestSASLRefusedOnReconnect: when the credentials stop working between
// connections, the rejoin fails with not-authorized instead of retrying.
func TestSASLRefusedOnReconnect(t *testing.T) {
	f, fc := joined(t)
	if _, err := f.tr.Register(context.Background(), "alice@example.org", map[string]string{"network": fakeHost, "sasl_account": "acct", "sasl_password": "pw"}, nil); err != nil {
		t.Fatal(err)
	}
	f.closed(fc, errors.New("EOF"))
	f.expect("332", isPresence(roomJID+"/alice", alicePhone, "unavailable"))
	fc2 := f.conn()
	f.recv(fc2, ":srv 904 alice :SASL authentication failed")
	f.closed(fc2, errors.New("closing connection: SASL authentication failed"))
	p := f.expect("rejoin error", isPresence(roomJID+"/alice", alicePhone, "error"))
	if p.find("not-authorized") == nil {
		t.Fatalf("rejoin after a refused SASL login: %s", p)
	}
	f.flush(fc2)
	f.noConn()
}
