package config

import "strconv"

// validateIRCBudget checks the IRC keys that protect the gateway's address:
// the connection caps per network and identd.
func (c *Config) validateIRCBudget(ps *problems) {
	irc := c.Transports.IRC
	if irc == nil {
		return
	}
	for i, n := range irc.Networks {
		if n.MaxConnections < 0 {
			ps.add("transports.irc.networks["+strconv.Itoa(i)+"].max_connections",
				"%d is negative (expected the most connections xgate opens to the network, e.g. 10; 0 means no cap)", n.MaxConnections)
		}
	}
	if irc.MaxConnectionsPerNetwork < 0 {
		ps.add("transports.irc.max_connections_per_network",
			"%d is negative (expected the most connections xgate opens to each network that is not listed, e.g. 3; 0 means no cap)", irc.MaxConnectionsPerNetwork)
	}
	if l := irc.Identd.Listen; l != "" {
		hostPort(ps, "transports.irc.identd.listen", l, "host:port for the ident server (IRC servers ask port 113)", "0.0.0.0:113", true)
	}
}
