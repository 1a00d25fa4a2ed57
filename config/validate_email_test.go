package config

import (
	"strings"
	"testing"
)

// emailRequiredEnv completes an email section enabled by domain and secret
// alone (the generic section tests) with the keys the email transport requires.
var emailRequiredEnv = []string{
	"XGATE_TRANSPORTS__EMAIL__RELAY=smtp.example.org:587",
	"XGATE_TRANSPORTS__EMAIL__LISTEN=127.0.0.1:2526",
}

const emailYAML = `xmpp: {domain: example.org}
transports:
  email:
    domain: mail.example.org
    secret: s
`

func TestValidateEmail(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		env   []string
		want  []string // "key: text" fragments; nil: valid
	}{
		{"defaults with relay and listener", "", emailRequiredEnv, nil},
		{"nothing", "", nil, []string{"transports.email.relay: missing", "transports.email.listen: missing"}},
		{"imap instead of a listener", "    relay: smtp.example.org:587\n    imap_addr: imap.example.org:993\n    imap_username: gw\n    imap_password: pw\n", nil, nil},
		{"imap without credentials", "    relay: smtp.example.org:587\n    imap_addr: imap.example.org:993\n", nil,
			[]string{"transports.email.imap_username: missing", "transports.email.imap_password: missing"}},
		{"bad values", "    relay: nohost\n    relay_tls: ssl\n    listen: 127.0.0.1:x\n    listen_protocol: pop\n    digest_quiet: -1s\n    digest_max_messages: 0\n    unknown_senders: all\n    mail_domain: bad_domain\n", nil,
			[]string{`transports.email.relay: "nohost" is not host:port`, `transports.email.relay_tls: "ssl" is not allowed`,
				`transports.email.listen: "127.0.0.1:x" has an invalid port`, `transports.email.listen_protocol: "pop"`,
				"transports.email.digest_quiet: -1s is negative", "transports.email.digest_max_messages: 0 is not a count",
				`transports.email.unknown_senders: "all"`, `transports.email.mail_domain: "bad_domain" is not a valid domain`}},
		{"password without user", "    relay: smtp.example.org:587\n    listen: 127.0.0.1:2526\n    relay_password: pw\n", nil,
			[]string{"transports.email.relay_username: missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadYAML(t, emailYAML+tt.extra, tt.env)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				e := c.Transports.Email
				if e.DigestQuiet.String() != "5m0s" || e.DigestMaxMessages != 50 || e.RelayTLS != "starttls" || e.UnknownSenders != "contacts" {
					t.Errorf("defaults not applied: %+v", e)
				}
				return
			}
			if err == nil {
				t.Fatalf("want problems %v, got none", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("problems lack %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "pw") {
				t.Errorf("problems show a password: %v", err)
			}
		})
	}
}
