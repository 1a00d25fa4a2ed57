package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIRCSecretsKey(t *testing.T) {
	const good = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	file := filepath.Join(t.TempDir(), "irc.key")
	if err := os.WriteFile(file, []byte(good+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, keys string
		want       string // "" valid; else a part of the problem line
	}{
		{"inline", "secrets_key: " + good, ""},
		{"file", "secrets_key_file: " + file, ""},
		{"short", "secrets_key: abcdef", "transports.irc.secrets_key: is not 64 hex digits"},
		{"not hex", "secrets_key: " + strings.Repeat("zz", 32), "transports.irc.secrets_key: is not 64 hex digits"},
		{"both", "secrets_key: " + good + "\n    secrets_key_file: " + file, "expected exactly one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadYAML(t, "xmpp: {domain: example.org}\ntransports:\n  irc:\n    domain: irc.example.org\n    secret: s\n    "+tt.keys+"\n", nil)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if c.Transports.IRC.SecretsKey != good {
					t.Fatalf("secrets_key not loaded")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "zzzz") || strings.Contains(err.Error(), good) {
				t.Fatalf("the key is shown: %v", err)
			}
		})
	}
}

func TestIRCNetworkPasswordAndBind(t *testing.T) {
	tests := []struct {
		name, keys string
		want       string // "" valid; else a part of the problem line
	}{
		{"none", "", ""},
		{"ipv4", "bind: 192.0.2.10", ""},
		{"ipv6", "bind: \"2001:db8::10\"", ""},
		{"host name", "bind: irc.example.org", "transports.irc.networks[0].bind: \"irc.example.org\" is not an IP address"},
		{"with port", "bind: 192.0.2.10:5000", "is not an IP address"},
		{"password", "password: pass-w0rd\n        bind: 192.0.2.10", ""},
		{"missing CA file", "tls_ca_file: /nonexistent/ca.pem", "transports.irc.networks[0].tls_ca_file: cannot read /nonexistent/ca.pem"},
		{"CA file not PEM", "tls_ca_file: /etc/passwd", "/etc/passwd holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadYAML(t, "xmpp: {domain: example.org}\ntransports:\n  irc:\n    domain: irc.example.org\n    secret: s\n"+
				"    networks:\n      - host: irc.example.org\n        "+tt.keys+"\n", nil)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			n := c.Transports.IRC.Networks[0]
			if strings.Contains(tt.keys, "password") && n.Password != "pass-w0rd" {
				t.Errorf("password not loaded: %q", n.Password)
			}
			if strings.Contains(tt.keys, "bind") && n.Bind == "" {
				t.Errorf("bind not loaded")
			}
			r := c.Redacted()
			if strings.Contains(r, "pass-w0rd") {
				t.Errorf("Redacted shows the server password:\n%s", r)
			}
			if strings.Contains(tt.keys, "password") && !strings.Contains(r, "transports.irc.networks[0].password: <hidden>") {
				t.Errorf("Redacted does not hide the server password:\n%s", r)
			}
		})
	}
}

func TestIRCNetworkPasswordFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "irc.pass")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadYAML(t, "xmpp: {domain: example.org}\ntransports:\n  irc:\n    domain: irc.example.org\n    secret: s\n"+
		"    networks:\n      - host: irc.example.org\n        password_file: "+file+"\n", nil)
	if err != nil {
		t.Fatalf("rejected: %v", err)
	}
	if got := c.Transports.IRC.Networks[0].Password; got != "from-file" {
		t.Errorf("password from file = %q, want from-file", got)
	}
}
