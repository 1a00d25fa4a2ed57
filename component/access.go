package component

import (
	"fmt"

	"mellium.im/xmpp/jid"
)

// accessList is who may use a domain: bare JIDs and whole domains. It is built
// once from the configuration and only read afterwards.
type accessList struct {
	jids    map[string]struct{} // normalised bare JIDs with a localpart
	domains map[string]struct{} // normalised domainparts
}

// newAccessList parses entries ("alice@example.org", "example.org"). Entries
// are normalised the way incoming JIDs are (case folding, IDNA), so the match
// does not depend on how the operator or the client spelled them. A resource
// in an entry is ignored: access is per account, not per device.
func newAccessList(entries []string) (accessList, error) {
	a := accessList{jids: map[string]struct{}{}, domains: map[string]struct{}{}}
	for _, e := range entries {
		j, err := jid.Parse(e)
		if err != nil {
			return accessList{}, fmt.Errorf("component: access entry %q: %w", e, err)
		}
		if j.Localpart() == "" {
			a.domains[j.Domainpart()] = struct{}{}
			continue
		}
		a.jids[j.Bare().String()] = struct{}{}
	}
	return a, nil
}

// allows reports whether from may use the domain: its bare JID is listed, or
// its exact domain is. Subdomains do not match a listed domain (listing
// "example.org" does not admit "evil.example.org" or its users): a federated
// server's name says nothing about who runs it. An empty JID is never allowed.
func (a accessList) allows(from jid.JID) bool {
	d := from.Domainpart()
	if d == "" {
		return false
	}
	if _, ok := a.domains[d]; ok {
		return true
	}
	if from.Localpart() == "" {
		return false
	}
	_, ok := a.jids[from.Bare().String()]
	return ok
}
