package irc

import (
	"context"
	"fmt"
	"strings"

	"xgate/mapping"
	"xgate/transports"
)

var _ transports.Registrar = (*Transport)(nil)

// RegistrationFields: the network, and the SASL account and password to
// log in to it with (empty password: forget that network's SASL). The
// ad-hoc command "Configure a network" sets the same and more.
func (t *Transport) RegistrationFields() []transports.Field {
	return []transports.Field{
		{Var: "network", Label: "IRC server", Required: true, Desc: "The IRC server these settings are for, as in your room addresses (irc.libera.chat)"},
		{Var: "sasl_account", Label: "SASL account", Desc: "Your account on that network (default: your nick)"},
		{Var: "sasl_password", Label: "SASL password", Type: "text-private", Desc: "Your account's password, sent with SASL PLAIN when xgate connects (empty: no SASL)"},
	}
}

// Register merges one network's SASL settings into the user's settings,
// keeping every other setting. They apply from the next connection to
// that network.
func (t *Transport) Register(ctx context.Context, user string, values map[string]string, prev *transports.Registration) (transports.Registration, error) {
	host, err := t.checkNetwork(values["network"])
	if err != nil {
		return transports.Registration{}, err
	}
	settings := map[string]string{}
	if prev != nil {
		for k, v := range prev.Settings {
			settings[k] = v
		}
	}
	delete(settings, saslAccountKey(host))
	seal := func(key, plain string) (string, error) { return t.seal.seal(strings.ToLower(user), key, plain) }
	if err := t.putSecret(settings, seal, saslPasswordKey(host), values["sasl_password"]); err != nil {
		return transports.Registration{}, err
	}
	if values["sasl_password"] != "" {
		if acct := strings.TrimSpace(values["sasl_account"]); acct != "" {
			settings[saslAccountKey(host)] = acct
		}
	}
	t.loadSettings(user, settings)
	return transports.Registration{User: user, Settings: settings}, nil
}

// checkNetwork validates a network field: a server name users may reach.
func (t *Transport) checkNetwork(v string) (string, error) {
	host := strings.ToLower(strings.TrimSpace(v))
	if _, err := mapping.ParseIRC(host, "", ""); err != nil || host == "" || strings.Contains(host, "%") {
		return "", &transports.FieldError{Field: "network", Reason: "not an IRC server name (irc.example.org)"}
	}
	if _, ok := t.network(host); !ok {
		return "", &transports.FieldError{Field: "network", Reason: host + " is not an IRC network of this gateway"}
	}
	return host, nil
}

// Unregister forgets the user's settings, closes their connections
// (persistent rooms included) and deletes their archive.
func (t *Transport) Unregister(ctx context.Context, r transports.Registration) error {
	t.loadSettings(r.User, nil)
	t.disconnectUser(strings.ToLower(r.User), "", "unregistered from "+t.cfg.Domain)
	if t.cfg.Archive != nil {
		if _, err := t.cfg.Archive.DeleteArchive(ctx, t.Name(), strings.ToLower(r.User)); err != nil {
			return fmt.Errorf("irc: unregister: delete archive: %w", err)
		}
	}
	return nil
}

// saslFor is the user's SASL account and password for host ("" when
// none); the account defaults to the session's nick.
func (u *user) saslFor(host string) (account, password string) {
	n := u.t.netSettingsFor(u.jid, host)
	if n.saslPassword == "" {
		return "", ""
	}
	account = n.saslAccount
	if account == "" {
		if s := u.sessions[strings.ToLower(host)]; s != nil {
			account = s.wantNick
		}
	}
	return account, n.saslPassword
}

// Restore loads a stored registration's settings at start-up, as Register
// did when the user submitted them, so that they survive a restart.
func (t *Transport) Restore(r transports.Registration) { t.loadSettings(r.User, r.Settings) }
