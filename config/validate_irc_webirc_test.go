package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIRCWebIRC(t *testing.T) {
	file := filepath.Join(t.TempDir(), "webirc.pass")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, block string
		want        string // "" valid; else a part of the problem line
		pass        string
	}{
		{"inline", "{password: wp, gateway: gw, host_suffix: users.example.org, prefix: \"2001:db8::/64\"}", "", "wp"},
		{"file", "{password_file: " + file + "}", "", "from-file"},
		{"no password", "{gateway: gw}", "transports.irc.networks[0].webirc.password: missing", ""},
		{"v4 prefix", "{password: wp, prefix: 10.0.0.0/8}", "webirc.prefix: \"10.0.0.0/8\" is not an IPv6 prefix", ""},
		{"long prefix", "{password: wp, prefix: \"2001:db8::/120\"}", "leaves fewer than 32 bits", ""},
		{"bad suffix", "{password: wp, host_suffix: \"a@b\"}", "webirc.host_suffix", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadYAML(t, "xmpp: {domain: example.org}\ntransports:\n  irc:\n    domain: irc.example.org\n    secret: s\n"+
				"    networks:\n      - host: irc.example.net\n        webirc: "+tt.block+"\n", nil)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if got := c.Transports.IRC.Networks[0].WebIRC.Password; got != tt.pass {
					t.Fatalf("password %q, want %q", got, tt.pass)
				}
				if strings.Contains(c.Redacted(), tt.pass) {
					t.Errorf("Redacted shows the WEBIRC password:\n%s", c.Redacted())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}
