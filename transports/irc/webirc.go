package irc

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// defaultWebIRCPrefix holds the users' addresses when the operator sets no
// prefix: unique local addresses (RFC 4193), which route nowhere and
// collide with no real user.
const defaultWebIRCPrefix = "fd00::/8"

// validate checks the WEBIRC settings (an empty password turns WEBIRC off).
func (w WebIRC) validate() error {
	if w.Password == "" {
		return nil
	}
	if w.Prefix != "" {
		p, err := netip.ParsePrefix(w.Prefix)
		if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() || p.Bits() > 96 {
			return fmt.Errorf("webirc prefix %q is not an IPv6 prefix of /96 or shorter", w.Prefix)
		}
	}
	if strings.ContainsAny(w.Gateway+w.HostSuffix, " \r\n\x00") {
		return errors.New("webirc gateway or host suffix contains a space or control character")
	}
	return nil
}

// webirc is what the session sends as WEBIRC: the zero value (nothing
// sent) without a password. Each user gets a host name and an IPv6
// address of their own, stable across connections and restarts, so a
// network can ban one user rather than the gateway:
//
//   - the host is <16 hex digits>.<host suffix>, the digits an HMAC-SHA256
//     of the user's bare JID keyed with the WEBIRC password: it reveals
//     neither the JID nor the XMPP server (a hash without a key could be
//     checked against guessed JIDs), and changes only if the password does;
//   - the address is the configured prefix with the bits after it taken
//     from the same HMAC.
func (s *session) webirc() []string {
	w := s.net.WebIRC
	if w.Password == "" {
		return nil
	}
	host, addr := webircIdentity(w, s.u.t.cfg.Domain, s.u.jid)
	return []string{w.Password, orText(w.Gateway, "xgate"), host, addr}
}

// webircIdentity derives the host name and address of user (a bare JID).
func webircIdentity(w WebIRC, domain, user string) (host, addr string) {
	m := hmac.New(sha256.New, []byte(w.Password))
	m.Write([]byte("xgate webirc\x00" + strings.ToLower(user)))
	sum := m.Sum(nil)
	host = hex.EncodeToString(sum[:8]) + "." + strings.Trim(orText(w.HostSuffix, domain), ".")
	p, err := netip.ParsePrefix(orText(w.Prefix, defaultWebIRCPrefix))
	if err != nil || !p.Addr().Is6() {
		p = netip.MustParsePrefix(defaultWebIRCPrefix)
	}
	p = p.Masked()
	a := p.Addr().As16()
	// Fill the bits after the prefix with the HMAC (bytes 8.. of it).
	for i := p.Bits(); i < 128; i++ {
		bit := (sum[8+(i-p.Bits())/8%24] >> (7 - uint((i-p.Bits())%8))) & 1
		a[i/8] |= bit << (7 - uint(i%8))
	}
	addr = netip.AddrFrom16(a).String()
	if strings.HasPrefix(addr, ":") {
		addr = "0" + addr // an IRC parameter cannot start with ':'
	}
	return host, addr
}
