package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"xgate/transports"
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
			ServerPassword: n.Password, Bind: n.Bind,
		})
	}
	if c.SecretsKey != "" {
		key, err := hex.DecodeString(c.SecretsKey) // validated by config
		if err != nil {
			return nil, errors.New("transports.irc.secrets_key: not hex")
		}
		cfg.SecretsKey = key
	}
	t, err := irc.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("transports.irc: %w", err)
	}
	// Registrations hold the users' per-network settings (SASL credentials).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	regs, err := d.st.ListRegistrations(ctx, t.Name())
	if err != nil {
		return nil, fmt.Errorf("transports.irc: load registrations: %w", err)
	}
	for _, r := range regs {
		t.Restore(transports.Registration{User: r.User, RemoteID: r.RemoteID, Settings: r.Settings})
	}
	return &builtTransport{common: c.Component, transport: t}, nil
}
