package integration

import (
	"fmt"
	"testing"
	"time"

	"xgate/integration/harness"
)

// TestIRCEjabberd runs the IRC join and message flow through ejabberd
// instead of Prosody: a real XMPP client joins a channel on a private
// ngircd, and messages go both ways.
func TestIRCEjabberd(t *testing.T) {
	ircd := harness.StartNgircd(t)
	srv := harness.StartServer(t, harness.Ejabberd, harness.ServerOptions{
		Components: []harness.Component{{Domain: ircDomain, Secret: ircSecret}},
	})
	srv.RegisterAll(t, harness.Account{User: "alice", Pass: alicePass})
	cfg := harness.NewXgateConfig(t, srv)
	cfg.ExtraTransports = fmt.Sprintf("  irc:\n    domain: %s\n    secret: %s\n    networks:\n"+
		"      - host: 127.0.0.1\n        port: %d\n        plaintext: true\n",
		ircDomain, ircSecret, ircd.Port)
	xg := harness.StartXgate(t, cfg.YAML())
	xg.WaitHealthy(t, healthyAfter)

	alice := harness.Login(t, srv, "alice", alicePass, "phone")
	bob := harness.DialIRC(t, ircd.Addr, "bob")
	bob.Send(t, "JOIN #ej")
	bob.Expect(t, 5*time.Second, " 366 ")

	const wait = 10 * time.Second
	room := "#ej%127.0.0.1@" + ircDomain
	alice.Send(t, "<presence to='"+room+"/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	alice.Expect(t, 20*time.Second, harness.Presence(room+"/bob", ""))
	wantCodes(t, alice.Expect(t, wait, harness.Presence(room+"/alice", "")), "110", "100")
	bob.Expect(t, wait, "JOIN")

	alice.Send(t, "<message type='groupchat' id='ej1' to='"+room+"'><body>hello via ejabberd</body></message>")
	bob.Expect(t, wait, "PRIVMSG #ej :hello via ejabberd")
	alice.Expect(t, wait, harness.All(harness.Message(room+"/alice"), harness.ID("ej1")))
	bob.Send(t, "PRIVMSG #ej :hello back")
	alice.Expect(t, wait, harness.All(harness.Message(room+"/bob"), harness.Body("hello back")))
	bob.Send(t, "PRIVMSG alice :private")
	alice.Expect(t, wait, harness.All(harness.Message("bob%127.0.0.1@"+ircDomain), harness.Body("private")))

	// Leaving the only room quits the network.
	alice.Send(t, "<presence type='unavailable' to='"+room+"/alice'/>")
	wantCodes(t, alice.Expect(t, wait, harness.Presence(room+"/alice", "unavailable")), "110")
	bob.Expect(t, wait, "QUIT")
}
