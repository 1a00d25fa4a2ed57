package config

import "time"

// setDefaults fills transports.email before the configured keys apply.
func (e *Email) setDefaults() {
	e.RelayTLS = "starttls"
	e.Timeout = time.Minute
	e.ListenProtocol = "smtp"
	e.MaxMessageSize = 10 << 20
	e.IMAPTLS = "implicit"
	e.IMAPMailbox = "INBOX"
	e.DigestQuiet = 5 * time.Minute
	e.DigestMaxAge = time.Hour
	e.DigestMaxMessages = 50
	e.UnknownSenders = "contacts"
}

// validateEmail checks transports.email (the Component part is checked with
// the other transports).
func (c *Config) validateEmail(ps *problems) {
	e := c.Transports.Email
	if e == nil {
		return
	}
	const base = "transports.email."
	if e.MailDomain != "" {
		domain(ps, base+"mail_domain", e.MailDomain, "the domain of the gateway's routing addresses, e.g. mail.example.org")
	}
	hostPort(ps, base+"relay", e.Relay, "host:port of the SMTP submission server digests are sent through", "smtp.example.org:587", false)
	oneOf(ps, base+"relay_tls", e.RelayTLS, "starttls", "implicit", "none")
	if e.RelayPassword != "" && e.RelayUsername == "" {
		ps.add(base+"relay_username", "missing while relay_password is set (expected the SMTP AUTH user name)")
	}
	positive(ps, base+"timeout", e.Timeout)
	if e.Listen == "" && e.IMAPAddr == "" {
		ps.add(base+"listen", "missing, and imap_addr too (expected a host:port for the inbound SMTP/LMTP listener, e.g. 127.0.0.1:2526, or an IMAP catch-all mailbox)")
	}
	if e.Listen != "" {
		hostPort(ps, base+"listen", e.Listen, "host:port of the inbound SMTP/LMTP listener", "127.0.0.1:2526", true)
	}
	oneOf(ps, base+"listen_protocol", e.ListenProtocol, "smtp", "lmtp")
	if e.MaxMessageSize <= 0 {
		ps.add(base+"max_message_size", "%d is not a size (expected a number of bytes greater than 0, e.g. 10485760)", e.MaxMessageSize)
	}
	if e.IMAPAddr != "" {
		hostPort(ps, base+"imap_addr", e.IMAPAddr, "host:port of the IMAP server", "imap.example.org:993", false)
		oneOf(ps, base+"imap_tls", e.IMAPTLS, "implicit", "starttls", "none")
		if e.IMAPUsername == "" {
			ps.add(base+"imap_username", "missing (expected the catch-all mailbox's IMAP user)")
		}
		if e.IMAPPassword == "" {
			ps.add(base+"imap_password", "missing (expected the catch-all mailbox's password, or imap_password_file)")
		}
		if e.IMAPMailbox == "" {
			ps.add(base+"imap_mailbox", "empty (expected a mailbox name, e.g. INBOX)")
		}
	}
	if e.DigestQuiet < 0 {
		ps.add(base+"digest_quiet", "%s is negative (expected 0 to send each message at once, or a duration like 5m)", e.DigestQuiet)
	}
	positive(ps, base+"digest_max_age", e.DigestMaxAge)
	if e.DigestMaxMessages <= 0 {
		ps.add(base+"digest_max_messages", "%d is not a count (expected a number greater than 0, e.g. 50)", e.DigestMaxMessages)
	}
	oneOf(ps, base+"unknown_senders", e.UnknownSenders, "contacts", "anyone")
}
