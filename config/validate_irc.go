package config

import (
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// validateIRC checks transports.irc beyond the common component keys.
func (c *Config) validateIRC(ps *problems) {
	irc := c.Transports.IRC
	if irc == nil {
		return
	}
	hosts := map[string]bool{}
	for i, n := range irc.Networks {
		base := "transports.irc.networks[" + strconv.Itoa(i) + "]"
		host := strings.ToLower(strings.TrimSpace(n.Host))
		switch {
		case host == "":
			ps.add(base+".host", "missing (expected the IRC server's host name, e.g. irc.libera.chat)")
		case strings.ContainsAny(host, " /:%@"):
			ps.add(base+".host", "%q is not a host name (expected e.g. irc.libera.chat or 127.0.0.1, without port)", n.Host)
		case hosts[host]:
			ps.add(base+".host", "%q is listed twice (expected each network once)", n.Host)
		}
		hosts[host] = true
		if n.Port < 0 || n.Port > 65535 {
			ps.add(base+".port", "%d is not a port (expected 1-65535; 0 or absent means 6697, or 6667 with plaintext)", n.Port)
		}
		if n.Burst < 0 {
			ps.add(base+".burst", "%d is negative (expected the lines sent at once, e.g. 10; 0 means 10)", n.Burst)
		}
		if n.Interval < 0 {
			ps.add(base+".interval", "%s is negative (expected the time between lines after the burst, e.g. 1s)", n.Interval)
		}
		if n.TLSCAFile != "" {
			if _, err := LoadCAFile(n.TLSCAFile); err != nil {
				ps.add(base+".tls_ca_file", "%v (expected a PEM file of CA certificates)", err)
			}
		}
		if n.Bind != "" {
			if _, err := netip.ParseAddr(n.Bind); err != nil {
				ps.add(base+".bind", "%q is not an IP address (expected the local address to connect from, e.g. 192.0.2.10 or 2001:db8::10)", n.Bind)
			}
		}
		switch n.Encoding {
		case "", "cp1252", "latin1":
		default:
			ps.add(base+".encoding", "%q is not a supported fallback encoding (expected cp1252 or latin1)", n.Encoding)
		}
		validateWebIRC(n.WebIRC, base+".webirc", ps)
	}
	if k := irc.SecretsKey; k != "" {
		if b, err := hex.DecodeString(k); err != nil || len(b) != 32 {
			ps.add("transports.irc.secrets_key", "is not 64 hex digits (expected a 32-byte key, e.g. from `openssl rand -hex 32`)")
		}
	}
	if f := strings.ToLower(irc.FixedNetwork); f != "" && !hosts[f] {
		ps.add("transports.irc.fixed_network", "%q is not one of the networks' hosts (expected one of transports.irc.networks[].host)", irc.FixedNetwork)
	}
}

// validateWebIRC checks a network's webirc block: a password is required,
// the prefix must be an IPv6 prefix that leaves bits for the users.
func validateWebIRC(w *IRCWebIRC, base string, ps *problems) {
	if w == nil {
		return
	}
	if w.Password == "" {
		ps.add(base+".password", "missing (expected the WEBIRC password the network's operators gave you, or password_file)")
	}
	if strings.ContainsAny(w.Gateway, " \r\n\x00") {
		ps.add(base+".gateway", "%q contains a space or control character (expected a name such as xgate)", w.Gateway)
	}
	if strings.ContainsAny(w.HostSuffix, " \r\n\x00:@!") {
		ps.add(base+".host_suffix", "%q is not a host name (expected e.g. users.irc.gw.example.org)", w.HostSuffix)
	}
	if w.Prefix != "" {
		p, err := netip.ParsePrefix(w.Prefix)
		switch {
		case err != nil || !p.Addr().Is6() || p.Addr().Is4In6():
			ps.add(base+".prefix", "%q is not an IPv6 prefix (expected e.g. 2001:db8:42::/64)", w.Prefix)
		case p.Bits() > 96:
			ps.add(base+".prefix", "%q leaves fewer than 32 bits for users (expected /96 or shorter, e.g. /64)", w.Prefix)
		}
	}
}

// LoadCAFile reads a PEM file of CA certificates into a pool.
func LoadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
