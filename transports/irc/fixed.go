package irc

import (
	"strings"

	"xgate/mapping"
)

// The fixed network (Config.FixedNetwork, biboumi's fixed_irc_server):
// #chan@domain is a room on it, nick@domain a user, and <fixed host>@domain
// the network itself. These short addresses come out of parseAddr with an
// empty Server, and the session they open has the key and host "": every
// JID it makes (rooms, nicks, LIST items) is short again. %-addresses keep
// working, the fixed host's included; they use a session of their own (a
// user mixing both forms has two connections), since a JID must come back
// in the form the client used.

// parseAddr parses the localpart and resource of a JID on the domain, with
// the short forms when a fixed network is configured.
func (t *Transport) parseAddr(local, resource string) (mapping.IRCAddress, error) {
	return mapping.ParseIRCFixed(local, resource, "", t.cfg.FixedNetwork)
}

// fixedNetwork is the settings of the fixed network, for sessions of short
// addresses (host "").
func (t *Transport) fixedNetwork() (Network, bool) {
	if t.cfg.FixedNetwork == "" {
		return Network{}, false
	}
	for _, n := range t.cfg.Networks {
		if strings.EqualFold(n.Host, t.cfg.FixedNetwork) {
			return n.withDefaults(), true
		}
	}
	return Network{Host: t.cfg.FixedNetwork}.withDefaults(), true
}

// fixedServerJID is the network JID of short-address sessions: the fixed
// host, which parseAddr reads back as the short server address.
func (t *Transport) fixedServerJID() string {
	return mapping.EscapeLocal(strings.ToLower(t.cfg.FixedNetwork)) + "@" + t.cfg.Domain
}

// displayHost is the network's name for texts: the host, or the fixed
// network's for short-address sessions.
func (s *session) displayHost() string { return orText(s.host, s.net.Host) }
