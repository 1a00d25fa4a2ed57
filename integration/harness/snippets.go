package harness

import (
	"fmt"
	"strings"
)

// The server configuration snippets an operator adds to attach xgate. They are
// produced here, in one place: the harness builds the test servers' configs
// with them, and docs/prosody.md and docs/ejabberd.md print them for the
// example values in DocExample (a test checks the docs contain them verbatim,
// so the docs cannot drift from what the tests run).

// DocExample holds the values the operator documentation uses in its snippets.
type DocExample struct {
	Port       int
	Components []Component
	// Balancing is the ejabberd domain_balancing example.
	Balancing []Balancing
}

// DocExampleValues returns the values printed in docs/prosody.md and
// docs/ejabberd.md.
func DocExampleValues() DocExample {
	return DocExample{
		Port: 5347,
		Components: []Component{
			{Domain: "sms.example.org", Secret: "change-me-sms-secret"},
			{Domain: "mail.example.org", Secret: "change-me-mail-secret"},
		},
		Balancing: []Balancing{{Domain: "sms.example.org", Type: "bare_source", ComponentNumber: 2}},
	}
}

// ProsodyComponentListenerSnippet is the global Prosody setting that opens the
// XEP-0114 listener on 127.0.0.1:port only.
func ProsodyComponentListenerSnippet(port int) string {
	return fmt.Sprintf("component_interfaces = { \"127.0.0.1\" }\ncomponent_ports = { %d }\n", port)
}

// ProsodyComponentSnippet declares one xgate domain in prosody.cfg.lua. It goes
// after the VirtualHost sections (Prosody applies settings to the last section
// opened).
func ProsodyComponentSnippet(domain, secret string) string {
	return fmt.Sprintf("Component %s\n    component_secret = %s\n", luaQuote(domain), luaQuote(secret))
}

// EjabberdServiceSnippet is one item of ejabberd.yml's listen: list: the
// ejabberd_service listener on 127.0.0.1:port accepting the given component
// domains, each with its own password.
func EjabberdServiceSnippet(port int, comps []Component) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  -\n    port: %d\n    ip: \"127.0.0.1\"\n    module: ejabberd_service\n    hosts:\n", port)
	for _, c := range comps {
		fmt.Fprintf(&b, "      %s:\n        password: %s\n", yamlQuote(c.Domain), yamlQuote(c.Secret))
	}
	return b.String()
}

// Balancing is an ejabberd domain_balancing entry for one component domain.
type Balancing struct {
	Domain string
	// Type is random, source, destination, bare_source or bare_destination.
	Type string
	// ComponentNumber must equal the number of connections that serve Domain
	// (ejabberd 23.01 crashes every handshake without it and silently drops
	// stanzas hashed to a slot nobody holds). Valid values are 2–1000.
	ComponentNumber int
}

// EjabberdBalancingSnippet is ejabberd.yml's top-level domain_balancing option.
func EjabberdBalancingSnippet(bs []Balancing) string {
	if len(bs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("domain_balancing:\n")
	for _, x := range bs {
		fmt.Fprintf(&b, "  %s:\n    type: %s\n    component_number: %d\n", yamlQuote(x.Domain), x.Type, x.ComponentNumber)
	}
	return b.String()
}

// luaQuote returns s as a Lua double-quoted string literal.
func luaQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// yamlQuote returns s as a YAML double-quoted scalar.
func yamlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
