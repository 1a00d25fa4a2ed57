package main

import (
	"fmt"

	"xgate/integration/harness"
)

// ircDomain is the demo's IRC transport domain.
const ircDomain = "irc.localhost"

// startIRC starts a private ngircd and adds the IRC transport, with that
// server as its only (plaintext) network, to the xgate config. It returns
// what to print.
func startIRC(r *runner, cfg *harness.XgateConfig, secret string) string {
	r.Logf("starting ngircd…")
	ircd := harness.StartNgircd(r)
	cfg.ExtraTransports += fmt.Sprintf("  irc:\n    domain: %s\n    secret: %s\n    networks:\n"+
		"      - host: %s\n        port: %d\n        plaintext: true\n",
		ircDomain, secret, ircd.Host, ircd.Port)
	room := "#demo%" + ircd.Host + "@" + ircDomain
	return fmt.Sprintf(`IRC: ngircd on %s, gateway %s.
  Join the room %s with any nick (the nick is your IRC nick),
  e.g. in profanity: /join %s nick alice
  From an IRC client (irssi -c %s -p %d), /join #demo and talk to each other;
  an IRC user bob writing /msg alice hi reaches you from bob%%%s@%s.
  Bouncer: run the ad-hoc command "Configure a room" on %s and tick
  "persistent": you stay in #demo while offline, and get what was said as
  history when you rejoin (or with a MAM query on the room).
`, ircd.Addr, ircDomain, room, room, ircd.Host, ircd.Port, ircd.Host, ircDomain, room)
}
