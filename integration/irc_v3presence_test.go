package integration

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"xgate/integration/harness"
)

// TestIRCv3Presence runs against a real InspIRCd 3 (no services, so no
// SASL) with away-notify, chghost, invite-notify, echo-message and WEBIRC
// (m_cgiirc): xgate connects with WEBIRC, so WHOIS from a raw client shows
// alice's per-user host and address instead of 127.0.0.1; bob's AWAY
// becomes show/status on his occupant presence and back; bob's INVITE of
// another nick is a room notice; a line the server refuses (+m) is never
// reflected and the sender gets the server's text, so reflections are the
// server's echoes; a user who registered SASL credentials for a network
// that offers no SASL gets a clear error instead of an unidentified
// connection.
func TestIRCv3Presence(t *testing.T) {
	ircd := harness.StartInspIRCdV3(t)
	srv, xg := startIRCGateway(t, harness.Prosody, ircd.Port, "        plaintext: true\n"+
		"        webirc: {password: "+harness.InspIRCdWebIRCPass+", gateway: xgate-test, host_suffix: users.test, prefix: \"2001:db8:77::/64\"}\n", "",
		harness.Account{User: "alice", Pass: alicePass}, harness.Account{User: "bob", Pass: bobPass})
	if strings.Contains(xg.Logs(), harness.InspIRCdWebIRCPass) {
		t.Errorf("xgate's log shows the WEBIRC password")
	}

	alice := harness.Login(t, srv, "alice", alicePass, "phone")
	bob := harness.DialIRC(t, ircd.Addr, "bob")
	bob.Send(t, "JOIN #pres")
	bob.Expect(t, 5*time.Second, " 366 ")

	const wait = 10 * time.Second
	room := "#pres%127.0.0.1@" + ircDomain
	alice.Send(t, "<presence to='"+room+"/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	wantCodes(t, alice.Expect(t, 20*time.Second, harness.Presence(room+"/alice", "")), "110")
	bob.Expect(t, wait, "JOIN")

	t.Run("webirc", func(t *testing.T) {
		bob.Send(t, "WHOIS alice")
		line := bob.Expect(t, wait, " 311 ") // bob alice user host * :realname
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("311: %q", line)
		}
		// InspIRCd 3 shows the WEBIRC address as the host (it does not
		// take the gateway's host name without a lookup); other servers
		// show <16 hex>.users.test. Either is alice's own, never the
		// gateway's 127.0.0.1.
		host := f[5]
		a, err := netip.ParseAddr(host)
		ownHost := strings.HasSuffix(host, ".users.test") && len(host) == 16+len(".users.test")
		if strings.Contains(line, "127.0.0.1") || !ownHost && (err != nil || !netip.MustParsePrefix("2001:db8:77::/64").Contains(a)) {
			t.Errorf("WHOIS host %q: want alice's WEBIRC host or address, not the gateway's (%q)", host, line)
		}
		// 378 (is connecting from) shows the address WEBIRC gave.
		if l, ok := bob.Next(wait, func(l string) bool { return strings.Contains(l, " 378 ") || strings.Contains(l, " 318 ") }); ok && strings.Contains(l, " 378 ") {
			found := false
			for _, w := range strings.Fields(l) {
				if a, err := netip.ParseAddr(w); err == nil {
					found = netip.MustParsePrefix("2001:db8:77::/64").Contains(a)
				}
			}
			if !found {
				t.Errorf("378 %q: want an address in 2001:db8:77::/64", l)
			}
			bob.Expect(t, wait, " 318 ")
		}
	})

	t.Run("away-notify", func(t *testing.T) {
		bob.Send(t, "AWAY :gone fishing")
		p := alice.Expect(t, wait, harness.All(harness.Presence(room+"/bob", ""), harness.HasChild("show")))
		if p.ChildText("show") != "away" || p.ChildText("status") != "gone fishing" {
			t.Errorf("away presence: %s", p)
		}
		bob.Send(t, "AWAY")
		p = alice.Expect(t, wait, harness.All(harness.Presence(room+"/bob", ""), func(e *harness.Element) bool { return e.Child("show") == nil }))
		if p.Child("status") != nil {
			t.Errorf("back presence: %s", p)
		}
	})

	t.Run("invite-notify", func(t *testing.T) {
		carol := harness.DialIRC(t, ircd.Addr, "carol")
		defer carol.Close()
		bob.Send(t, "MODE #pres +o alice") // invite-notify goes to channel operators
		alice.Expect(t, wait, harness.All(harness.Presence(room+"/alice", ""), func(e *harness.Element) bool {
			return strings.Contains(e.String(), "moderator")
		}))
		bob.Send(t, "INVITE carol #pres")
		carol.Expect(t, wait, "INVITE carol")
		m := alice.Expect(t, wait, harness.All(harness.Name("message"), harness.Type("groupchat"), harness.HasChild("body"), func(e *harness.Element) bool { return e.From() == room }))
		if m.ChildText("body") != "bob invited carol to #pres" {
			t.Errorf("invite notice: %s", m)
		}
	})

	t.Run("echo-message refused", func(t *testing.T) {
		bob.Send(t, "MODE #pres -o+m alice")
		bob.Expect(t, wait, "MODE #pres")
		alice.Expect(t, wait, harness.All(harness.Presence(room+"/alice", ""), func(e *harness.Element) bool {
			return strings.Contains(e.String(), "participant")
		}))
		alice.Send(t, "<message type='groupchat' id='r1' to='"+room+"'><body>muted words</body></message>")
		e := alice.Expect(t, wait, harness.All(harness.Name("message"), harness.ID("r1"), harness.Type("error")))
		if cond, text := e.ErrorCondition(); cond != "not-allowed" || !strings.Contains(text, "#pres") {
			t.Errorf("refusal: %s", e)
		}
		bob.Send(t, "MODE #pres -m")
		bob.Expect(t, wait, "-m")
		alice.Send(t, "<message type='groupchat' id='r2' to='"+room+"'><body>heard words</body></message>")
		bob.Expect(t, wait, "PRIVMSG #pres :heard words")
		refl := alice.Expect(t, wait, harness.All(harness.Message(room+"/alice"), harness.ID("r2")))
		if refl.ChildText("body") != "heard words" {
			t.Errorf("reflection: %s", refl)
		}
		if n := len(alice.Received(harness.All(harness.Message(room+"/alice"), harness.ID("r1")))); n != 0 {
			t.Errorf("the refused message was reflected %d times", n)
		}
		if strings.Contains(strings.Join(bob.Transcript(), "\n"), "muted words") {
			t.Errorf("bob received the refused line")
		}
	})

	t.Run("sasl not offered", func(t *testing.T) {
		bobx := harness.Login(t, srv, "bob", bobPass, "pc")
		r := bobx.IQ(t, "<iq type='set' to='"+ircDomain+"'><query xmlns='"+nsRegister+"'>"+
			"<x xmlns='"+nsData+"' type='submit'>"+
			"<field var='FORM_TYPE'><value>"+nsRegister+"</value></field>"+
			"<field var='network'><value>127.0.0.1</value></field>"+
			"<field var='sasl_account'><value>bobx</value></field>"+
			"<field var='sasl_password'><value>never-sent-pass</value></field>"+
			"</x></query></iq>")
		if r.Type() != "result" {
			t.Fatalf("IRC registration: %s", r)
		}
		bobx.Send(t, "<presence to='"+room+"/bobx'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
		e := bobx.Expect(t, 20*time.Second, harness.Presence(room+"/bobx", "error"))
		cond, text := e.ErrorCondition()
		if cond != "not-authorized" || !strings.Contains(text, "does not offer SASL") || strings.Contains(text, "never-sent-pass") {
			t.Errorf("join error: %s", e)
		}
		if _, ok := bob.Next(2*time.Second, func(l string) bool { return strings.Contains(l, "bobx") && strings.Contains(l, "JOIN") }); ok {
			t.Errorf("bobx joined without SASL")
		}
	})
}
