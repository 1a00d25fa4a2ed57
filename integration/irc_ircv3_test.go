package integration

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"xgate/integration/harness"
)

const (
	nsDelay = "urn:xmpp:delay"
	nsSID   = "urn:xmpp:sid:0"
)

// TestIRCv3 runs the IRCv3 extensions ngircd lacks against InspIRCd 3
// (ircv3_echomessage, ircv3_servertime): with echo-message the user's
// groupchat reflection is the server's echo, sent once with the id and
// origin-id the client gave; with server-time a line from IRC carries a
// XEP-0203 delay from the IRC server with the server's timestamp. xgate
// connects with the network's bind address and server password (PASS).
func TestIRCv3(t *testing.T) {
	ircd := harness.StartInspIRCd(t)
	// xgate connects from InspIRCdPassFrom, whose connect class wants the
	// server password: the network's bind and password keys.
	srv, xg := startIRCGateway(t, harness.Prosody, ircd.Port,
		"        plaintext: true\n        bind: "+harness.InspIRCdPassFrom+"\n        password: "+harness.InspIRCdServerPass+"\n", "",
		harness.Account{User: "alice", Pass: alicePass})
	if strings.Contains(xg.Logs(), harness.InspIRCdServerPass) {
		t.Errorf("xgate's log shows the IRC server password")
	}

	alice := harness.Login(t, srv, "alice", alicePass, "phone")
	bob := harness.DialIRC(t, ircd.Addr, "bob")
	bob.Send(t, "JOIN #v3")
	bob.Expect(t, 5*time.Second, " 366 ")

	const wait = 10 * time.Second
	room := "#v3%127.0.0.1@" + ircDomain
	alice.Send(t, "<presence to='"+room+"/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	wantCodes(t, alice.Expect(t, 20*time.Second, harness.Presence(room+"/alice", "")), "110")
	bob.Expect(t, wait, "JOIN")

	t.Run("server password and bind", func(t *testing.T) {
		// alice came from the bind address, so she sent the password.
		bob.Send(t, "WHOIS alice")
		line, ok := bob.Next(wait, func(l string) bool { return strings.Contains(l, " 311 ") || strings.Contains(l, " 318 ") })
		if !ok || !strings.Contains(line, " "+harness.InspIRCdPassFrom+" ") {
			t.Errorf("WHOIS alice: want 311 with host %s, got %q", harness.InspIRCdPassFrom, line)
		}
		bob.Expect(t, wait, " 318 ")
		// Without the password, the same address is refused.
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(harness.InspIRCdPassFrom)}}
		c, err := d.Dial("tcp", ircd.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(wait))
		fmt.Fprintf(c, "PASS wrong\r\nNICK mallory\r\nUSER m 0 * :m\r\n")
		r := bufio.NewReader(c)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("no ERROR for a wrong server password: %v", err)
			}
			if strings.Contains(l, " 001 ") {
				t.Fatalf("a wrong server password was let in: %q", l)
			}
			if strings.HasPrefix(l, "ERROR") {
				break
			}
		}
	})

	t.Run("echo-message", func(t *testing.T) {
		alice.Send(t, "<message type='groupchat' id='e1' to='"+room+"'><body>echo me</body>"+
			"<origin-id xmlns='"+nsSID+"' id='orig-e1'/></message>")
		bob.Expect(t, wait, "PRIVMSG #v3 :echo me")
		refl := alice.Expect(t, wait, harness.All(harness.Message(room+"/alice"), harness.ID("e1")))
		if refl.ChildText("body") != "echo me" || refl.Type() != "groupchat" {
			t.Errorf("reflection: %s", refl)
		}
		if o := refl.ChildNS(nsSID, "origin-id"); o == nil || o.Attr("id") != "orig-e1" {
			t.Errorf("reflection lacks origin-id orig-e1: %s", refl)
		}
		// A later line from bob is a barrier: by the time it arrives, a
		// second reflection (one sent at once plus the echo) would be too.
		bob.Send(t, "PRIVMSG #v3 :barrier")
		alice.Expect(t, wait, harness.All(harness.Message(room+"/bob"), harness.Body("barrier")))
		if n := len(alice.Received(harness.All(harness.Message(room+"/alice"), harness.ID("e1")))); n != 1 {
			t.Errorf("want exactly one reflection of e1, got %d", n)
		}
	})

	t.Run("server-time", func(t *testing.T) {
		before := time.Now().Add(-5 * time.Second)
		bob.Send(t, "PRIVMSG #v3 :stamped")
		m := alice.Expect(t, wait, harness.All(harness.Message(room+"/bob"), harness.Body("stamped")))
		after := time.Now().Add(5 * time.Second)
		d := m.ChildNS(nsDelay, "delay")
		if d == nil {
			t.Fatalf("a line with a server-time tag has no delay: %s", m)
		}
		if from := d.Attr("from"); !strings.Contains(from, "127.0.0.1") || !strings.HasSuffix(from, "@"+ircDomain) {
			t.Errorf("delay from %q: want the IRC server's JID", from)
		}
		stamp, err := time.Parse(time.RFC3339, d.Attr("stamp"))
		if err != nil || stamp.Before(before) || stamp.After(after) {
			t.Errorf("delay stamp %q (%v): want the server's time, near now", d.Attr("stamp"), err)
		}
	})
}
