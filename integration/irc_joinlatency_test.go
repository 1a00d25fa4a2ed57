package integration

import (
	"fmt"
	"testing"
	"time"

	"xgate/integration/harness"
)

// TestIRCJoinLatency: a first join (connection, registration, JOIN,
// NAMES) against ngircd completes well under girc's 2 s wait after 001:
// xgate joins at the end of the MOTD. It logs the time it took.
func TestIRCJoinLatency(t *testing.T) {
	ircd := harness.StartNgircd(t)
	srv := harness.StartServer(t, harness.Prosody, harness.ServerOptions{
		Components: []harness.Component{{Domain: ircDomain, Secret: ircSecret}},
	})
	srv.RegisterAll(t, harness.Account{User: "alice", Pass: alicePass})
	cfg := harness.NewXgateConfig(t, srv)
	cfg.ExtraTransports = fmt.Sprintf("  irc:\n    domain: %s\n    secret: %s\n    networks:\n"+
		"      - host: 127.0.0.1\n        port: %d\n        plaintext: true\n", ircDomain, ircSecret, ircd.Port)
	xg := harness.StartXgate(t, cfg.YAML())
	xg.WaitHealthy(t, healthyAfter)
	alice := harness.Login(t, srv, "alice", alicePass, "phone")
	var took []time.Duration
	for i, ch := range []string{"#lat1", "#lat2"} {
		room := ch + "%127.0.0.1@" + ircDomain
		nick := fmt.Sprint("alice", i) // the previous connection may still hold the last nick
		start := time.Now()
		alice.Send(t, "<presence to='"+room+"/"+nick+"'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
		wantCodes(t, alice.Expect(t, 20*time.Second, harness.Presence(room+"/"+nick, "")), "110")
		took = append(took, time.Since(start))
		if i == 0 {
			// Leave so that the second join connects again.
			alice.Send(t, "<presence type='unavailable' to='"+room+"/"+nick+"'/>")
			alice.Expect(t, 10*time.Second, harness.Presence(room+"/"+nick, "unavailable"))
		}
	}
	t.Logf("first join (connect + register + JOIN) against ngircd: %v, %v", took[0], took[1])
	for _, d := range took {
		if d > 1500*time.Millisecond {
			t.Errorf("a first join took %v: want well under girc's 2 s wait after 001", d)
		}
	}
}
