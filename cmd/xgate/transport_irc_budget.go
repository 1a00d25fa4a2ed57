package main

import (
	"fmt"
	"net"
	"strings"

	"xgate/config"
	"xgate/transports/irc"
)

// ircBudget is the IRC transport's connection caps and identd listener
// (transports.irc.max_connections_per_network, networks[].max_connections,
// identd.listen). The listener is opened here, so that a port that cannot
// be bound stops xgate at start-up with the key's name; the transport
// closes it when it stops.
func ircBudget(c *config.IRC) (irc.Budget, error) {
	b := irc.Budget{MaxConnectionsPerNetwork: c.MaxConnectionsPerNetwork, MaxConnections: map[string]int{}}
	for _, n := range c.Networks {
		if n.MaxConnections > 0 {
			b.MaxConnections[strings.ToLower(n.Host)] = n.MaxConnections
		}
	}
	if c.Identd.Listen != "" {
		ln, err := net.Listen("tcp", c.Identd.Listen)
		if err != nil {
			return irc.Budget{}, fmt.Errorf("transports.irc.identd.listen: %w", err)
		}
		b.IdentdListener = ln
	}
	return b, nil
}
