package component

import (
	"testing"

	"mellium.im/xmpp/jid"
)

func TestAccessList(t *testing.T) {
	list := []string{"example.org", "Bob@Partner.NET", "carol@other.org/laptop"}
	a, err := newAccessList(list)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		from string
		want bool
	}{
		{"alice@example.org", true},
		{"alice@example.org/phone", true},
		{"example.org", true},
		{"ALICE@EXAMPLE.ORG/x", true},
		{"alice@sub.example.org", false}, // subdomains are not the domain
		{"sub.example.org", false},
		{"alice@evil-example.org", false},
		{"alice@example.org.evil.net", false},
		{"bob@partner.net/home", true}, // entries are normalised
		{"eve@partner.net", false},
		{"partner.net", false},
		{"carol@other.org/desktop", true}, // access is per account
		{"dave@other.org", false},
		{"stranger@elsewhere.com", false},
	} {
		j := jid.MustParse(tc.from)
		if got := a.allows(j); got != tc.want {
			t.Errorf("allows(%s) = %v, want %v", tc.from, got, tc.want)
		}
	}
	if a.allows(jid.JID{}) {
		t.Error("the empty JID is allowed")
	}
}

func TestAccessListListedSubdomain(t *testing.T) {
	a, err := newAccessList([]string{"example.org", "sub.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if !a.allows(jid.MustParse("x@sub.example.org")) {
		t.Error("a listed subdomain is not allowed")
	}
	if a.allows(jid.MustParse("x@deep.sub.example.org")) {
		t.Error("a subdomain of a listed subdomain is allowed")
	}
}

func TestAccessListInvalid(t *testing.T) {
	for _, e := range []string{"", "@example.org", "a@b@c"} {
		if _, err := newAccessList([]string{e}); err == nil {
			t.Errorf("entry %q accepted", e)
		}
	}
}

func TestGatewayAccess(t *testing.T) {
	tg := newTestGateway(t, newFakeTransport(), nil)
	for _, tc := range []struct {
		from string
		want bool
	}{
		{"alice@example.org/phone", true},
		{"example.org", true},            // the server itself (and its domain is the default list)
		{"alice@other.org/phone", false}, // federated stranger
		{"x@sub.example.org", false},
	} {
		if got := tg.allowed(jid.MustParse(tc.from)); got != tc.want {
			t.Errorf("allowed(%s) = %v, want %v", tc.from, got, tc.want)
		}
	}
	// With an explicit list, the server's own domain still reaches the domain
	// (pings, disco), but its users do not.
	tg = newTestGateway(t, newFakeTransport(), func(c *GatewayConfig) { c.Allow = []string{"bob@example.org"} })
	for _, tc := range []struct {
		from string
		want bool
	}{
		{"bob@example.org/x", true},
		{"alice@example.org/phone", false},
		{"example.org", true},
	} {
		if got := tg.allowed(jid.MustParse(tc.from)); got != tc.want {
			t.Errorf("explicit list: allowed(%s) = %v, want %v", tc.from, got, tc.want)
		}
	}
}
