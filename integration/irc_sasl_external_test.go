package integration

import (
	"strings"
	"testing"
	"time"

	"xgate/integration/harness"
)

// TestIRCSASLExternal logs in with SASL EXTERNAL over TLS to a real
// InspIRCd with Atheme: alice picks EXTERNAL with the ad-hoc command, xgate
// makes her a client certificate and shows its fingerprint; until she adds
// it to her account the join fails with a clear error, then xgate logs in
// with the certificate alone.
func TestIRCSASLExternal(t *testing.T) {
	ircd := harness.StartInspIRCdTLS(t)
	const account, accountPass = "alicex", "irc-acct-pass"
	ircd.RegisterAccount(t, account, accountPass)

	_, alice := startSealedIRCGateway(t, ircd.TLSPort, "        tls_ca_file: "+ircd.CAFile+"\n")
	bob := harness.DialIRC(t, ircd.Addr, "bob")
	const wait = 10 * time.Second
	room := "#certfp%127.0.0.1@" + ircDomain
	joinPresence := "<presence to='" + room + "/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>"

	cmd := runCommand(t, alice, ircDomain, "irc-configure-network",
		map[string]string{"network": "127.0.0.1"},
		map[string]string{"sasl_mechanism": "EXTERNAL"})
	note := cmd.ChildText("note")
	i := strings.Index(note, "CERT ADD ")
	if i < 0 || len(note) < i+9+64 {
		t.Fatalf("no fingerprint in the note: %q", note)
	}
	fp := note[i+9 : i+9+64]

	t.Run("fingerprint not added", func(t *testing.T) {
		alice.Send(t, joinPresence)
		p := alice.Expect(t, 20*time.Second, harness.Presence(room+"/alice", "error"))
		cond, text := p.ErrorCondition()
		if cond != "not-authorized" || !strings.Contains(text, "fingerprint") {
			t.Fatalf("join error %q %q: %s", cond, text, p)
		}
	})

	t.Run("logged in with the certificate", func(t *testing.T) {
		ircd.AddCertFP(t, account, accountPass, fp)
		alice.Send(t, joinPresence)
		self := alice.Expect(t, 20*time.Second, harness.Presence(room+"/alice", ""))
		wantCodes(t, self, "110")
		bob.Send(t, "WHOIS alice")
		var logged, certLine string
		for {
			l, ok := bob.Next(wait, func(l string) bool {
				return strings.Contains(l, " 330 ") || strings.Contains(l, " 276 ") || strings.Contains(l, " 318 ")
			})
			if !ok || strings.Contains(l, " 318 ") {
				break
			}
			if strings.Contains(l, " 330 ") {
				logged = l
			} else {
				certLine = l
			}
		}
		if !strings.Contains(logged, " 330 bob alice "+account+" ") {
			t.Errorf("WHOIS alice: not logged in as %s (330: %q)", account, logged)
		}
		if !strings.Contains(certLine, fp) {
			t.Errorf("WHOIS alice: the server saw another certificate (276: %q, want %s)", certLine, fp)
		}
	})
}
