package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"xgate/integration/harness"
)

const (
	ircDomain = "irc.localhost"
	ircSecret = "comp-irc-s3cret"
	nsMUCUser = "http://jabber.org/protocol/muc#user"
)

// statusCodes lists the muc#user status codes of a presence.
func statusCodes(p *harness.Element) map[string]bool {
	out := map[string]bool{}
	if x := p.ChildNS(nsMUCUser, "x"); x != nil {
		for _, s := range x.ChildrenNamed("status") {
			out[s.Attr("code")] = true
		}
	}
	return out
}

func wantCodes(t *testing.T, p *harness.Element, codes ...string) {
	t.Helper()
	got := statusCodes(p)
	for _, c := range codes {
		if !got[c] {
			t.Errorf("presence lacks status %s: %s", c, p)
		}
	}
}

// TestIRC runs the IRC transport end to end: Prosody, a private ngircd, the
// real xgate binary, a real XMPP client (alice) and a raw IRC client (bob).
// The subtests share the setup and run in order.
// ircEnv is an XMPP server of a kind with the IRC component, a private
// ngircd, xgate with the IRC transport on that network, alice logged in, and a
// raw IRC client bob already in channel.
type ircEnv struct {
	ircd  *harness.IRCServer
	srv   *harness.XMPPServer
	xg    *harness.Xgate
	alice *harness.Client
	bob   *harness.IRCClient
}

// startIRCGateway starts an XMPP server of kind with the IRC component and
// accounts, and xgate with the IRC transport on one network,
// 127.0.0.1:port. network holds the entry's other keys and extra other
// keys of transports.irc: YAML lines indented 8 and 4 spaces, each ending
// with a newline.
func startIRCGateway(t *testing.T, kind harness.Kind, port int, network, extra string, accounts ...harness.Account) (*harness.XMPPServer, *harness.Xgate) {
	t.Helper()
	srv := harness.StartServer(t, kind, harness.ServerOptions{
		Components: []harness.Component{{Domain: ircDomain, Secret: ircSecret}},
	})
	srv.RegisterAll(t, accounts...)
	cfg := harness.NewXgateConfig(t, srv)
	cfg.ExtraTransports = fmt.Sprintf("  irc:\n    domain: %s\n    secret: %s\n%s    networks:\n"+
		"      - host: 127.0.0.1\n        port: %d\n%s", ircDomain, ircSecret, extra, port, network)
	xg := harness.StartXgate(t, cfg.YAML())
	xg.WaitHealthy(t, healthyAfter)
	return srv, xg
}

func newIRCEnv(t *testing.T, kind harness.Kind, channel, networkExtra string) *ircEnv {
	t.Helper()
	e := &ircEnv{ircd: harness.StartNgircd(t)}
	e.srv, e.xg = startIRCGateway(t, kind, e.ircd.Port, "        plaintext: true\n"+networkExtra, "",
		harness.Account{User: "alice", Pass: alicePass})
	e.alice = harness.Login(t, e.srv, "alice", alicePass, "phone")
	e.bob = harness.DialIRC(t, e.ircd.Addr, "bob")
	e.bob.Send(t, "JOIN "+channel)
	e.bob.Expect(t, 5*time.Second, " 366 ")
	return e
}

func TestIRC(t *testing.T) {
	e := newIRCEnv(t, harness.Prosody, "#test", "        burst: 20\n        interval: 100ms\n")
	ircd, srv, alice, bob := e.ircd, e.srv, e.alice, e.bob

	const wait = 10 * time.Second
	room := "#test%127.0.0.1@" + ircDomain

	t.Run("join", func(t *testing.T) {
		alice.Send(t, "<presence to='"+room+"/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
		bobP := alice.Expect(t, 20*time.Second, harness.Presence(room+"/bob", ""))
		if x := bobP.ChildNS(nsMUCUser, "x"); x == nil || x.Child("item").Attr("role") != "moderator" {
			t.Errorf("bob (channel operator) should be a moderator: %s", bobP)
		}
		self := alice.Expect(t, wait, harness.Presence(room+"/alice", ""))
		wantCodes(t, self, "110", "100")
		subj := alice.Expect(t, wait, harness.All(harness.Name("message"), harness.From(room), harness.HasChild("subject")))
		if subj.Type() != "groupchat" {
			t.Errorf("subject: %s", subj)
		}
		bob.Expect(t, wait, "JOIN")
	})

	t.Run("xmpp to irc", func(t *testing.T) {
		alice.Send(t, "<message type='groupchat' id='g1' to='"+room+"'><body>hello from xmpp</body></message>")
		bob.Expect(t, wait, "PRIVMSG #test :hello from xmpp")
		refl := alice.Expect(t, wait, harness.All(harness.Message(room+"/alice"), harness.ID("g1")))
		if refl.ChildText("body") != "hello from xmpp" {
			t.Errorf("reflection: %s", refl)
		}
	})

	t.Run("irc to xmpp", func(t *testing.T) {
		bob.Send(t, "PRIVMSG #test :hi \x02alice\x02, \x0304red\x03 text")
		m := alice.Expect(t, wait, harness.Message(room+"/bob"))
		if m.Type() != "groupchat" || m.ChildText("body") != "hi *alice*, red text" {
			t.Errorf("groupchat from bob: %s", m)
		}
	})

	t.Run("action both ways", func(t *testing.T) {
		bob.Send(t, "PRIVMSG #test :\x01ACTION waves\x01")
		alice.Expect(t, wait, harness.All(harness.Message(room+"/bob"), harness.Body("/me waves")))
		alice.Send(t, "<message type='groupchat' to='"+room+"'><body>/me nods</body></message>")
		bob.Expect(t, wait, "PRIVMSG #test :\x01ACTION nods\x01")
	})

	t.Run("latin-1 line", func(t *testing.T) {
		bob.SendBytes(t, []byte("PRIVMSG #test :caf\xe9 cr\xe8me"))
		alice.Expect(t, wait, harness.All(harness.Message(room+"/bob"), harness.Body("café crème")))
	})

	t.Run("long message", func(t *testing.T) {
		var words []string
		for i := 0; len(strings.Join(words, " ")) < 2000; i++ {
			words = append(words, fmt.Sprintf("w%04dé", i))
		}
		long := strings.Join(words, " ")[:2000]
		long = strings.TrimRight(long, "\xc3")
		alice.Send(t, "<message type='groupchat' to='"+room+"'><body>"+long+"</body></message>")
		var got []string
		for strings.Join(strings.Fields(strings.Join(got, " ")), " ") != strings.Join(strings.Fields(long), " ") {
			l, ok := bob.Next(wait, func(l string) bool { return strings.Contains(l, "PRIVMSG #test :") })
			if !ok {
				t.Fatalf("2,000 characters: incomplete after %d lines: %q", len(got), got)
			}
			got = append(got, l[strings.Index(l, "PRIVMSG #test :")+len("PRIVMSG #test :"):])
		}
		if len(got) < 4 {
			t.Errorf("2,000 characters arrived as %d lines", len(got))
		}
	})

	t.Run("topic", func(t *testing.T) {
		bob.Send(t, "TOPIC #test :new topic")
		m := alice.Expect(t, wait, harness.All(harness.Name("message"), harness.From(room+"/bob"), harness.HasChild("subject")))
		if m.ChildText("subject") != "new topic" {
			t.Errorf("topic: %s", m)
		}
		// +t and alice is no operator: her subject change is refused with
		// the server's text.
		bob.Send(t, "MODE #test +t")
		bob.Expect(t, wait, "MODE #test +t")
		alice.Send(t, "<message type='groupchat' id='subj1' to='"+room+"'><subject>from xmpp</subject></message>")
		e := alice.Expect(t, wait, harness.All(harness.Name("message"), harness.ID("subj1"), harness.Type("error")))
		if e.Child("error") == nil || e.Child("error").Child("forbidden") == nil || !strings.Contains(e.Child("error").ChildText("text"), "#test") {
			t.Errorf("refused subject change: %s", e)
		}
	})

	t.Run("private messages", func(t *testing.T) {
		bob.Send(t, "PRIVMSG alice :psst")
		m := alice.Expect(t, wait, harness.Message("bob%127.0.0.1@"+ircDomain))
		if m.ChildText("body") != "psst" || m.Type() != "chat" {
			t.Errorf("private from bob: %s", m)
		}
		alice.SendMessage(t, "bob%127.0.0.1@"+ircDomain, "psst back")
		bob.Expect(t, wait, "PRIVMSG bob :psst back")
	})

	t.Run("nick change", func(t *testing.T) {
		bob.Send(t, "NICK robert")
		p := alice.Expect(t, wait, harness.Presence(room+"/bob", "unavailable"))
		wantCodes(t, p, "303")
		if item := p.ChildNS(nsMUCUser, "x").Child("item"); item.Attr("nick") != "robert" {
			t.Errorf("303 without the new nick: %s", p)
		}
		alice.Expect(t, wait, harness.Presence(room+"/robert", ""))
	})

	carol := harness.DialIRC(t, ircd.Addr, "carol")
	t.Run("kick", func(t *testing.T) {
		carol.Send(t, "JOIN #test")
		carol.Expect(t, wait, " 366 ")
		alice.Expect(t, wait, harness.Presence(room+"/carol", ""))
		bob.Send(t, "KICK #test carol :behave")
		p := alice.Expect(t, wait, harness.Presence(room+"/carol", "unavailable"))
		wantCodes(t, p, "307")
	})

	t.Run("second resource", func(t *testing.T) {
		laptop := harness.Login(t, srv, "alice", alicePass, "laptop")
		laptop.Send(t, "<presence to='"+room+"/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
		laptop.Expect(t, wait, harness.Presence(room+"/robert", ""))
		self := laptop.Expect(t, wait, harness.Presence(room+"/alice", ""))
		wantCodes(t, self, "110", "100")
		alice.Send(t, "<message type='groupchat' id='two1' to='"+room+"'><body>seen twice</body></message>")
		bob.Expect(t, wait, "PRIVMSG #test :seen twice")
		laptop.Expect(t, wait, harness.All(harness.Message(room+"/alice"), harness.ID("two1")))
		alice.Expect(t, wait, harness.All(harness.Message(room+"/alice"), harness.ID("two1")))
		bob.Send(t, "PRIVMSG #test :to both")
		laptop.Expect(t, wait, harness.All(harness.Message(room+"/robert"), harness.Body("to both")))
		alice.Expect(t, wait, harness.All(harness.Message(room+"/robert"), harness.Body("to both")))

		tablet := harness.Login(t, srv, "alice", alicePass, "tablet")
		tablet.Send(t, "<message type='groupchat' id='sneak' to='"+room+"'><body>not joined</body></message>")
		e := tablet.Expect(t, wait, harness.All(harness.Name("message"), harness.ID("sneak"), harness.Type("error")))
		if e.Find("error", "not-acceptable") == nil {
			t.Errorf("unjoined resource: %s", e)
		}
		// The laptop goes offline: the phone stays, nothing is parted.
		laptop.Close(t)
		alice.Send(t, "<message type='groupchat' to='"+room+"'><body>still here</body></message>")
		if l := bob.Expect(t, wait, "#test"); !strings.Contains(l, "PRIVMSG #test :still here") {
			t.Errorf("after the laptop left: %q", l)
		}
	})

	t.Run("modes and moderation", func(t *testing.T) {
		bob.Send(t, "MODE #test +o alice")
		p := alice.Expect(t, wait, harness.All(harness.Presence(room+"/alice", ""), func(e *harness.Element) bool {
			x := e.ChildNS(nsMUCUser, "x")
			return x != nil && x.Child("item").Attr("role") == "moderator"
		}))
		wantCodes(t, p, "110")
		carol.Send(t, "JOIN #test")
		alice.Expect(t, wait, harness.Presence(room+"/carol", ""))
		r := alice.IQ(t, "<iq type='set' to='"+room+"'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='carol' role='moderator'/></query></iq>")
		if r.Type() != "result" {
			t.Errorf("role moderator: %s", r)
		}
		bob.Expect(t, wait, "MODE #test +h carol")
		// An operator now: the server's TOPIC confirms her subject.
		alice.Send(t, "<message type='groupchat' id='subj2' to='"+room+"'><subject>set from xmpp</subject></message>")
		bob.Expect(t, wait, "TOPIC #test :set from xmpp")
		m := alice.Expect(t, wait, harness.All(harness.Name("message"), harness.From(room+"/alice"), harness.HasChild("subject")))
		if m.ChildText("subject") != "set from xmpp" {
			t.Errorf("subject confirmation: %s", m)
		}
		p = alice.Expect(t, wait, harness.Presence(room+"/carol", ""))
		if it := p.ChildNS(nsMUCUser, "x").Child("item"); it.Attr("role") != "moderator" {
			t.Errorf("carol +h: %s", p)
		}
		r = alice.IQ(t, "<iq type='set' to='"+room+"'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='carol' role='none'><reason>out you go</reason></item></query></iq>")
		if r.Type() != "result" {
			t.Errorf("kick: %s", r)
		}
		bob.Expect(t, wait, "KICK #test carol :out you go")
		wantCodes(t, alice.Expect(t, wait, harness.Presence(room+"/carol", "unavailable")), "307")
	})

	t.Run("invites", func(t *testing.T) {
		alice.Send(t, "<message to='"+room+"'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='carol%127.0.0.1@"+ircDomain+"'/></x></message>")
		if l := carol.Expect(t, wait, "INVITE carol"); !strings.Contains(l, "#test") {
			t.Errorf("invite: %q", l)
		}
		bob.Send(t, "JOIN #elsewhere")
		bob.Expect(t, wait, " 366 ")
		bob.Send(t, "INVITE alice #elsewhere")
		m := alice.Expect(t, wait, harness.All(harness.Name("message"), harness.From("#elsewhere%127.0.0.1@"+ircDomain)))
		if inv := m.Find("x", "invite"); inv == nil || inv.Attr("from") != "robert%127.0.0.1@"+ircDomain {
			t.Errorf("mediated invite: %s", m)
		}
	})

	t.Run("join errors", func(t *testing.T) {
		for _, c := range []struct{ channel, mode, cond, text string }{
			{"#banned", "+b alice!*@*", "forbidden", "+b"},
			{"#keyed", "+k sekrit", "not-authorized", "+k"},
			{"#invite", "+i", "registration-required", "+i"},
		} {
			bob.Send(t, "JOIN "+c.channel)
			bob.Expect(t, wait, " 366 ")
			bob.Send(t, "MODE "+c.channel+" "+c.mode)
			bob.Expect(t, wait, "MODE "+c.channel)
			jid := c.channel + "%127.0.0.1@" + ircDomain
			alice.Send(t, "<presence to='"+jid+"/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
			e := alice.Expect(t, wait, harness.All(harness.Name("presence"), harness.From(jid), harness.Type("error")))
			if e.Find("error", c.cond) == nil || !strings.Contains(e.Find("error", "text").Text, c.text) {
				t.Errorf("%s: want %s with the server's text: %s", c.channel, c.cond, e)
			}
		}
		// The right key joins.
		jid := "#keyed%127.0.0.1@" + ircDomain
		alice.Send(t, "<presence to='"+jid+"/alice'><x xmlns='http://jabber.org/protocol/muc'><password>sekrit</password></x></presence>")
		wantCodes(t, alice.Expect(t, wait, harness.Presence(jid+"/alice", "")), "110")
	})

	t.Run("list channels", func(t *testing.T) {
		r := alice.IQ(t, "<iq type='get' to='127.0.0.1@"+ircDomain+"'><query xmlns='http://jabber.org/protocol/disco#items'><set xmlns='http://jabber.org/protocol/rsm'><max>2</max></set></query></iq>")
		items := r.FindAll("item")
		if r.Type() != "result" || len(items) != 2 || r.Find("query", "set", "count") == nil {
			t.Fatalf("LIST page: %s", r)
		}
		last := r.Find("query", "set", "last").Text
		r = alice.IQ(t, "<iq type='get' to='127.0.0.1@"+ircDomain+"'><query xmlns='http://jabber.org/protocol/disco#items'><set xmlns='http://jabber.org/protocol/rsm'><max>10</max><after>"+last+"</after></set></query></iq>")
		if r.Type() != "result" || len(r.FindAll("item")) == 0 {
			t.Errorf("LIST next page: %s", r)
		}
	})

	t.Run("server lost and back", func(t *testing.T) {
		ircd.Kill(t)
		p := alice.Expect(t, 20*time.Second, harness.Presence(room+"/alice", "unavailable"))
		wantCodes(t, p, "110", "332")
		ircd.Start(t)
		// xgate reconnects by itself and rejoins where alice still is.
		p = alice.Expect(t, 30*time.Second, harness.Presence(room+"/alice", ""))
		wantCodes(t, p, "110", "100")
		dave := harness.DialIRC(t, ircd.Addr, "dave")
		dave.Send(t, "NAMES #test")
		if l := dave.Expect(t, wait, " 353 "); !strings.Contains(l, "alice") {
			t.Errorf("alice is not back in #test: %q", l)
		}
		dave.Send(t, "JOIN #test")
		// The NAMES above ended with a 366 too: wait for dave's own JOIN.
		dave.Expect(t, wait, "dave!")
		dave.Expect(t, wait, " 366 ")
		alice.Send(t, "<message type='groupchat' to='"+room+"'><body>back again</body></message>")
		dave.Expect(t, wait, "PRIVMSG #test :back again")
	})
}
