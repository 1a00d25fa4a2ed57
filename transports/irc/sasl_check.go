package irc

import "strings"

// saslKey is the network the user's SASL settings are registered under:
// the session's host, or the fixed network's host for short addresses.
func (s *session) saslKey() string {
	if s.key == "" {
		return strings.ToLower(s.net.Host)
	}
	return s.key
}

// saslCreds are the SASL account (default: the nick) and password the user
// registered for this network; pass is "" without SASL.
func (s *session) saslCreds() (account, pass string) {
	account, pass = s.u.saslFor(s.saslKey())
	if account == "" {
		account = s.wantNick
	}
	return account, pass
}

// saslUnavailable runs when the server welcomed us (001) without SASL
// although the user registered SASL credentials for this network: it
// offered no "sasl" capability (or refused it), so girc registered without
// logging in. Staying connected would put the user on IRC unidentified
// (no cloak, nick unprotected) while they believe they are logged in, so
// the connection is closed and every room fails with not-authorized and a
// text saying why. The password is never sent any other way (no NickServ
// IDENTIFY fallback, no PASS).
func (s *session) saslUnavailable() {
	acct, _ := s.saslCreds()
	host := orText(s.host, s.net.Host)
	reason := host + " does not offer SASL, so xgate did not log in as " + acct +
		" and disconnected; to connect without logging in, remove the SASL password for " +
		host + " (submit the registration form of " + s.u.t.cfg.Domain + " with an empty sasl_password)"
	if _, ok := s.clientCert(); s.saslExternal() && (!ok || s.net.Plaintext) {
		reason = "SASL EXTERNAL needs a client certificate and TLS to " + host +
			": set them (or another SASL mechanism) with Configure an IRC network on " + s.u.t.cfg.Domain
	} else if s.saslExternal() {
		reason = host + " does not offer SASL, so xgate did not log in with your client certificate and disconnected; " +
			"choose the PLAIN mechanism without a password (Configure an IRC network on " + s.u.t.cfg.Domain + ") to connect without logging in"
	}
	s.u.t.log.Info("irc server offers no sasl; not connecting without it", "user", s.u.jid, "network", host)
	for k, r := range s.rooms {
		clear(r.rejoin) // resources waiting for a rejoin get the error too
		r.connectionLost(s, "not-authorized", reason)
		delete(s.rooms, k)
	}
	s.failLists(reason)
	s.close("SASL is not available")
}
