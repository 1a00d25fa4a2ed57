package integration

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"xgate/integration/harness"
)

// TestIRCBudget: with transports.irc.networks[].max_connections 2, two
// users join a channel, the third is refused with a clear error naming the
// network and the limit while the first two keep chatting, and once one of
// them leaves the third gets in.
func TestIRCBudget(t *testing.T) {
	ircd := harness.StartNgircd(t)
	users := []string{"alice", "amy", "ann"}
	var accounts []harness.Account
	for _, u := range users {
		accounts = append(accounts, harness.Account{User: u, Pass: alicePass})
	}
	srv, _ := startIRCGateway(t, harness.Prosody, ircd.Port, "        plaintext: true\n        max_connections: 2\n", "", accounts...)

	const wait = 10 * time.Second
	room := "#budget%127.0.0.1@" + ircDomain
	obs := harness.DialIRC(t, ircd.Addr, "obs")
	obs.Send(t, "JOIN #budget")
	obs.Expect(t, wait, " 366 ")

	clients := map[string]*harness.Client{}
	for _, u := range users {
		clients[u] = harness.Login(t, srv, u, alicePass, "phone")
	}
	join := func(u string) *harness.Element {
		clients[u].Send(t, "<presence to='"+room+"/"+u+"'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
		return clients[u].Expect(t, 20*time.Second, harness.All(harness.Name("presence"), harness.From(room+"/"+u)))
	}
	for _, u := range users[:2] {
		if p := join(u); p.Type() != "" {
			t.Fatalf("%s's join: %s", u, p)
		}
		obs.Expect(t, wait, ":"+u+"!")
	}

	p := join("ann")
	cond, text := p.ErrorCondition()
	if p.Type() != "error" || cond != "resource-constraint" || !strings.Contains(text, "2 connections to 127.0.0.1") {
		t.Fatalf("ann's join over the budget: want resource-constraint naming 127.0.0.1 and 2, got %s", p)
	}
	t.Logf("ann was told: %s", text)

	// The two users in are untouched.
	clients["alice"].Send(t, "<message type='groupchat' to='"+room+"'><body>still chatting</body></message>")
	obs.Expect(t, wait, "PRIVMSG #budget :still chatting")
	obs.Send(t, "PRIVMSG #budget :hello both")
	for _, u := range users[:2] {
		clients[u].Expect(t, wait, harness.All(harness.Message(room+"/obs"), harness.Body("hello both")))
	}

	// Alice leaves: her QUIT means her slot is free, and ann gets in.
	clients["alice"].Send(t, "<presence type='unavailable' to='"+room+"/alice'/>")
	obs.Expect(t, wait, ":alice!")
	if p := join("ann"); p.Type() != "" {
		t.Fatalf("ann's join after alice left: %s", p)
	}
	obs.Expect(t, wait, ":ann!")
}

// TestIRCIdentd: xgate's identd on 127.0.0.1:113 answers ngircd's ident
// query, so a WHOIS of alice shows her ident as the user name, without the
// "~" of an unverified one.
func TestIRCIdentd(t *testing.T) {
	const identAddr = "127.0.0.1:113"
	ln, err := net.Listen("tcp", identAddr)
	if err != nil {
		t.Skipf("identd needs %s (root, port free): %v", identAddr, err)
	}
	ln.Close()
	ircd := harness.StartNgircdIdent(t)
	srv, xg := startIRCGateway(t, harness.Prosody, ircd.Port, "        plaintext: true\n", fmt.Sprintf("    identd: {listen: %q}\n", identAddr),
		harness.Account{User: "alice", Pass: alicePass})

	const wait = 10 * time.Second
	room := "#ident%127.0.0.1@" + ircDomain
	alice := harness.Login(t, srv, "alice", alicePass, "phone")
	alice.Send(t, "<presence to='"+room+"/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	alice.Expect(t, 20*time.Second, harness.Presence(room+"/alice", ""))

	obs := harness.DialIRC(t, ircd.Addr, "obs")
	obs.Send(t, "WHOIS alice")
	line := obs.Expect(t, wait, " 311 ") // :srv 311 obs alice <user> <host> * :<realname>
	f := strings.Fields(line)
	if len(f) < 5 {
		t.Fatalf("WHOIS reply %q", line)
	}
	user := f[4]
	if strings.HasPrefix(user, "~") || !strings.HasPrefix(user, "ali") || len(user) != 9 {
		t.Fatalf("WHOIS alice: user %q, want alice's ident (ali + 6 hex digits) without ~ (line %q)", user, line)
	}
	// The raw client has no identd: its user name keeps the "~".
	obs.Send(t, "WHOIS obs")
	if l := obs.Expect(t, wait, " 311 obs obs "); !strings.Contains(l, " ~obs ") {
		t.Errorf("WHOIS obs: %q, want ~obs", l)
	}
	if !strings.Contains(xg.Logs(), "identd listening") {
		t.Errorf("xgate did not log its identd")
	}
}
