package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"xgate/integration/harness"
)

// TestEmailIMAP: with the IMAP watcher on a catch-all mailbox (Dovecot), a
// mail appended to the catch-all reaches the XMPP client within 2 s (IDLE);
// after an xgate restart nothing is delivered twice. Then the relay (Postfix)
// goes down for a while: the digest waits, and exactly one goes out once
// Postfix is back.
func TestEmailIMAP(t *testing.T) {
	t.Parallel()
	e := newEmailEnv(t, emailEnvOptions{IMAP: true})
	alice := harness.Login(t, e.srv, "alice", alicePass, "")
	bob := `bob\40example.test@` + mailGWDomain
	fromBob := harness.All(harness.Name("message"), harness.Type("chat"), harness.From(bob))

	// alice writes first: bob gets a digest, whose From is alice's routing
	// address (the address bob's replies go to, i.e. the catch-all).
	alice.Send(t, fmt.Sprintf("<message type='chat' to='%s' id='i1'><body>hello over imap</body></message>", bob))
	got := e.mail.WaitInbox(t, "bob", bobMailPass, 1, 30*time.Second)
	d := readDigest(t, got[0].Raw)
	from, _ := d.header.AddressList("From")
	if len(from) != 1 {
		t.Fatalf("digest From = %v", from)
	}
	route := from[0].Address
	reply := func(n int) string {
		return fmt.Sprintf("From: Bob <bob@example.test>\nTo: %s\nSubject: Re: hi\nMessage-ID: <imap-reply-%d@example.test>\nContent-Type: text/plain; charset=utf-8\n\nimap reply %d\n",
			route, n, n)
	}

	start := time.Now()
	if err := e.mail.Append("catchall", catchallPass, "INBOX", reply(1)); err != nil {
		t.Fatalf("append: %v", err)
	}
	m := alice.Expect(t, 2*time.Second, fromBob)
	if body := m.ChildText("body"); body != "imap reply 1" {
		t.Errorf("body = %q", body)
	}
	t.Logf("IMAP mail reached the client after %v", time.Since(start).Round(time.Millisecond))

	e.xg.Restart(t)
	e.xg.WaitHealthy(t, healthyAfter)
	if err := e.mail.Append("catchall", catchallPass, "INBOX", reply(2)); err != nil {
		t.Fatalf("append: %v", err)
	}
	m = alice.Expect(t, 10*time.Second, fromBob)
	if body := m.ChildText("body"); body != "imap reply 2" {
		t.Errorf("after restart: body = %q; want reply 2 (reply 1 delivered again?)", body)
	}
	// The watcher handles the catch-all in UID order: a second delivery of
	// reply 1 would have come before reply 2.
	if all := alice.Received(fromBob); len(all) != 2 {
		var bodies []string
		for _, el := range all {
			bodies = append(bodies, el.ChildText("body"))
		}
		t.Errorf("alice received %d messages from bob: %q; want each reply once", len(all), bodies)
	}

	t.Run("relay down", func(t *testing.T) {
		e.mail.StopPostfix(t)
		for i := 1; i <= 3; i++ {
			alice.Send(t, fmt.Sprintf("<message type='chat' to='%s' id='down%d'><body>while the relay is down %d</body></message>", bob, i, i))
		}
		// The digest is sealed after the 1 s quiet period and its submission
		// fails: wait until xgate has tried twice, keeping the relay down.
		// XGATE_EMAIL_RELAY_DOWN (a duration, e.g. 2m) keeps the relay down at
		// least that long: the two-minute outage, run by hand; the
		// default is as short as two failed attempts.
		down, _ := time.ParseDuration(os.Getenv("XGATE_EMAIL_RELAY_DOWN"))
		stopped := time.Now()
		harness.Eventually(t, down+30*time.Second, "two failed submissions", func() (bool, string) {
			n := strings.Count(e.xg.Logs(), "digest not sent")
			return n >= 2 && time.Since(stopped) >= down, fmt.Sprintf("%d failed submissions in %v", n, time.Since(stopped).Round(time.Second))
		})
		t.Logf("relay down for %v, %d failed submissions", time.Since(stopped).Round(time.Second), strings.Count(e.xg.Logs(), "digest not sent"))
		if inbox, err := e.mail.Inbox("bob", bobMailPass); err != nil || len(inbox) != 1 {
			t.Fatalf("bob's INBOX while the relay is down: %d messages, %v; want 1", len(inbox), err)
		}
		e.mail.StartPostfix(t)
		got := e.mail.WaitInbox(t, "bob", bobMailPass, 2, 30*time.Second)
		d := readDigest(t, got[1].Raw)
		for i := 1; i <= 3; i++ {
			if line := fmt.Sprintf("while the relay is down %d", i); !strings.Contains(d.plain, line) {
				t.Errorf("the digest lacks %q:\n%s", line, d.plain)
			}
		}
		// One more chat and its digest: the outbox is ordered per
		// conversation, so a second copy of the delayed digest would be in
		// bob's INBOX before this one.
		alice.Send(t, fmt.Sprintf("<message type='chat' to='%s' id='after'><body>relay is back</body></message>", bob))
		got = e.mail.WaitInbox(t, "bob", bobMailPass, 3, 30*time.Second)
		if len(got) != 3 || !strings.Contains(readDigest(t, got[2].Raw).plain, "relay is back") {
			t.Errorf("bob's INBOX holds %d messages; want 3 (first, delayed, last digest), the last with \"relay is back\"", len(got))
		}
	})
}
