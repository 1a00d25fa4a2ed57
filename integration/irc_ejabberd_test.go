package integration

import (
	"testing"
	"time"

	"xgate/integration/harness"
)

// TestIRCEjabberd runs the IRC join and message flow through ejabberd
// instead of Prosody: a real XMPP client joins a channel on a private
// ngircd, and messages go both ways.
func TestIRCEjabberd(t *testing.T) {
	e := newIRCEnv(t, harness.Ejabberd, "#ej", "")
	alice, bob := e.alice, e.bob

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
