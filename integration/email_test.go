package integration

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"xgate/integration/harness"
)

const (
	mailGWDomain = "mail.localhost" // the email transport's component (and mail) domain
	bobMailPass  = "bobpass"
)

// emailEnv is Prosody with the email component, Postfix and Dovecot (bob's
// mailbox at example.test; mail.localhost relayed to xgate's listener), and
// xgate with the email transport (quiet period 1s, relay = Postfix).
type emailEnv struct {
	srv  *harness.XMPPServer
	mail *harness.Mail
	xg   *harness.Xgate
}

// emailEnvOptions vary newEmailEnv: IMAP replaces the inbound listener by an
// IMAP watcher of the catch-all mailbox catchall@example.test.
type emailEnvOptions struct {
	IMAP bool
}

const catchallPass = "catchpass"

func newEmailEnv(t *testing.T, opts emailEnvOptions) *emailEnv {
	t.Helper()
	secret := "comp-email-s3cret"
	e := &emailEnv{}
	e.srv = harness.StartProsody(t, harness.ProsodyOptions{ServerOptions: harness.ServerOptions{
		Components: []harness.Component{{Domain: mailGWDomain, Secret: secret}},
	}})
	e.srv.RegisterAll(t, harness.Account{User: "alice", Pass: alicePass})
	listen := harness.Addr(harness.FreePort(t))
	mo := harness.MailOptions{
		Users:         map[string]string{"bob": bobMailPass},
		GatewayDomain: mailGWDomain, GatewayAddr: listen,
	}
	if opts.IMAP {
		mo = harness.MailOptions{Users: map[string]string{"bob": bobMailPass, "catchall": catchallPass}}
	}
	e.mail = harness.StartMail(t, mo)
	cfg := harness.NewXgateConfig(t, e.srv)
	inbound := fmt.Sprintf("    listen: %s\n", listen)
	if opts.IMAP {
		inbound = fmt.Sprintf("    imap_addr: %s\n    imap_tls: none\n    imap_username: %s\n    imap_password: %s\n    unknown_senders: anyone\n",
			e.mail.IMAPAddr, e.mail.Address("catchall"), catchallPass)
	}
	cfg.ExtraTransports = fmt.Sprintf("  email:\n    domain: %s\n    secret: %s\n    relay: %s\n    relay_tls: none\n    digest_quiet: 1s\n%s",
		mailGWDomain, secret, e.mail.SMTPAddr, inbound)
	e.xg = harness.StartXgate(t, cfg.YAML())
	e.xg.WaitHealthy(t, healthyAfter)
	return e
}

// digest is a mail read back from bob's mailbox.
type digest struct {
	header mail.Header
	plain  string
	html   string
}

func readDigest(t *testing.T, raw []byte) digest {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("digest does not parse: %v\n%s", err, raw)
	}
	d := digest{header: r.Header}
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("digest part: %v", err)
		}
		ct, _, _ := p.Header.(*mail.InlineHeader).ContentType()
		b, _ := io.ReadAll(p.Body)
		switch ct {
		case "text/plain":
			d.plain = string(b)
		case "text/html":
			d.html = string(b)
		}
	}
	return d
}

// TestEmail: five chats become one digest in bob's real mailbox; bob's reply
// through Postfix comes back as chat in the same thread without the quote; a
// recipient the relay refuses (5xx) comes back to the sender as an error with
// the server's text.
func TestEmail(t *testing.T) {
	t.Parallel()
	e := newEmailEnv(t, emailEnvOptions{})
	alice := harness.Login(t, e.srv, "alice", alicePass, "")
	bob := `bob\40example.test@` + mailGWDomain
	const thread = "thread-email-1"

	for i := 1; i <= 5; i++ {
		alice.Send(t, fmt.Sprintf("<message type='chat' to='%s' id='d%d'><body>digest line %d</body><thread>%s</thread></message>",
			bob, i, i, thread))
	}
	got := e.mail.WaitInbox(t, "bob", bobMailPass, 1, 30*time.Second)
	d := readDigest(t, got[0].Raw)
	for i := 1; i <= 5; i++ {
		line := fmt.Sprintf("digest line %d", i)
		if !strings.Contains(d.plain, line) || !strings.Contains(d.html, line) {
			t.Errorf("digest lacks %q in its text or html part:\n%s\n%s", line, d.plain, d.html)
		}
	}
	from, _ := d.header.AddressList("From")
	replyTo, _ := d.header.AddressList("Reply-To")
	to, _ := d.header.AddressList("To")
	msgID, _ := d.header.MessageID()
	subject, _ := d.header.Subject()
	if len(from) != 1 || from[0].Name != "alice (XMPP)" || !strings.HasSuffix(from[0].Address, "@"+mailGWDomain) ||
		strings.Contains(from[0].Address, "alice") {
		t.Errorf("From = %v; want \"alice (XMPP)\" <opaque@%s>", from, mailGWDomain)
	}
	if len(replyTo) != 1 || len(from) != 1 || replyTo[0].Address != from[0].Address {
		t.Errorf("Reply-To = %v; want the From address", replyTo)
	}
	if len(to) != 1 || to[0].Address != "bob@example.test" || msgID == "" || subject != "Messages from "+alice.Bare {
		t.Errorf("To %v, Message-ID %q, Subject %q", to, msgID, subject)
	}
	if len(from) == 0 {
		t.FailNow()
	}

	t.Run("reply", func(t *testing.T) {
		e.mail.Submit(t, "bob@example.test", []string{from[0].Address}, fmt.Sprintf(`From: Bob <bob@example.test>
To: %s
Subject: Re: %s
Message-ID: <reply-1@example.test>
In-Reply-To: <%s>
References: <%s>
Content-Type: text/plain; charset=utf-8

Thanks Alice, got all five.

On Wed, 25 Nov 2026 10:00, alice (XMPP) <%s> wrote:
> digest line 1
> digest line 2

-- 
Bob
`, from[0].Address, subject, msgID, msgID, from[0].Address))
		m := alice.Expect(t, 30*time.Second, harness.Message(bob))
		if body := m.ChildText("body"); body != "Thanks Alice, got all five." {
			t.Errorf("reply body = %q; want the reply without quote and signature", body)
		}
		if th := m.ChildText("thread"); th != thread {
			t.Errorf("reply thread = %q; want %q", th, thread)
		}
	})

	t.Run("refused recipient", func(t *testing.T) {
		// Postfix refuses to relay elsewhere.test: 554 5.7.1 at RCPT.
		alice.Send(t, fmt.Sprintf("<message type='chat' to='nosuch\\40elsewhere.test@%s' id='bad1'><body>hello?</body></message>", mailGWDomain))
		m := alice.Expect(t, 30*time.Second, harness.All(harness.Name("message"), harness.ID("bad1"), harness.Type("error")))
		cond, text := m.ErrorCondition()
		if cond == "" || !strings.Contains(text, "nosuch@elsewhere.test") || !strings.Contains(text, "Relay access denied") {
			t.Errorf("error = %s %q; want the recipient and the server's reply", cond, text)
		}
	})

	// Still exactly one digest for bob.
	if inbox, err := e.mail.Inbox("bob", bobMailPass); err != nil || len(inbox) != 1 {
		t.Errorf("bob's INBOX: %d messages, %v; want exactly the one digest", len(inbox), err)
	}
}
