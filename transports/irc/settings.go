package irc

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"xgate/mapping"
	"xgate/store"
)

// A user's settings live in their registration's settings map (the store
// keeps one registration per user and transport), under keys that name what
// they are for:
//
//	sasl:<host>:account, sasl:<host>:password[_sealed]  SASL PLAIN (registration form or ad-hoc)
//	net:<host>:<field>                                  ad-hoc "Configure a network"
//	room:<room>:<field>                                 ad-hoc "Configure a room" (<room> is #chan%host)
//
// Secrets (passwords) are sealed with Config.SecretsKey when it is set (see
// sealer); the additional data binds a sealed value to its user and key.
// Hosts and rooms are lower-cased. The transport keeps a parsed copy of every
// user's settings in memory (settings), replaced whole on every change.

// netSettings are one user's settings for one network. Zero values mean
// "not set": the operator's network settings apply.
type netSettings struct {
	nick, realname string
	saslAccount    string
	saslPassword   string
	serverPassword string
	tls            string // "", "on" or "off"
	port           int
	encoding       string
	autojoin       []string // channels, each "#chan" or "#chan key"
	commands       []string // raw IRC lines sent after connecting
	burst          int
	interval       time.Duration
	saslMechanism  string // "" (PLAIN with a password) or "EXTERNAL"
	clientCert     string // PEM certificate and key (clientcert.go)
}

// roomSettings are one user's settings for one room. persistent and archive
// are "", "1" or "0" ("": the configured default).
type roomSettings struct {
	persistent, archive string
	history             int    // lines replayed on join; -1: the configured default
	nick                string // the nick a persistent room is rejoined with
}

// userSettings is one user's parsed settings.
type userSettings struct {
	nets  map[string]netSettings  // by lower-cased host
	rooms map[string]roomSettings // by room key (roomKey)
}

// Settings keys.
func saslAccountKey(host string) string  { return "sasl:" + strings.ToLower(host) + ":account" }
func saslPasswordKey(host string) string { return "sasl:" + strings.ToLower(host) + ":password" }

// saslSealedKey holds the password encrypted when the gateway has a secrets
// key (see sealer); saslPasswordKey holds it as given otherwise.
func saslSealedKey(host string) string         { return "sasl:" + strings.ToLower(host) + ":password_sealed" }
func netKey(host, field string) string         { return "net:" + strings.ToLower(host) + ":" + field }
func roomSettingKey(room, field string) string { return "room:" + room + ":" + field }

// roomKey is the settings and archive key of a channel: #chan%host, lower-cased.
func roomKey(channel, host string) string {
	return mapping.IRCAddress{Kind: mapping.IRCChannel, Name: strings.ToLower(channel), Server: strings.ToLower(host)}.Local()
}

// splitSettingKey splits "kind:middle:field"; the middle part may contain
// colons (IPv6 hosts), the field never does.
func splitSettingKey(k string) (kind, middle, field string, ok bool) {
	kind, rest, ok := strings.Cut(k, ":")
	i := strings.LastIndexByte(rest, ':')
	if !ok || i <= 0 {
		return "", "", "", false
	}
	return kind, rest[:i], rest[i+1:], true
}

// loadSettings replaces the user's settings from registration settings.
// Sealed secrets are decrypted; one that does not open (no or another
// secrets key) is skipped with a warning: that network is then joined
// without it.
func (t *Transport) loadSettings(user string, raw map[string]string) {
	user = strings.ToLower(user)
	us := &userSettings{nets: map[string]netSettings{}, rooms: map[string]roomSettings{}}
	for k, v := range raw {
		kind, middle, field, ok := splitSettingKey(k)
		if !ok || v == "" {
			continue
		}
		switch kind {
		case "sasl", "net":
			if v2, ok := t.openSetting(user, k, field, v); ok {
				us.setNet(kind, middle, strings.TrimSuffix(field, "_sealed"), v2)
			}
		case "room":
			r, ok := us.rooms[middle]
			if !ok {
				r = roomSettings{history: -1}
			}
			switch field {
			case "persistent":
				r.persistent = v
			case "archive":
				r.archive = v
			case "history":
				if n, err := strconv.Atoi(v); err == nil && n >= 0 {
					r.history = n
				}
			case "nick":
				r.nick = v
			}
			us.rooms[middle] = r
		}
	}
	t.setMu.Lock()
	defer t.setMu.Unlock()
	if len(us.nets) == 0 && len(us.rooms) == 0 {
		delete(t.settings, user)
		return
	}
	t.settings[user] = us
}

// openSetting returns a setting's value, decrypted when it is sealed.
func (t *Transport) openSetting(user, key, field, v string) (string, bool) {
	if !strings.HasSuffix(field, "_sealed") {
		return v, true
	}
	if t.seal == nil {
		t.log.Warn("irc: a stored password is encrypted but transports.irc.secrets_key is not set; it is skipped", "user", user, "setting", key)
		return "", false
	}
	plain, err := t.seal.open(user, key, v)
	if err != nil {
		t.log.Warn("irc: a stored password does not decrypt; it is skipped", "user", user, "setting", key, "err", err)
		return "", false
	}
	return plain, true
}

// setNet stores one sasl: or net: value.
func (us *userSettings) setNet(kind, host, field, v string) {
	n := us.nets[host]
	switch kind + ":" + field {
	case "sasl:account":
		n.saslAccount = v
	case "sasl:password":
		n.saslPassword = v
	case "net:nick":
		n.nick = v
	case "net:realname":
		n.realname = v
	case "net:server_password":
		n.serverPassword = v
	case "net:tls":
		n.tls = v
	case "net:port":
		n.port, _ = strconv.Atoi(v)
	case "net:encoding":
		n.encoding = v
	case "net:autojoin":
		n.autojoin = lines(v)
	case "net:commands":
		n.commands = lines(v)
	case "net:burst":
		n.burst, _ = strconv.Atoi(v)
	case "net:interval":
		n.interval, _ = time.ParseDuration(v)
	case "net:sasl_mechanism":
		n.saslMechanism = v
	case "net:client_cert":
		n.clientCert = v
	default:
		return
	}
	us.nets[host] = n
}

// lines splits a text-multi value into its non-blank lines.
func lines(v string) []string {
	var out []string
	for _, l := range strings.Split(v, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// netSettingsFor is a copy of user's settings for host.
func (t *Transport) netSettingsFor(user, host string) netSettings {
	t.setMu.Lock()
	defer t.setMu.Unlock()
	if us := t.settings[user]; us != nil {
		return us.nets[strings.ToLower(host)]
	}
	return netSettings{}
}

// roomSettingsFor is a copy of user's settings for a room key.
func (t *Transport) roomSettingsFor(user, key string) roomSettings {
	t.setMu.Lock()
	defer t.setMu.Unlock()
	if us := t.settings[user]; us != nil {
		if r, ok := us.rooms[key]; ok {
			return r
		}
	}
	return roomSettings{history: -1}
}

// persistentRooms lists every user's rooms that are persistent (by their
// setting, or by the configured default for rooms they configured) and the
// networks' auto-join channels: what xgate joins when it starts.
func (t *Transport) persistentRooms() map[string][]string {
	t.setMu.Lock()
	defer t.setMu.Unlock()
	out := map[string][]string{}
	for user, us := range t.settings {
		for key, r := range us.rooms {
			if r.persistent == "1" || (r.persistent == "" && t.cfg.Persistent) {
				out[user] = append(out[user], key)
			}
		}
		for host, n := range us.nets {
			for _, ch := range n.autojoin {
				name, _, _ := strings.Cut(ch, " ")
				out[user] = append(out[user], roomKey(name, host))
			}
		}
	}
	return out
}

// apply returns the operator's network n with the user's settings on top.
// Users may slow the line rate but not raise it above the operator's.
func (ns netSettings) apply(n Network) Network {
	if ns.realname != "" {
		n.Realname = ns.realname
	}
	if ns.serverPassword != "" {
		n.ServerPassword = ns.serverPassword
	}
	// TLS can be turned on where the operator has it off; never off where
	// the operator has it on (the configure command refuses that).
	if ns.tls == "on" && n.Plaintext {
		n.Plaintext, n.Port = false, 6697
	}
	if ns.port > 0 {
		n.Port = ns.port
	}
	if ns.encoding != "" {
		n.Encoding = ns.encoding
	}
	if ns.burst > 0 && ns.burst < n.Burst {
		n.Burst = ns.burst
	}
	if ns.interval > n.Interval {
		n.Interval = ns.interval
	}
	return n
}

// errNoStore is returned by changes that need the store when there is none.
var errNoStore = errors.New("irc: settings cannot be saved: the transport has no store")

// updateSettings applies change to user's stored settings (creating the
// registration when there is none) and reloads them. change gets a copy it
// may edit; seal encrypts a secret for one of its keys.
func (t *Transport) updateSettings(ctx context.Context, user string, change func(settings map[string]string, seal func(key, plain string) (string, error)) error) error {
	if t.cfg.Store == nil {
		return errNoStore
	}
	// One read-modify-write at a time (ad-hoc commands, nick changes).
	t.saveMu.Lock()
	defer t.saveMu.Unlock()
	user = strings.ToLower(user)
	reg, err := t.cfg.Store.GetRegistration(ctx, t.Name(), user)
	switch {
	case errors.Is(err, store.ErrNotFound):
		reg = store.Registration{Transport: t.Name(), User: user}
	case err != nil:
		return fmt.Errorf("irc: load settings: %w", err)
	}
	settings := make(map[string]string, len(reg.Settings)+8)
	for k, v := range reg.Settings {
		settings[k] = v
	}
	seal := func(key, plain string) (string, error) {
		if t.seal == nil {
			return plain, nil
		}
		return t.seal.seal(user, key, plain)
	}
	if err := change(settings, seal); err != nil {
		return err
	}
	reg.Settings = settings
	if _, err := t.cfg.Store.PutRegistration(ctx, reg); err != nil {
		return fmt.Errorf("irc: save settings: %w", err)
	}
	t.loadSettings(user, settings)
	return nil
}

// putSecret stores a secret under base (as base_sealed when the gateway has
// a secrets key), or removes it when plain is empty.
func (t *Transport) putSecret(settings map[string]string, seal func(key, plain string) (string, error), base, plain string) error {
	delete(settings, base)
	delete(settings, base+"_sealed")
	if plain == "" {
		return nil
	}
	if t.seal == nil {
		settings[base] = plain
		return nil
	}
	v, err := seal(base+"_sealed", plain)
	if err != nil {
		return fmt.Errorf("irc: seal %s: %w", base, err)
	}
	settings[base+"_sealed"] = v
	return nil
}
