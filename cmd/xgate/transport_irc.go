package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"xgate/config"
	"xgate/store"
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
		Bouncer: irc.Bouncer{
			Store:      d.st,
			Persistent: c.Persistent,
			History:    c.Archive.History,
		},
	}
	if c.Archive.Enabled {
		a, ok := d.st.(store.Archives)
		if !ok {
			return nil, errors.New("transports.irc.archive: the store has no archive")
		}
		cfg.Archive, cfg.ArchiveRetention = a, c.Archive.Retention
	}
	for _, n := range c.Networks {
		net := irc.Network{
			Host: n.Host, Port: n.Port, Plaintext: n.Plaintext,
			Burst: n.Burst, Interval: n.Interval, Encoding: n.Encoding,
			Username: n.Username, Realname: n.Realname,
			ServerPassword: n.Password, Bind: n.Bind,
		}
		if n.TLSCAFile != "" {
			pool, err := config.LoadCAFile(n.TLSCAFile) // validated by config
			if err != nil {
				return nil, fmt.Errorf("transports.irc.networks: tls_ca_file: %w", err)
			}
			net.RootCAs = pool
		}
		if w := n.WebIRC; w != nil {
			net.WebIRC = irc.WebIRC{Password: w.Password, Gateway: w.Gateway, HostSuffix: w.HostSuffix, Prefix: w.Prefix}
		}
		cfg.Networks = append(cfg.Networks, net)
	}
	if c.SecretsKey != "" {
		key, err := hex.DecodeString(c.SecretsKey) // validated by config
		if err != nil {
			return nil, errors.New("transports.irc.secrets_key: not hex")
		}
		cfg.SecretsKey = key
	} else {
		d.log.Warn("transports.irc.secrets_key is not set: the passwords and client certificates users give (registration, ad-hoc configure) are stored in clear")
	}
	budget, err := ircBudget(c) // connection caps and identd (transport_irc_budget.go)
	if err != nil {
		return nil, err
	}
	cfg.Budget = budget
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
