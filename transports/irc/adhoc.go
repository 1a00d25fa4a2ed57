package irc

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"xgate/mapping"
	"xgate/transports"
)

// Ad-hoc commands (XEP-0050) on the gateway's domain. Each takes what it
// works on (a network, a room) in its first step, then shows a form with
// the current values. Settings are saved in the user's registration (see
// settings.go) and apply to the next connection; room settings apply at
// once.

var _ transports.Commander = (*Transport)(nil)

// Command nodes.
const (
	cmdConfigureNetwork = "irc-configure-network"
	cmdConfigureRoom    = "irc-configure-room"
	cmdDisconnect       = "irc-disconnect"
	cmdConnections      = "irc-connections"
	cmdDisconnectUser   = "irc-disconnect-user"
)

// Commands lists the IRC transport's ad-hoc commands.
func (t *Transport) Commands() []transports.Command {
	return []transports.Command{
		{Node: cmdConfigureNetwork, Name: "Configure an IRC network", Execute: t.configureNetwork, Contact: t.networkContact},
		{Node: cmdConfigureRoom, Name: "Configure a room", Execute: t.configureRoom, Contact: t.roomContact},
		{Node: cmdDisconnect, Name: "Disconnect from an IRC network", Execute: t.disconnectCommand},
		{Node: cmdConnections, Name: "List IRC connections", Admin: true, Execute: t.connectionsCommand},
		{Node: cmdDisconnectUser, Name: "Disconnect a user", Admin: true, Execute: t.disconnectUserCommand},
	}
}

// networkFields are the fields of "Configure an IRC network", after the
// hidden network.
func networkFields() []transports.Field {
	return []transports.Field{
		{Var: "network", Type: "hidden"},
		{Var: "nick", Label: "Nick", Desc: "The nick used when xgate connects without a join (persistent rooms, auto-join); a join's own nick wins otherwise"},
		{Var: "realname", Label: "Real name"},
		{Var: "sasl_mechanism", Label: "SASL mechanism", Type: "list-single", Options: []string{"PLAIN", "EXTERNAL"}, Desc: "PLAIN logs in with the account and password; EXTERNAL with your client certificate (TLS only)"},
		{Var: "client_certificate", Label: "Client certificate (SHA-256 fingerprint)", Type: "fixed"},
		{Var: "new_certificate", Label: "Make a new client certificate", Type: "boolean", Desc: "xgate makes one for you; add its fingerprint to your account (e.g. /msg NickServ CERT ADD <fingerprint>)"},
		{Var: "sasl_account", Label: "SASL account", Desc: "Your account on the network (default: your nick)"},
		{Var: "sasl_password", Label: "SASL password", Type: "text-private", Desc: "Sent with SASL PLAIN; empty keeps the stored one"},
		{Var: "server_password", Label: "Server password", Type: "text-private", Desc: "Sent as PASS before registering; empty keeps the stored one"},
		{Var: "forget_passwords", Label: "Forget the stored passwords", Type: "boolean"},
		{Var: "tls", Label: "TLS", Type: "boolean", Desc: "Connect with TLS (it cannot be turned off where the operator requires it)"},
		{Var: "port", Label: "Port", Desc: "Empty: the network's default"},
		{Var: "encoding", Label: "Fallback encoding", Type: "list-single", Options: []string{"cp1252", "latin1"}, Desc: "How lines that are not UTF-8 are read"},
		{Var: "autojoin", Label: "Auto-join channels", Type: "text-multi", Desc: "One channel per line (\"#chan\" or \"#chan key\"): joined when xgate starts and kept while you are offline"},
		{Var: "commands", Label: "Commands after connecting", Type: "text-multi", Desc: "Raw IRC lines sent once connected, one per line (e.g. MODE mynick +x)"},
		{Var: "burst", Label: "Burst", Desc: "Lines sent at once before throttling (at most the operator's)"},
		{Var: "interval", Label: "Interval", Desc: "Time between throttled lines, e.g. 2s (at least the operator's)"},
	}
}

// configureNetwork: network → its settings → saved.
func (t *Transport) configureNetwork(ctx context.Context, user string, step int, form map[string]string) (*transports.Form, string, error) {
	user = strings.ToLower(user)
	switch step {
	case 0:
		return &transports.Form{
			Title:  "Configure an IRC network",
			Fields: []transports.Field{{Var: "network", Label: "IRC server", Required: true, Desc: "As in your room addresses (irc.libera.chat)"}},
			Values: map[string]string{"network": t.defaultNetwork()},
		}, "", nil
	case 1:
		host, err := t.checkNetwork(form["network"])
		if err != nil {
			return nil, "", err
		}
		n, _ := t.network(host)
		ns := t.netSettingsFor(user, host)
		eff := ns.apply(n)
		v := map[string]string{
			"network": host, "nick": ns.nick, "realname": ns.realname, "sasl_account": ns.saslAccount,
			"tls": boolValue(!eff.Plaintext), "encoding": eff.Encoding,
			"autojoin": strings.Join(ns.autojoin, "\n"), "commands": strings.Join(ns.commands, "\n"),
			"burst": strconv.Itoa(eff.Burst), "interval": eff.Interval.String(), "forget_passwords": "0",
			"sasl_mechanism": orText(ns.saslMechanism, "PLAIN"), "new_certificate": "0",
			"client_certificate": "none",
		}
		if c, err := parseClientCert(ns.clientCert); err == nil {
			v["client_certificate"] = certFingerprint(c)
		}
		if ns.port > 0 {
			v["port"] = strconv.Itoa(ns.port)
		}
		return &transports.Form{
			Title:        "Configure " + host,
			Instructions: "Settings for your connection to " + host + ". They apply from the next connection (\"Disconnect from an IRC network\" reconnects on your next join).",
			Fields:       networkFields(), Values: v,
		}, "", nil
	}
	host, err := t.checkNetwork(form["network"])
	if err != nil {
		return nil, "", err
	}
	n, _ := t.network(host)
	fp := ""
	err = t.updateSettings(ctx, user, func(s map[string]string, seal func(key, plain string) (string, error)) error {
		if err := t.setNetworkValues(n, host, form, s, seal); err != nil {
			return err
		}
		fp, err = t.setClientCert(user, n, host, form, s, seal)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	note := "Saved your settings for " + host + "."
	if fp != "" {
		note += " Your client certificate's SHA-256 fingerprint is " + fp +
			": add it to your account on " + host + " (e.g. /msg NickServ CERT ADD " + fp + ") before you connect."
	}
	return nil, note, nil
}

// setNetworkValues validates a submitted network form into settings.
func (t *Transport) setNetworkValues(n Network, host string, form, s map[string]string, seal func(key, plain string) (string, error)) error {
	set := func(field, v string) {
		if v = strings.TrimSpace(v); v == "" {
			delete(s, netKey(host, field))
		} else {
			s[netKey(host, field)] = v
		}
	}
	if nick := strings.TrimSpace(form["nick"]); nick != "" && strings.ContainsAny(nick, " ,*?!@#:") {
		return &transports.FieldError{Field: "nick", Reason: "not an IRC nick"}
	}
	set("nick", form["nick"])
	set("realname", form["realname"])
	switch form["tls"] {
	case "0":
		if !n.Plaintext {
			return &transports.FieldError{Field: "tls", Reason: "the operator requires TLS for " + host}
		}
		set("tls", "")
	case "1":
		set("tls", ifElse(n.Plaintext, "on", "")) // "on" only changes a plaintext network
	}
	if p := strings.TrimSpace(form["port"]); p != "" {
		if v, err := strconv.Atoi(p); err != nil || v < 1 || v > 65535 {
			return &transports.FieldError{Field: "port", Reason: "not a port number (1-65535)"}
		}
	}
	set("port", form["port"])
	set("encoding", form["encoding"])
	for _, ch := range lines(form["autojoin"]) {
		name, _, _ := strings.Cut(ch, " ")
		if addr, err := mapping.ParseIRC(roomKey(name, host), "", ""); err != nil || addr.Kind != mapping.IRCChannel {
			return &transports.FieldError{Field: "autojoin", Reason: name + " is not a channel (#chan)"}
		}
	}
	set("autojoin", strings.Join(lines(form["autojoin"]), "\n"))
	// Commands may carry a password (IDENTIFY): sealed like one.
	if err := t.putSecret(s, seal, netKey(host, "commands"), strings.Join(lines(form["commands"]), "\n")); err != nil {
		return err
	}
	if b := strings.TrimSpace(form["burst"]); b != "" {
		v, err := strconv.Atoi(b)
		if err != nil || v < 1 {
			return &transports.FieldError{Field: "burst", Reason: "not a positive number of lines"}
		}
		set("burst", ifElse(v < n.Burst, b, "")) // the operator's or fewer
	}
	if iv := strings.TrimSpace(form["interval"]); iv != "" {
		d, err := time.ParseDuration(iv)
		if err != nil || d < 0 {
			return &transports.FieldError{Field: "interval", Reason: "not a duration (e.g. 2s)"}
		}
		set("interval", ifElse(d > n.Interval, d.String(), "")) // the operator's or slower
	}
	if form["forget_passwords"] == "1" {
		delete(s, saslAccountKey(host))
		for _, base := range []string{saslPasswordKey(host), netKey(host, "server_password")} {
			if err := t.putSecret(s, seal, base, ""); err != nil {
				return err
			}
		}
	}
	if a := strings.TrimSpace(form["sasl_account"]); a != "" {
		s[saslAccountKey(host)] = a
	} else if form["forget_passwords"] != "1" {
		delete(s, saslAccountKey(host))
	}
	if p := form["sasl_password"]; p != "" {
		if err := t.putSecret(s, seal, saslPasswordKey(host), p); err != nil {
			return err
		}
	}
	if p := form["server_password"]; p != "" {
		if err := t.putSecret(s, seal, netKey(host, "server_password"), p); err != nil {
			return err
		}
	}
	return nil
}

func boolValue(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// defaultNetwork is the network a form suggests: the only configured one.
func (t *Transport) defaultNetwork() string {
	if len(t.cfg.Networks) == 1 {
		return strings.ToLower(t.cfg.Networks[0].Host)
	}
	return ""
}

// configureRoom: room → persistent, archive, history → saved and applied.
func (t *Transport) configureRoom(ctx context.Context, jid string, step int, form map[string]string) (*transports.Form, string, error) {
	jid = strings.ToLower(jid)
	if step == 0 {
		return &transports.Form{
			Title:  "Configure a room",
			Fields: []transports.Field{{Var: "room", Label: "Room", Required: true, Desc: "The room's address (#chan%irc.libera.chat, with or without @" + t.cfg.Domain + ")"}},
		}, "", nil
	}
	key, host, err := t.checkRoom(form["room"])
	if err != nil {
		return nil, "", err
	}
	if step == 1 {
		rs := t.roomSettingsFor(jid, key)
		hist := ""
		if rs.history >= 0 {
			hist = strconv.Itoa(rs.history)
		}
		return &transports.Form{
			Title: "Configure " + key,
			Fields: []transports.Field{
				{Var: "room", Type: "hidden"},
				{Var: "persistent", Label: "Persistent", Type: "boolean", Desc: "Stay in the room while you are offline (lines are archived) and rejoin it when xgate starts"},
				{Var: "archive", Label: "Archive", Type: "boolean", Desc: "Keep the room's lines in your archive (history on join, XEP-0313)"},
				{Var: "history", Label: "History lines", Desc: fmt.Sprintf("Lines replayed when you join, unless your client asks (default %d)", t.cfg.History)},
			},
			Values: map[string]string{"room": key, "persistent": boolValue(t.isPersistent(jid, key, host)), "archive": boolValue(rs.archive != "0"), "history": hist},
		}, "", nil
	}
	hist := strings.TrimSpace(form["history"])
	if hist != "" {
		if n, err := strconv.Atoi(hist); err != nil || n < 0 || n > maxHistory {
			return nil, "", &transports.FieldError{Field: "history", Reason: fmt.Sprintf("not a number of lines (0 to %d)", maxHistory)}
		}
	}
	persistent := form["persistent"] == "1"
	nick := ""
	t.onUser(ctx, jid, func(u *user) {
		if s := u.sessions[host]; s != nil {
			nick = s.nick
		}
	})
	err = t.updateSettings(ctx, jid, func(s map[string]string, _ func(key, plain string) (string, error)) error {
		s[roomSettingKey(key, "persistent")] = boolValue(persistent)
		s[roomSettingKey(key, "archive")] = boolValue(form["archive"] != "0")
		delete(s, roomSettingKey(key, "history"))
		if hist != "" {
			s[roomSettingKey(key, "history")] = hist
		}
		if nick != "" {
			s[roomSettingKey(key, "nick")] = nick
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	t.onUser(ctx, jid, func(u *user) { u.applyRoomSettings(key, host) })
	if persistent {
		return nil, "Saved: " + key + " is persistent; you stay in it while you are offline.", nil
	}
	return nil, "Saved: " + key + " is not persistent; you leave it when your last client does.", nil
}

// checkRoom validates a room field: #chan%host, with or without @domain.
func (t *Transport) checkRoom(v string) (key, host string, err error) {
	v = strings.TrimSpace(v)
	if local, domain, ok := strings.Cut(v, "@"); ok {
		if d, _, _ := strings.Cut(domain, "/"); !strings.EqualFold(d, t.cfg.Domain) {
			return "", "", &transports.FieldError{Field: "room", Reason: "not a room of " + t.cfg.Domain}
		}
		v = local
	}
	addr, err := t.parseAddr(v, "")
	if err != nil || addr.Kind != mapping.IRCChannel {
		return "", "", &transports.FieldError{Field: "room", Reason: "not a room address (#chan%irc.example.org)"}
	}
	if _, ok := t.network(addr.Server); !ok {
		return "", "", &transports.FieldError{Field: "room", Reason: addr.Server + " is not an IRC network of this gateway"}
	}
	return roomKey(addr.Name, addr.Server), strings.ToLower(addr.Server), nil
}

// applyRoomSettings applies a room's new settings to the live room: a room
// that is no longer persistent and has no resource is left.
func (u *user) applyRoomSettings(key, host string) {
	s := u.sessions[host]
	if s == nil {
		return
	}
	for _, r := range s.rooms {
		if roomKey(r.name, s.host) != key {
			continue
		}
		r.persistent = u.t.isPersistent(u.jid, key, host)
		r.archived = u.t.isArchived(u.jid, key)
		if !r.persistent && r.empty() {
			s.leaveRoom(r, "", "")
		}
		return
	}
}

// onUser runs fn on user's goroutine and waits for it; false (fn not run)
// when the user has no state (no connection) or ctx ends first.
func (t *Transport) onUser(ctx context.Context, bare string, fn func(u *user)) bool {
	done := make(chan struct{})
	t.mu.Lock()
	u := t.users[bare]
	ok := u != nil && u.events.tryPut(funcEvent(func() { fn(u); close(done) }))
	t.mu.Unlock()
	if !ok {
		return false
	}
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	case <-t.life.Done():
		return false
	}
}

// disconnectCommand: pick one of your networks → QUIT.
func (t *Transport) disconnectCommand(ctx context.Context, jid string, step int, form map[string]string) (*transports.Form, string, error) {
	jid = strings.ToLower(jid)
	if step == 0 {
		var hosts []string
		t.onUser(ctx, jid, func(u *user) {
			for _, s := range u.sessions {
				hosts = append(hosts, s.key)
			}
		})
		if len(hosts) == 0 {
			return nil, "You are not connected to any IRC network.", nil
		}
		sort.Strings(hosts)
		return &transports.Form{
			Title:        "Disconnect from an IRC network",
			Instructions: "Quits the network and leaves its rooms, persistent ones too (they are rejoined when xgate restarts unless you make them non-persistent).",
			Fields: []transports.Field{
				{Var: "network", Label: "Network", Type: "list-single", Required: true, Options: hosts},
				{Var: "reason", Label: "Quit message"},
			},
			Values: map[string]string{"network": hosts[0]},
		}, "", nil
	}
	host := strings.ToLower(form["network"])
	if n := t.disconnectUser(jid, host, orText(form["reason"], "disconnected")); n == 0 {
		return nil, "You were not connected to " + host + ".", nil
	}
	return nil, "Disconnected from " + host + ".", nil
}

// disconnectUser closes user's connection to host (every connection when
// host is ""): every joined resource gets its unavailable presence (332)
// with the reason. It returns how many connections it closed.
func (t *Transport) disconnectUser(jid, host, reason string) int {
	ctx, cancel := context.WithTimeout(t.life, archiveTimeout)
	defer cancel()
	n := 0
	t.onUser(ctx, jid, func(u *user) {
		for key, s := range u.sessions {
			if host != "" && key != host {
				continue
			}
			for _, r := range s.rooms {
				for to := range r.res {
					p := r.selfUnavailable(s, to, mucItem{codes: []int{332}})
					s.u.send(p.add(textEl("status", reason)))
				}
			}
			s.close(reason)
			n++
		}
	})
	return n
}

// connInfo describes one connection for the admin list.
type connInfo struct {
	user, host, nick          string
	rooms, persistent, joined int
	up                        bool
}

// connections lists every user's connections.
func (t *Transport) connections(ctx context.Context) []connInfo {
	t.mu.Lock()
	users := make([]string, 0, len(t.users))
	for jid := range t.users {
		users = append(users, jid)
	}
	t.mu.Unlock()
	sort.Strings(users)
	var out []connInfo
	for _, jid := range users {
		var mine []connInfo
		t.onUser(ctx, jid, func(u *user) {
			for _, s := range u.sessions {
				c := connInfo{user: jid, host: s.key, nick: s.nick, rooms: len(s.rooms), up: s.registered}
				for _, r := range s.rooms {
					if r.persistent {
						c.persistent++
					}
					if len(r.res) > 0 {
						c.joined++
					}
				}
				mine = append(mine, c)
			}
		})
		sort.Slice(mine, func(i, j int) bool { return mine[i].host < mine[j].host })
		out = append(out, mine...)
	}
	return out
}

// connectionsCommand (admin): one line per connection.
func (t *Transport) connectionsCommand(ctx context.Context, _ string, _ int, _ map[string]string) (*transports.Form, string, error) {
	conns := t.connections(ctx)
	if len(conns) == 0 {
		return nil, "No IRC connection.", nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d IRC connections:", len(conns))
	for _, c := range conns {
		state := "connected"
		if !c.up {
			state = "connecting"
		}
		fmt.Fprintf(&b, "\n%s → %s as %s: %s, %d rooms (%d persistent, %d with clients)", c.user, c.host, c.nick, state, c.rooms, c.persistent, c.joined)
	}
	return nil, b.String(), nil
}

// disconnectUserCommand (admin): user, network (empty: all), reason.
func (t *Transport) disconnectUserCommand(ctx context.Context, _ string, step int, form map[string]string) (*transports.Form, string, error) {
	if step == 0 {
		return &transports.Form{
			Title: "Disconnect a user",
			Fields: []transports.Field{
				{Var: "user", Label: "User (bare JID)", Required: true},
				{Var: "network", Label: "Network", Desc: "Empty: every network"},
				{Var: "reason", Label: "Quit message"},
			},
		}, "", nil
	}
	target := strings.ToLower(strings.TrimSpace(form["user"]))
	if target == "" || !strings.Contains(target, "@") || strings.Contains(target, "/") {
		return nil, "", &transports.FieldError{Field: "user", Reason: "not a bare JID (alice@example.org)"}
	}
	host := strings.ToLower(strings.TrimSpace(form["network"]))
	n := t.disconnectUser(target, host, orText(form["reason"], "disconnected by an administrator"))
	if n == 0 {
		return nil, "", errors.New(target + " has no IRC connection" + ifElse(host != "", " to "+host, ""))
	}
	return nil, fmt.Sprintf("Closed %d connection(s) of %s.", n, target), nil
}

// setClientCert applies the SASL mechanism and certificate fields: a new
// certificate is made when asked, or when EXTERNAL is chosen without one.
// It returns the fingerprint of a certificate it made ("" otherwise).
// EXTERNAL needs TLS.
func (t *Transport) setClientCert(user string, n Network, host string, form, s map[string]string, seal func(key, plain string) (string, error)) (string, error) {
	mech := form["sasl_mechanism"]
	switch mech {
	case "", "PLAIN":
		delete(s, netKey(host, "sasl_mechanism"))
	case "EXTERNAL":
		tlsOn := !n.Plaintext || s[netKey(host, "tls")] == "on"
		if !tlsOn {
			return "", &transports.FieldError{Field: "sasl_mechanism", Reason: "SASL EXTERNAL needs TLS: turn TLS on for " + host}
		}
		s[netKey(host, "sasl_mechanism")] = "EXTERNAL"
	default:
		return "", &transports.FieldError{Field: "sasl_mechanism", Reason: "PLAIN or EXTERNAL"}
	}
	base := netKey(host, "client_cert")
	_, had := s[base+"_sealed"]
	if _, plain := s[base]; plain {
		had = true
	}
	if form["new_certificate"] != "1" && (had || mech != "EXTERNAL") {
		return "", nil
	}
	pemText, err := newClientCertPEM(defaultNick(user))
	if err != nil {
		return "", err
	}
	if err := t.putSecret(s, seal, base, pemText); err != nil {
		return "", err
	}
	c, err := parseClientCert(pemText)
	if err != nil {
		return "", err
	}
	return certFingerprint(c), nil
}

// networkContact offers "Configure an IRC network" on a network's JID
// (irc.example.net@domain), as biboumi does.
func (t *Transport) networkContact(local string) (map[string]string, bool) {
	addr, err := t.parseAddr(local, "")
	if err != nil || addr.Kind != mapping.IRCServer {
		return nil, false
	}
	host, err := t.checkNetwork(orText(addr.Server, t.cfg.FixedNetwork))
	if err != nil {
		return nil, false
	}
	return map[string]string{"network": host}, true
}

// roomContact offers "Configure a room" on a room's JID.
func (t *Transport) roomContact(local string) (map[string]string, bool) {
	key, _, err := t.checkRoom(local)
	if err != nil {
		return nil, false
	}
	return map[string]string{"room": key}, true
}

// ifElse is a if cond, else b.
func ifElse(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}
