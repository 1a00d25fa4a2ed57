package main

import (
	"fmt"
	"os"
	"time"

	"xgate/integration/harness"
)

// mailDomain is the demo's email transport domain; it is also the mail domain
// of the routing addresses, which Postfix relays to xgate's listener.
const mailDomain = "mail.localhost"

// startEmail starts a private Postfix (relay and MX for example.test) and
// Dovecot (bob's mailbox) and adds the email transport to the xgate config:
// digests go out through Postfix into bob's mailbox; mail to the routing
// domain comes back to xgate's SMTP listener. It returns what to print.
func startEmail(r *runner, cfg *harness.XgateConfig, secret string) string {
	r.Logf("starting Postfix and Dovecot…")
	listen := harness.Addr(harness.FreePort(r))
	mail := harness.StartMail(r, harness.MailOptions{
		Users:         map[string]string{"bob": "bob"},
		GatewayDomain: mailDomain, GatewayAddr: listen,
	})
	// XGATE_DEMO_DIGEST_QUIET shortens the quiet period (the demo's test).
	quiet := os.Getenv("XGATE_DEMO_DIGEST_QUIET")
	if _, err := time.ParseDuration(quiet); err != nil {
		quiet = "20s"
	}
	cfg.ExtraTransports += fmt.Sprintf("  email:\n    domain: %s\n    secret: %s\n    relay: %s\n    relay_tls: none\n"+
		"    digest_quiet: %s\n    listen: %s\n    unknown_senders: anyone\n",
		mailDomain, secret, mail.SMTPAddr, quiet, listen)
	contact := `bob\40` + mail.Domain + "@" + mailDomain
	return fmt.Sprintf(`Email: Postfix (SMTP %s) and Dovecot (IMAP %s), gateway %s.
  Write a few messages to %s: after %s of quiet they leave as ONE digest
  email to %s. Read it with any mail client: IMAP %s, user %s,
  password bob (plaintext on 127.0.0.1). Reply to it (SMTP %s, no login
  needed from 127.0.0.1): the reply comes back to you as chat, quotes removed.
`, mail.SMTPAddr, mail.IMAPAddr, mailDomain, contact, quiet, mail.Address("bob"), mail.IMAPAddr, mail.Address("bob"), mail.SMTPAddr)
}
