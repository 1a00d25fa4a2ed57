package config

import (
	"strings"
	"testing"
)

func TestIRCBudgetKeys(t *testing.T) {
	tests := []struct {
		name, top, net string
		want           string // "" valid; else a part of the problem line
		check          func(*IRC) bool
	}{
		{"defaults", "", "", "", func(c *IRC) bool {
			return c.MaxConnectionsPerNetwork == 0 && c.Networks[0].MaxConnections == 0 && c.Identd.Listen == ""
		}},
		{"caps", "max_connections_per_network: 3\n", "max_connections: 10\n", "", func(c *IRC) bool {
			return c.MaxConnectionsPerNetwork == 3 && c.Networks[0].MaxConnections == 10
		}},
		{"identd", "identd: {listen: \"0.0.0.0:113\"}\n", "", "", func(c *IRC) bool { return c.Identd.Listen == "0.0.0.0:113" }},
		{"negative network cap", "", "max_connections: -1\n", "transports.irc.networks[0].max_connections: -1 is negative", nil},
		{"negative default cap", "max_connections_per_network: -2\n", "", "transports.irc.max_connections_per_network: -2 is negative", nil},
		{"identd not host:port", "identd: {listen: \"113\"}\n", "", "transports.irc.identd.listen: \"113\" is not host:port", nil},
		{"identd bad port", "identd: {listen: \"127.0.0.1:70000\"}\n", "", "transports.irc.identd.listen: \"127.0.0.1:70000\" has an invalid port", nil},
		{"identd unknown key", "identd: {port: 113}\n", "", "transports.irc.identd.port: unknown key", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadYAML(t, "xmpp: {domain: example.org}\ntransports:\n  irc:\n    domain: irc.example.org\n    secret: s\n"+
				budgetIndent(tt.top, "    ")+"    networks:\n      - host: irc.example.org\n"+budgetIndent(tt.net, "        "), nil)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if !tt.check(c.Transports.IRC) {
				t.Errorf("not loaded as expected: %+v", *c.Transports.IRC)
			}
		})
	}
}

func budgetIndent(s, by string) string {
	if s == "" {
		return ""
	}
	return by + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+by) + "\n"
}
