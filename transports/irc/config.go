package irc

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"
)

// Config is what the transport needs from xgate's configuration.
type Config struct {
	// Domain is the component domain (irc.gw.example.org).
	Domain string
	// Version is xgate's version, answered to CTCP VERSION.
	Version string
	// Networks are the IRC networks users may reach. When AnyNetwork is set,
	// a server not listed is reached with DefaultNetwork's settings.
	Networks   []Network
	AnyNetwork bool
	// FixedNetwork, when set, is the host of a network that may be
	// addressed without a server: #chan@irc.gw, nick@irc.gw, and the host
	// itself for the network (fixed.go). %-addresses keep working.
	FixedNetwork string
	// Logger defaults to discarding.
	Logger *slog.Logger
	// TLSConfig, if set, is the base TLS configuration (tests add a root CA).
	TLSConfig *tls.Config
	// SecretsKey, when set (32 bytes), encrypts the SASL passwords kept in
	// registration settings (AES-256-GCM). Without it they are kept as given.
	SecretsKey []byte
	// Bouncer: the store, the archive and persistent rooms (bouncer.go).
	Bouncer
	// Budget: connections per network and identd (budget.go, identd.go).
	Budget Budget
}

// Network is one IRC network's connection settings.
type Network struct {
	// Host is the server name users put in addresses and xgate dials.
	Host string
	// Port defaults to 6697 with TLS, 6667 without.
	Port int
	// TLS is on by default; Plaintext turns it off (tests, local servers).
	Plaintext bool
	// Burst lines may be sent at once, then one per Interval (defaults 10
	// and 1s).
	Burst    int
	Interval time.Duration
	// Encoding is the fallback for lines that are not valid UTF-8: "cp1252"
	// (default) or "latin1".
	Encoding string
	// Realname and Username sent at registration (defaults "xgate user" and
	// "xgate").
	Realname, Username string
	// ServerPassword is sent as PASS before registration (never logged).
	ServerPassword string
	// Bind is the local IP address to connect from (empty: any).
	Bind string
	// RootCAs, when set, are the CAs trusted for this network's TLS
	// certificate instead of the system's (a private network's CA).
	RootCAs *x509.CertPool
	// WebIRC, when its Password is set, is sent before registration so the
	// network sees each user with a host and address of their own
	// (webirc.go).
	WebIRC WebIRC
}

// WebIRC is a network's WEBIRC settings.
type WebIRC struct {
	// Password is the WEBIRC password (never logged).
	Password string
	// Gateway is the gateway name (default "xgate").
	Gateway string
	// HostSuffix ends the users' host names (default: the component domain).
	HostSuffix string
	// Prefix is the IPv6 prefix of the users' addresses (default fd00::/8).
	Prefix string
}

// DefaultNetwork returns n with its defaults filled in.
func (n Network) withDefaults() Network {
	if n.Port == 0 {
		n.Port = 6697
		if n.Plaintext {
			n.Port = 6667
		}
	}
	if n.Burst <= 0 {
		n.Burst = 10
	}
	if n.Interval <= 0 {
		n.Interval = time.Second
	}
	if n.Encoding == "" {
		n.Encoding = "cp1252"
	}
	if n.Realname == "" {
		n.Realname = "xgate user"
	}
	if n.Username == "" {
		n.Username = "xgate"
	}
	return n
}

func (c Config) validate() error {
	if c.Domain == "" {
		return errors.New("irc: config: no domain")
	}
	if len(c.Networks) == 0 && !c.AnyNetwork {
		return errors.New("irc: config: no network is configured and any_network is off")
	}
	for i, n := range c.Networks {
		if n.Host == "" {
			return fmt.Errorf("irc: config: networks[%d]: no host", i)
		}
		if n.Encoding != "" && n.Encoding != "cp1252" && n.Encoding != "latin1" {
			return fmt.Errorf("irc: config: networks[%d]: encoding %q (expected cp1252 or latin1)", i, n.Encoding)
		}
		if _, err := netip.ParseAddr(n.Bind); n.Bind != "" && err != nil {
			return fmt.Errorf("irc: config: networks[%d]: bind %q is not an IP address", i, n.Bind)
		}
		if err := n.WebIRC.validate(); err != nil {
			return fmt.Errorf("irc: config: networks[%d]: %w", i, err)
		}
	}
	return nil
}

// network returns the settings for host, or false when users may not reach
// it.
func (t *Transport) network(host string) (Network, bool) {
	if host == "" {
		return t.fixedNetwork() // a short address (fixed.go)
	}
	for _, n := range t.cfg.Networks {
		if strings.EqualFold(n.Host, host) {
			return n.withDefaults(), true
		}
	}
	if t.cfg.AnyNetwork {
		return Network{Host: host}.withDefaults(), true
	}
	return Network{}, false
}
