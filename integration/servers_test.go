package integration

import (
	"errors"
	"testing"
	"time"

	"xgate/integration/harness"
)

// TestServers checks the harness itself against each real server, without
// xgate: both listeners come up on free ports; a c2s client logs in with the
// resource it asked for and chats with a user of the second virtual host; the
// XEP-0114 handshake (RECIPES Appendix A, in Go) is accepted with the right
// secret and refused with a wrong one; a connected component is listed in the
// server's disco#items; a second connection for the same domain is refused by
// Prosody and accepted by ejabberd (docs/prosody.md, docs/ejabberd.md); a
// graceful and a SIGKILL restart on the same ports keep the accounts.
func TestServers(t *testing.T) {
	for _, kind := range harness.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			comp := harness.Component{Domain: "sms.localhost", Secret: "s3cret-" + string(kind)}
			deep := harness.Component{Domain: "sms.gw.localhost", Secret: "deep-s3cret-" + string(kind)}
			srv := harness.StartServer(t, kind, harness.ServerOptions{
				ExtraHosts: []string{"other.localhost"},
				Components: []harness.Component{comp, deep},
			})
			srv.RegisterAll(t, harness.Account{User: "alice", Pass: "alicepass"},
				harness.Account{User: "bob@other.localhost", Pass: `bob "quoted" \ pass`})

			t.Run("handshake", func(t *testing.T) {
				if err := harness.Handshake(srv.ComponentAddr, comp.Domain, comp.Secret); err != nil {
					t.Fatalf("handshake with the right secret: %v", err)
				}
				err := harness.Handshake(srv.ComponentAddr, comp.Domain, "wrong")
				var se *harness.StreamError
				if !errors.As(err, &se) || se.Condition != "not-authorized" {
					t.Fatalf("handshake with a wrong secret: got %v, want stream error not-authorized", err)
				}
			})

			t.Run("second connection", func(t *testing.T) {
				first, err := harness.DialComponent(srv.ComponentAddr, comp.Domain, comp.Secret)
				if err != nil {
					t.Fatalf("first connection: %v", err)
				}
				defer first.Close()
				second, err := harness.DialComponent(srv.ComponentAddr, comp.Domain, comp.Secret)
				switch kind {
				case harness.Prosody:
					var se *harness.StreamError
					if !errors.As(err, &se) || se.Condition != "conflict" {
						t.Fatalf("prosody, second connection: got %v, want stream error conflict", err)
					}
				case harness.Ejabberd:
					if err != nil {
						t.Fatalf("ejabberd, second connection: %v", err)
					}
					second.Close()
				}
			})

			t.Run("c2s", func(t *testing.T) {
				alice := harness.Login(t, srv, "alice", "alicepass", "desk")
				bob := harness.Login(t, srv, "bob@other.localhost", `bob "quoted" \ pass`, "")
				if alice.JID != "alice@localhost/desk" {
					t.Errorf("alice bound as %q, want alice@localhost/desk", alice.JID)
				}
				bob.SendMessage(t, alice.Bare, "hello across hosts")
				m := alice.Expect(t, harness.DefaultTimeout, harness.All(harness.Message(bob.Bare), harness.Body("hello across hosts")))
				if m.Type() != "chat" || m.To() != alice.Bare {
					t.Errorf("message arrived as %s", m)
				}

				// Connected components are listed in the server's disco#items:
				// by both servers for a direct subdomain, only by ejabberd for
				// a deeper one (docs/prosody.md says so).
				for _, c := range []harness.Component{comp, deep} {
					conn, err := harness.DialComponent(srv.ComponentAddr, c.Domain, c.Secret)
					if err != nil {
						t.Fatalf("component %s: %v", c.Domain, err)
					}
					defer conn.Close()
				}
				items := alice.IQ(t, "<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
				listed := map[string]bool{}
				for _, it := range items.FindAll("item") {
					listed[it.Attr("jid")] = true
				}
				wantDeep := kind == harness.Ejabberd
				if items.Type() != "result" || !listed[comp.Domain] || listed[deep.Domain] != wantDeep {
					t.Errorf("disco#items of the server: want %s listed, %s listed=%v; got %s", comp.Domain, deep.Domain, wantDeep, items)
				}
			})

			t.Run("restart", func(t *testing.T) {
				alice := harness.Login(t, srv, "alice", "alicepass", "")
				srv.Stop(t)
				select {
				case <-alice.Done():
				case <-time.After(5 * time.Second):
					t.Errorf("client stream still open 5 s after the server stopped")
				}
				srv.Start(t)
				harness.Login(t, srv, "alice", "alicepass", "").Close(t)

				srv.Kill(t)
				srv.Start(t)
				harness.Login(t, srv, "alice", "alicepass", "")
				if err := harness.Handshake(srv.ComponentAddr, comp.Domain, comp.Secret); err != nil {
					t.Fatalf("handshake after restart: %v", err)
				}
			})
		})
	}
}
