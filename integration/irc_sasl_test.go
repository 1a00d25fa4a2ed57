package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xgate/integration/harness"
)

// TestIRCSASL logs in to a real SASL-capable IRC network (InspIRCd with
// Atheme services) with the SASL PLAIN credentials a real XMPP user gave in
// the IRC registration form: a wrong password is a clear join error, the
// right one makes the user "logged in as" the account on IRC, and the stored
// credentials, sealed in the store with transports.irc.secrets_key, still
// work after xgate restarts.
func TestIRCSASL(t *testing.T) {
	ircd := harness.StartInspIRCd(t)
	const account, accountPass = "alicea", "irc-acct-pass"
	ircd.RegisterAccount(t, account, accountPass)

	xg, alice := startSealedIRCGateway(t, ircd.Port, "        plaintext: true\n")
	bob := harness.DialIRC(t, ircd.Addr, "bob")
	const wait = 10 * time.Second
	room := "#sasl%127.0.0.1@" + ircDomain

	register := func(t *testing.T, pass string) {
		t.Helper()
		r := alice.IQ(t, "<iq type='set' to='"+ircDomain+"'><query xmlns='"+nsRegister+"'>"+
			"<x xmlns='"+nsData+"' type='submit'>"+
			"<field var='FORM_TYPE'><value>"+nsRegister+"</value></field>"+
			"<field var='network'><value>127.0.0.1</value></field>"+
			"<field var='sasl_account'><value>"+account+"</value></field>"+
			"<field var='sasl_password'><value>"+pass+"</value></field>"+
			"</x></query></iq>")
		if r.Type() != "result" {
			t.Fatalf("IRC registration: %s", r)
		}
	}
	join := func(t *testing.T) {
		t.Helper()
		alice.Send(t, "<presence to='"+room+"/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
		self := alice.Expect(t, 20*time.Second, harness.Presence(room+"/alice", ""))
		wantCodes(t, self, "110")
	}
	// loggedIn asks the server who alice is and wants the 330 numeric
	// naming the SASL account.
	loggedIn := func(t *testing.T) {
		t.Helper()
		bob.Send(t, "WHOIS alice")
		line, ok := bob.Next(wait, func(l string) bool { return strings.Contains(l, " 330 ") || strings.Contains(l, " 318 ") })
		if !ok || !strings.Contains(line, " 330 bob alice "+account+" ") {
			t.Fatalf("WHOIS alice: want 330 (logged in as %s), got %q", account, line)
		}
		bob.Expect(t, wait, " 318 ") // the end of this WHOIS, before the next
	}

	t.Run("form", func(t *testing.T) {
		q := alice.IQ(t, "<iq type='get' to='"+ircDomain+"'><query xmlns='"+nsRegister+"'/></iq>")
		x := q.ChildNS(nsRegister, "query").ChildNS(nsData, "x")
		fields := map[string]string{}
		for _, f := range x.ChildrenNamed("field") {
			fields[f.Attr("var")] = f.Attr("type")
		}
		if _, ok := fields["network"]; !ok || fields["sasl_password"] != "text-private" {
			t.Fatalf("IRC registration form fields %v: want network and a text-private sasl_password", fields)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		register(t, "not-the-password")
		alice.Send(t, "<presence to='"+room+"/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
		p := alice.Expect(t, 20*time.Second, harness.Presence(room+"/alice", "error"))
		cond, txt := p.ErrorCondition()
		if cond != "not-authorized" {
			t.Errorf("SASL failure: want a not-authorized join error, got %s", p)
		}
		if !strings.Contains(txt, "SASL") || !strings.Contains(txt, account) {
			t.Errorf("SASL failure text %q should say SASL and name the account", txt)
		}
		if strings.Contains(p.String(), "not-the-password") {
			t.Errorf("the error shows the password: %s", p)
		}
	})

	t.Run("logged in", func(t *testing.T) {
		register(t, accountPass)
		join(t)
		loggedIn(t)
	})

	t.Run("sealed at rest", func(t *testing.T) {
		files, _ := filepath.Glob(filepath.Join(xg.Dir, "xgate.db*"))
		if len(files) == 0 {
			t.Fatalf("no store in %s", xg.Dir)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(accountPass)) || bytes.Contains(b, []byte("not-the-password")) {
				t.Errorf("%s holds a SASL password in clear", f)
			}
		}
		if strings.Contains(xg.Logs(), accountPass) {
			t.Errorf("xgate's log shows the SASL password")
		}
	})

	t.Run("after restart", func(t *testing.T) {
		xg.Restart(t)
		xg.WaitHealthy(t, healthyAfter)
		// The restart quit IRC; alice joins again and xgate logs in with the
		// credentials it restored from the store.
		join(t)
		loggedIn(t)
	})

	// leave takes alice out of the room (xgate quits the network) and
	// waits until the server has forgotten her nick.
	leave := func(t *testing.T) {
		t.Helper()
		alice.Send(t, "<presence type='unavailable' to='"+room+"/alice'/>")
		alice.Expect(t, wait, harness.Presence(room+"/alice", "unavailable"))
		deadline := time.Now().Add(wait)
		for {
			bob.Send(t, "WHOIS alice")
			line, _ := bob.Next(wait, func(l string) bool { return strings.Contains(l, " 401 ") || strings.Contains(l, " 318 ") })
			if strings.Contains(line, " 401 ") {
				bob.Expect(t, wait, " 318 ")
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("alice is still on IRC after leaving: %q", line)
			}
			time.Sleep(100 * time.Millisecond) // polling the IRC server
		}
	}

	t.Run("ad-hoc configure", func(t *testing.T) {
		leave(t)
		// Forget the credentials: the next connection is anonymous.
		runCommand(t, alice, ircDomain, "irc-configure-network",
			map[string]string{"network": "127.0.0.1"},
			map[string]string{"forget_passwords": "1", "sasl_account": ""})
		join(t)
		bob.Send(t, "WHOIS alice")
		line, ok := bob.Next(wait, func(l string) bool { return strings.Contains(l, " 330 ") || strings.Contains(l, " 318 ") })
		if !ok || strings.Contains(line, " 330 ") {
			t.Fatalf("after forgetting the credentials, WHOIS alice: %q (want no 330)", line)
		}
		leave(t)
		// Set them with the ad-hoc command: logged in again.
		cmd := runCommand(t, alice, ircDomain, "irc-configure-network",
			map[string]string{"network": "127.0.0.1"},
			map[string]string{"sasl_account": account, "sasl_password": accountPass, "realname": "Alice via ad-hoc"})
		if note := cmd.ChildText("note"); !strings.Contains(note, "127.0.0.1") {
			t.Errorf("note %q", note)
		}
		join(t)
		loggedIn(t)
		bob.Send(t, "WHOIS alice")
		if l := bob.Expect(t, wait, " 311 "); !strings.HasSuffix(l, ":Alice via ad-hoc") {
			t.Errorf("real name: %q", l)
		}
		bob.Expect(t, wait, " 318 ")
		files, _ := filepath.Glob(filepath.Join(xg.Dir, "xgate.db*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(accountPass)) {
				t.Errorf("%s holds the SASL password set by ad-hoc in clear", f)
			}
		}
	})
}

// startSealedIRCGateway is startIRCGateway on Prosody with alice and a
// secrets key; it returns xgate and alice logged in.
func startSealedIRCGateway(t *testing.T, port int, network string) (*harness.Xgate, *harness.Client) {
	t.Helper()
	srv, xg := startIRCGateway(t, harness.Prosody, port, network, "    secrets_key: "+strings.Repeat("5a", 32)+"\n",
		harness.Account{User: "alice", Pass: alicePass})
	return xg, harness.Login(t, srv, "alice", alicePass, "phone")
}
