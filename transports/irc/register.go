package irc

import (
	"context"
	"fmt"
	"strings"

	"xgate/mapping"
	"xgate/transports"
)

// saslCreds are a user's SASL PLAIN account and password on one network.
type saslCreds struct{ account, password string }

// Registration settings keys: one pair per network, so a user can register
// several networks one form at a time. The password is a secret: the
// component never shows stored values of text-private fields, and nothing
// here logs it.
func saslAccountKey(host string) string  { return "sasl:" + strings.ToLower(host) + ":account" }
func saslPasswordKey(host string) string { return "sasl:" + strings.ToLower(host) + ":password" }

// saslSealedKey holds the password encrypted when the gateway has a secrets
// key (see sealer); saslPasswordKey holds it as given otherwise.
func saslSealedKey(host string) string { return "sasl:" + strings.ToLower(host) + ":password_sealed" }

var _ transports.Registrar = (*Transport)(nil)

// RegistrationFields: the network, and the SASL account and password to
// log in to it with (empty password: forget that network's SASL).
func (t *Transport) RegistrationFields() []transports.Field {
	return []transports.Field{
		{Var: "network", Label: "IRC server", Required: true, Desc: "The IRC server these settings are for, as in your room addresses (irc.libera.chat)"},
		{Var: "sasl_account", Label: "SASL account", Desc: "Your account on that network (default: your nick)"},
		{Var: "sasl_password", Label: "SASL password", Type: "text-private", Desc: "Your account's password, sent with SASL PLAIN when xgate connects (empty: no SASL)"},
	}
}

// Register merges one network's SASL settings into the user's settings.
// They apply from the next connection to that network.
func (t *Transport) Register(ctx context.Context, user string, values map[string]string, prev *transports.Registration) (transports.Registration, error) {
	host := strings.ToLower(strings.TrimSpace(values["network"]))
	if _, err := mapping.ParseIRC(host, "", ""); err != nil || strings.Contains(host, "%") {
		return transports.Registration{}, &transports.FieldError{Field: "network", Reason: "not an IRC server name (irc.example.org)"}
	}
	if _, ok := t.network(host); !ok {
		return transports.Registration{}, &transports.FieldError{Field: "network", Reason: host + " is not an IRC network of this gateway"}
	}
	settings := map[string]string{}
	if prev != nil {
		for k, v := range prev.Settings {
			if strings.HasPrefix(k, "sasl:") {
				settings[k] = v
			}
		}
	}
	delete(settings, saslAccountKey(host))
	delete(settings, saslPasswordKey(host))
	delete(settings, saslSealedKey(host))
	if pass := values["sasl_password"]; pass != "" {
		if t.seal != nil {
			sealed, err := t.seal.seal(strings.ToLower(user), saslSealedKey(host), pass)
			if err != nil {
				return transports.Registration{}, fmt.Errorf("irc: register: %w", err)
			}
			settings[saslSealedKey(host)] = sealed
		} else {
			settings[saslPasswordKey(host)] = pass
		}
		if acct := strings.TrimSpace(values["sasl_account"]); acct != "" {
			settings[saslAccountKey(host)] = acct
		}
	}
	t.loadSettings(user, settings)
	return transports.Registration{User: user, Settings: settings}, nil
}

// Unregister forgets the user's SASL settings.
func (t *Transport) Unregister(ctx context.Context, r transports.Registration) error {
	t.loadSettings(r.User, nil)
	return nil
}

// loadSettings replaces the user's SASL settings from registration
// settings. Sealed passwords are decrypted; one that does not open (no or
// another secrets key) is skipped with a warning, and that network is then
// joined without SASL.
func (t *Transport) loadSettings(user string, settings map[string]string) {
	user = strings.ToLower(user)
	creds := map[string]saslCreds{}
	for k, v := range settings {
		rest, ok := strings.CutPrefix(k, "sasl:")
		host, field, ok2 := strings.Cut(rest, ":")
		if !ok || !ok2 || v == "" {
			continue
		}
		switch field {
		case "password":
		case "password_sealed":
			if t.seal == nil {
				t.log.Warn("irc: a stored SASL password is encrypted but transports.irc.secrets_key is not set; SASL skipped", "user", user, "network", host)
				continue
			}
			plain, err := t.seal.open(user, k, v)
			if err != nil {
				t.log.Warn("irc: a stored SASL password does not decrypt; SASL skipped", "user", user, "network", host, "err", err)
				continue
			}
			v = plain
		default:
			continue
		}
		creds[host] = saslCreds{account: settings[saslAccountKey(host)], password: v}
	}
	t.saslMu.Lock()
	defer t.saslMu.Unlock()
	if len(creds) == 0 {
		delete(t.sasl, user)
		return
	}
	t.sasl[user] = creds
}

// saslFor is the user's SASL account and password for host ("" when
// none); the account defaults to the session's nick.
func (u *user) saslFor(host string) (account, password string) {
	u.t.saslMu.Lock()
	c, ok := u.t.sasl[u.jid][strings.ToLower(host)]
	u.t.saslMu.Unlock()
	if !ok {
		return "", ""
	}
	if c.account == "" {
		if s := u.sessions[strings.ToLower(host)]; s != nil {
			c.account = s.wantNick
		}
	}
	return c.account, c.password
}

// Restore loads a stored registration's settings (SASL credentials per
// network) at start-up, as Register did when the user submitted them, so that
// they survive a restart.
func (t *Transport) Restore(r transports.Registration) { t.loadSettings(r.User, r.Settings) }
