package email

import (
	"context"
	"fmt"
	"net/smtp"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"xgate/store"
	"xgate/transports"
)

func TestDue(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := Settings{Quiet: 5 * time.Minute, MaxAge: time.Hour, MaxMessages: 50}
	tests := []struct {
		name string
		g    store.DigestGroup
		s    Settings
		want bool
	}{
		{"recent", store.DigestGroup{Count: 2, Oldest: now.Add(-time.Minute), Newest: now.Add(-time.Second)}, s, false},
		{"quiet long enough", store.DigestGroup{Count: 2, Oldest: now.Add(-6 * time.Minute), Newest: now.Add(-5 * time.Minute)}, s, true},
		{"busy but old", store.DigestGroup{Count: 40, Oldest: now.Add(-time.Hour), Newest: now}, s, true},
		{"full", store.DigestGroup{Count: 50, Oldest: now, Newest: now}, s, true},
		{"immediate", store.DigestGroup{Count: 1, Oldest: now, Newest: now}, s.WithQuiet(0), true},
	}
	for _, tt := range tests {
		if got := due(tt.g, tt.s, now); got != tt.want {
			t.Errorf("%s: due = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// runTransport runs tr with up until the test ends.
func runTransport(t *testing.T, tr *Transport, up transports.Uplink) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx, up) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func chat(user, peer, id, body string) transports.Message {
	return transports.Message{ID: id, From: user + "/res", To: peer + "@mail.gw.test", Type: "chat", Body: body, Thread: "th-1", Stamp: time.Now()}
}

// TestDigests runs the outbound path against an in-process relay: a burst
// becomes one email; a 5xx fails every message back to the sender with the
// server's reply; a 4xx is retried.
func TestDigests(t *testing.T) {
	st := openStore(t)
	r := startRelay(t)
	up := newFakeUplink()
	tr := newTransport(t, st, Config{Relay: r.addr, RelayTLS: TLSNone, RetryMin: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond,
		Defaults: Settings{MaxAge: time.Hour, MaxMessages: 50}.WithQuiet(300 * time.Millisecond)})
	runTransport(t, tr, up)
	ctx := context.Background()
	const alice = "alice@example.org"

	t.Run("burst", func(t *testing.T) {
		for i := 1; i <= 5; i++ {
			if err := tr.Deliver(ctx, chat(alice, `bob\40example.org`, fmt.Sprint("m", i), fmt.Sprintf("line %d", i))); err != nil {
				t.Fatal(err)
			}
		}
		m := waitFor(t, r.mail, "the digest")
		for i := 1; i <= 5; i++ {
			if !strings.Contains(string(m.data), fmt.Sprintf("line %d", i)) {
				t.Errorf("digest lacks line %d:\n%s", i, m.data)
			}
		}
		if m.to != "bob@example.org" || !strings.HasSuffix(m.from, "@mail.gw.test") || strings.Contains(m.from, "alice") {
			t.Errorf("envelope %s -> %s; want the opaque routing address -> bob@example.org", m.from, m.to)
		}
		for _, h := range []string{"Reply-To: ", "Message-Id: <xg.", "Subject: Messages from alice@example.org", "text/html", `"alice (XMPP)"`} {
			if !strings.Contains(string(m.data), h) {
				t.Errorf("digest lacks %q:\n%s", h, m.data)
			}
		}
		if gs, _ := st.DigestGroups(ctx, Name); len(gs) != 0 {
			t.Errorf("buffer not empty after the flush: %+v", gs)
		}
		// The next digest chains to the first.
		first := messageID(string(m.data))
		if err := tr.Deliver(ctx, chat(alice, `bob\40example.org`, "m6", "line 6")); err != nil {
			t.Fatal(err)
		}
		m2 := waitFor(t, r.mail, "the second digest")
		if !strings.Contains(string(m2.data), "In-Reply-To: <"+first+">") {
			t.Errorf("second digest does not reply to %s:\n%s", first, m2.data)
		}
	})

	t.Run("5xx", func(t *testing.T) {
		r.setRcpt(func(to string) error {
			if strings.HasPrefix(to, "nobody@") {
				return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox here"}
			}
			return nil
		})
		defer r.setRcpt(nil)
		for _, id := range []string{"x1", "x2"} {
			if err := tr.Deliver(ctx, chat(alice, `nobody\40example.org`, id, "hi")); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, up.changed, "the first failure")
		waitFor(t, up.changed, "the second failure")
		_, failed := up.snapshot()
		if len(failed) != 2 || failed[0].m.ID != "x1" || failed[1].m.ID != "x2" {
			t.Fatalf("failures = %+v; want x1 and x2", failed)
		}
		cond, text := transports.ErrorOf(failed[0].err)
		if cond != "recipient-unavailable" || !strings.Contains(text, "nobody@example.org") || !strings.Contains(text, "550 5.1.1 no such mailbox here") {
			t.Errorf("error = %s %q; want the recipient and the server's reply", cond, text)
		}
	})

	t.Run("4xx retried", func(t *testing.T) {
		tries := 0
		r.setRcpt(func(to string) error {
			tries++
			if tries == 1 {
				return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try later"}
			}
			return nil
		})
		defer r.setRcpt(nil)
		if err := tr.Deliver(ctx, chat(alice, `carol\40example.org`, "c1", "retry me")); err != nil {
			t.Fatal(err)
		}
		m := waitFor(t, r.mail, "the retried digest")
		if m.to != "carol@example.org" || tries != 2 {
			t.Errorf("delivered to %s after %d tries; want carol after 2", m.to, tries)
		}
	})
}

func messageID(raw string) string {
	for _, l := range strings.Split(raw, "\r\n") {
		if v, ok := strings.CutPrefix(l, "Message-Id: <"); ok {
			return strings.TrimSuffix(v, ">")
		}
	}
	return ""
}

// TestSealIsAtomic: a restart between buffering and sending neither loses
// nor repeats a digest (the sealed digest is in the outbox, the buffer empty).
func TestSealIsAtomic(t *testing.T) {
	st := openStore(t)
	clock := &testClock{t: time.Unix(1_800_000_000, 0)}
	tr := newTransport(t, st, Config{Relay: "127.0.0.1:1", RelayTLS: TLSNone, Now: clock.Now,
		Defaults: Settings{MaxAge: time.Hour, MaxMessages: 3}.WithQuiet(5 * time.Minute)})
	ctx := context.Background()
	for i := range 2 {
		m := chat("a@x", `b\40y.org`, fmt.Sprint(i), "hi")
		m.Stamp = clock.Now()
		if err := tr.Deliver(ctx, m); err != nil {
			t.Fatal(err)
		}
		if err := tr.Deliver(ctx, m); err != nil { // a redelivered outbox item
			t.Fatal(err)
		}
	}
	if err := tr.FlushDue(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Outbox().Depth(ctx, DigestQueue); n != 0 {
		t.Fatalf("sealed before the quiet period: depth %d", n)
	}
	clock.Add(5 * time.Minute)
	// "Restart": a second transport on the same store flushes.
	tr2 := newTransport(t, st, Config{Relay: "127.0.0.1:1", RelayTLS: TLSNone, Now: clock.Now,
		Defaults: Settings{MaxAge: time.Hour, MaxMessages: 3}.WithQuiet(5 * time.Minute)})
	if err := tr2.FlushDue(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tr.FlushDue(ctx); err != nil {
		t.Fatal(err)
	}
	items, err := st.Outbox().Claim(ctx, DigestQueue, "w", clock.Now(), time.Minute, 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("outbox = %d items, %v; want exactly one digest", len(items), err)
	}
	d, _ := decodeSealed(items[0].Payload)
	if len(d.Messages) != 2 {
		t.Errorf("digest has %d messages; want 2 (duplicates dropped)", len(d.Messages))
	}
	if gs, _ := st.DigestGroups(ctx, Name); len(gs) != 0 {
		t.Errorf("buffer after seal: %+v", gs)
	}
}

// TestInbound drives the listener with a real SMTP client.
func TestInbound(t *testing.T) {
	st := openStore(t)
	up := newFakeUplink()
	tr := newTransport(t, st, Config{Relay: "127.0.0.1:1", RelayTLS: TLSNone, Listen: "127.0.0.1:0", MaxMessageSize: 4096})
	runTransport(t, tr, up)
	ctx := context.Background()
	const alice = "alice@example.org"
	tok, err := st.RouteToken(ctx, Name, alice, "xtokenalice")
	if err != nil {
		t.Fatal(err)
	}
	rcpt := tok + "@mail.gw.test"
	if err := st.PutContact(ctx, store.Contact{Transport: Name, User: alice, Remote: `bob\40example.org`}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutIDMapping(ctx, store.IDMapping{Transport: Name, User: alice, StanzaID: "s1", RemoteID: "xg.abc@mail.gw.test",
		Peer: `bob\40example.org`, Payload: []byte(`{"thread":"th-9"}`)}); err != nil {
		t.Fatal(err)
	}
	var addr string
	for deadline := time.Now().Add(5 * time.Second); addr == "" && time.Now().Before(deadline); {
		addr = tr.ListenAddr()
		if addr == "" {
			time.Sleep(10 * time.Millisecond) // polling for the listener to open
		}
	}
	send := func(from, to, raw string) error {
		return smtp.SendMail(addr, nil, from, []string{to}, []byte(strings.ReplaceAll(raw, "\n", "\r\n")))
	}
	code := func(err error) string {
		if err == nil {
			return "250"
		}
		s := err.Error()
		if len(s) >= 3 {
			return s[:3]
		}
		return s
	}
	tests := []struct {
		name     string
		from, to string
		raw      string
		wantCode string
		wantBody string // "" : nothing delivered
		thread   string
		fromJID  string
	}{
		{"reply", "bob@example.org", rcpt, "From: Bob <bob@example.org>\nMessage-ID: <r1@example.org>\nIn-Reply-To: <xg.abc@mail.gw.test>\nSubject: Re: hi\n\nSure!\n\nOn Mon, 1 Jan 2026, alice wrote:\n> hi\n", "250",
			"Sure!", "th-9", `bob\40example.org@mail.gw.test`},
		{"unknown recipient", "bob@example.org", "nobody@mail.gw.test", "From: bob@example.org\n\nx\n", "550", "", "", ""},
		{"foreign domain", "bob@example.org", "x@elsewhere.test", "From: bob@example.org\n\nx\n", "550", "", "", ""},
		{"unknown sender", "eve@example.org", rcpt, "From: eve@example.org\nMessage-ID: <e1@example.org>\n\nbuy\n", "550",
			"eve@example.org sent you an email", "", `eve\40example.org@mail.gw.test`},
		{"too large", "bob@example.org", rcpt, "From: bob@example.org\n\n" + strings.Repeat("xxxxxxxxxxxxxxxxxxx\n", 300), "552", "", "", ""},
		{"auto-submitted", "bob@example.org", rcpt, "From: bob@example.org\nAuto-Submitted: auto-replied\nMessage-ID: <a1@example.org>\n\nI am away\n", "250", "", "", ""},
		{"our own message id", "bob@example.org", rcpt, "From: bob@example.org\nMessage-ID: <xg.loop@mail.gw.test>\n\nloop\n", "250", "", "", ""},
		{"bounce", "", rcpt, "From: MAILER-DAEMON@example.org\nMessage-ID: <b1@example.org>\nContent-Type: multipart/report; report-type=delivery-status; boundary=XX\n\n--XX\nContent-Type: text/plain\n\nfailed\n--XX\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; carol@example.org\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <carol@example.org>: User unknown\n--XX--\n", "250",
			"Your email to carol@example.org could not be delivered: 550 5.1.1 <carol@example.org>: User unknown", "", `carol\40example.org@mail.gw.test`},
	}
	for _, tt := range tests {
		before, _ := up.snapshot()
		err := send(tt.from, tt.to, tt.raw)
		if got := code(err); got != tt.wantCode {
			t.Errorf("%s: answer %s (%v); want %s", tt.name, got, err, tt.wantCode)
			continue
		}
		after, _ := up.snapshot()
		if tt.wantBody == "" {
			if len(after) != len(before) {
				t.Errorf("%s: delivered %+v; want nothing", tt.name, after[len(before):])
			}
			continue
		}
		if len(after) != len(before)+1 {
			t.Errorf("%s: %d messages delivered; want 1", tt.name, len(after)-len(before))
			continue
		}
		m := after[len(after)-1]
		if !strings.Contains(m.Body, tt.wantBody) || m.Thread != tt.thread || m.From != tt.fromJID || m.To != alice {
			t.Errorf("%s: delivered %+v; want body %q thread %q from %s", tt.name, m, tt.wantBody, tt.thread, tt.fromJID)
		}
		if tt.name == "reply" && m.Body != "Sure!" {
			t.Errorf("reply body %q; want only the new text", m.Body)
		}
	}
}
