package main

import (
	"fmt"

	"xgate/transports/irc"
)

func buildIRC(d deps) (*builtTransport, error) {
	c := d.cfg.Transports.IRC
	if c == nil {
		return nil, nil
	}
	cfg := irc.Config{
		Domain:       c.Domain,
		Version:      version,
		AnyNetwork:   c.AnyNetwork || len(c.Networks) == 0,
		FixedNetwork: c.FixedNetwork,
		Logger:       d.log.With("transport", "irc"),
	}
	for _, n := range c.Networks {
		cfg.Networks = append(cfg.Networks, irc.Network{
			Host: n.Host, Port: n.Port, Plaintext: n.Plaintext,
			Burst: n.Burst, Interval: n.Interval, Encoding: n.Encoding,
			Username: n.Username, Realname: n.Realname,
		})
	}
	t, err := irc.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("transports.irc: %w", err)
	}
	return &builtTransport{common: c.Component, transport: t}, nil
}
