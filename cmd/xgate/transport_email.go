package main

import (
	"fmt"

	"xgate/transports/email"
)

// buildEmail makes the email transport. The digest buffer, routing tokens and
// the digest outbox live in the same database as everything else.
func buildEmail(d deps) (*builtTransport, error) {
	e := d.cfg.Transports.Email
	if e == nil {
		return nil, nil
	}
	es, ok := d.st.(email.Store)
	if !ok {
		return nil, fmt.Errorf("transports.email: the %s store has no digest support", d.cfg.Store.Driver)
	}
	defaults := email.Settings{
		MaxAge: e.DigestMaxAge, MaxMessages: e.DigestMaxMessages, Senders: e.UnknownSenders,
	}.WithQuiet(e.DigestQuiet)
	t, err := email.New(email.Config{
		Domain:                  e.Domain,
		MailDomain:              e.MailDomain,
		Relay:                   e.Relay,
		RelayTLS:                e.RelayTLS,
		RelayInsecureSkipVerify: e.RelayInsecureSkipVerify,
		RelayUsername:           e.RelayUsername,
		RelayPassword:           e.RelayPassword,
		Helo:                    e.Helo,
		Timeout:                 e.Timeout,
		Listen:                  e.Listen,
		LMTP:                    e.ListenProtocol == "lmtp",
		MaxMessageSize:          e.MaxMessageSize,
		IMAP: email.IMAPConfig{
			Addr: e.IMAPAddr, TLS: e.IMAPTLS, Username: e.IMAPUsername, Password: e.IMAPPassword,
			Mailbox: e.IMAPMailbox, DoneMailbox: e.IMAPDoneMailbox,
		},
		Defaults:    defaults,
		Owner:       d.owner + "-email",
		GiveUpAfter: d.cfg.Delivery.GiveUpAfter,
		RetryMin:    d.cfg.Delivery.RetryMin,
		RetryMax:    d.cfg.Delivery.RetryMax,
		Logger:      d.log.With("transport", "email"),
	}, es)
	if err != nil {
		return nil, fmt.Errorf("transports.email: %w", err)
	}
	return &builtTransport{common: e.Component, transport: t}, nil
}
