package config

import (
	"strings"
	"testing"
	"time"
)

func TestValidConfigPasses(t *testing.T) {
	c := validConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("valid config rejected:\n%v", err)
	}
}

func TestValidationRules(t *testing.T) {
	irc := func(c *Config) *IRC {
		c.Transports.IRC = &IRC{Component: Component{Domain: "irc.example.org", Secret: "x"}}
		return c.Transports.IRC
	}
	tests := []struct {
		name   string
		mutate func(c *Config)
		key    string // "" means the config is valid
		line   string // the full expected line, or a part of it
	}{
		// xmpp
		{"server not host:port", func(c *Config) { c.XMPP.Server = "localhost" }, "xmpp.server",
			`xmpp.server: "localhost" is not host:port (expected e.g. 127.0.0.1:5347)`},
		{"server missing", func(c *Config) { c.XMPP.Server = "" }, "xmpp.server", "missing (expected host:port"},
		{"server without host", func(c *Config) { c.XMPP.Server = ":5347" }, "xmpp.server", "is not host:port"},
		{"server port 0", func(c *Config) { c.XMPP.Server = "127.0.0.1:0" }, "xmpp.server", `invalid port "0" (expected 1 to 65535`},
		{"server port text", func(c *Config) { c.XMPP.Server = "localhost:xmpp" }, "xmpp.server", `invalid port "xmpp"`},
		{"server ipv6", func(c *Config) { c.XMPP.Server = "[::1]:5347" }, "", ""},
		{"domain missing", func(c *Config) { c.XMPP.Domain = "" }, "xmpp.domain", "missing (expected the XMPP server's own domain"},
		{"domain with space", func(c *Config) { c.XMPP.Domain = "exa mple.org" }, "xmpp.domain",
			`"exa mple.org" is not a valid domain: it contains ' '`},
		{"domain trailing dot", func(c *Config) { c.XMPP.Domain = "example.org." }, "xmpp.domain", "ends with a dot"},
		{"domain ip", func(c *Config) { c.XMPP.Domain = "192.0.2.1" }, "xmpp.domain", "is an IP address"},
		{"domain hyphen", func(c *Config) { c.XMPP.Domain = "-x.example.org" }, "xmpp.domain", "starts or ends with a hyphen"},
		{"domain empty label", func(c *Config) { c.XMPP.Domain = "a..org" }, "xmpp.domain", "empty label"},
		{"domain long label", func(c *Config) { c.XMPP.Domain = strings.Repeat("a", 64) + ".org" }, "xmpp.domain", "longer than 63"},
		{"domain unicode", func(c *Config) { c.XMPP.Domain = "bücher.example" }, "xmpp.domain", "xn-- form"},
		{"domain localhost", func(c *Config) { c.XMPP.Domain = "localhost" }, "", ""},
		{"keepalive zero", func(c *Config) { c.XMPP.Keepalive = 0 }, "xmpp.keepalive", "0s is not a positive duration"},
		{"keepalive timeout negative", func(c *Config) { c.XMPP.KeepaliveTimeout = -time.Second }, "xmpp.keepalive_timeout", "-1s is not a positive duration"},
		{"reconnect max zero", func(c *Config) { c.XMPP.ReconnectMax = 0 }, "xmpp.reconnect_max", "not a positive duration"},
		{"stanza size zero", func(c *Config) { c.XMPP.MaxStanzaSize = 0 }, "xmpp.max_stanza_size", "0 is not a size"},
		// store
		{"driver unknown", func(c *Config) { c.Store.Driver = "mysql" }, "store.driver",
			`store.driver: "mysql" is not a database driver (expected sqlite or postgres)`},
		{"sqlite dsn missing", func(c *Config) { c.Store.DSN = " " }, "store.dsn", "missing (expected the SQLite database file"},
		{"sqlite given a postgres url", func(c *Config) { c.Store.DSN = "postgres://x@db/xgate" }, "store.dsn", "is a PostgreSQL URL but store.driver is sqlite"},
		{"sqlite file uri", func(c *Config) { c.Store.DSN = "file:/var/lib/xgate/x.db?_pragma=busy_timeout(5000)" }, "", ""},
		{"postgres url", func(c *Config) {
			c.Store.Driver, c.Store.DSN = "postgres", "postgres://xgate:pw@127.0.0.1:5432/xgate?sslmode=disable"
		}, "", ""},
		{"postgresql url", func(c *Config) { c.Store.Driver, c.Store.DSN = "postgres", "postgresql:///xgate?host=/run/postgresql" }, "", ""},
		{"postgres key=value", func(c *Config) {
			c.Store.Driver, c.Store.DSN = "postgres", "host=127.0.0.1 port=5432 dbname=xgate user=xgate password='a b\\'c'"
		}, "", ""},
		{"postgres dsn missing", func(c *Config) { c.Store.Driver, c.Store.DSN = "postgres", "" }, "store.dsn", "missing (expected postgres://"},
		{"postgres other scheme", func(c *Config) { c.Store.Driver, c.Store.DSN = "postgres", "mysql://db/x" }, "store.dsn", `"mysql://db/x" is not a postgres:// URL`},
		{"postgres garbage", func(c *Config) { c.Store.Driver, c.Store.DSN = "postgres", "xgate.db" }, "store.dsn", "neither a postgres:// URL nor key=value pairs"},
		{"postgres unclosed quote", func(c *Config) { c.Store.Driver, c.Store.DSN = "postgres", "host=x password='abc" }, "store.dsn", "neither"},
		{"postgres bad url", func(c *Config) { c.Store.Driver, c.Store.DSN = "postgres", "postgres://u:pw@db:port/x" }, "store.dsn", "does not parse: invalid port"},
		// http, log
		{"listen not host:port", func(c *Config) { c.HTTP.Listen = "8480" }, "http.listen", `"8480" is not host:port (expected e.g. 127.0.0.1:8480)`},
		{"listen all interfaces", func(c *Config) { c.HTTP.Listen = ":8480" }, "", ""},
		{"listen any port", func(c *Config) { c.HTTP.Listen = "127.0.0.1:0" }, "", ""},
		{"listen port too big", func(c *Config) { c.HTTP.Listen = "127.0.0.1:65536" }, "http.listen", "invalid port"},
		{"public url relative", func(c *Config) { c.HTTP.PublicURL = "gw.example.org" }, "http.public_url",
			`"gw.example.org" is not an absolute http(s) URL (expected e.g. https://gw.example.org)`},
		{"public url scheme", func(c *Config) { c.HTTP.PublicURL = "ftp://gw.example.org" }, "http.public_url", "not an absolute http(s) URL"},
		{"public url ok", func(c *Config) { c.HTTP.PublicURL = "https://gw.example.org/xgate" }, "", ""},
		{"log level", func(c *Config) { c.Log.Level = "verbose" }, "log.level", `"verbose" is not allowed (expected one of debug, info, warn, error)`},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, "log.format", `"xml" is not allowed (expected one of text, json)`},
		// delivery
		{"give up zero", func(c *Config) { c.Delivery.GiveUpAfter = 0 }, "delivery.give_up_after", "not a positive duration"},
		{"retry min zero", func(c *Config) { c.Delivery.RetryMin = 0 }, "delivery.retry_min", "not a positive duration"},
		{"retry max zero", func(c *Config) { c.Delivery.RetryMax = 0 }, "delivery.retry_max", "not a positive duration"},
		{"retry min over max", func(c *Config) { c.Delivery.RetryMin = time.Hour }, "delivery.retry_min", "1h0m0s is more than delivery.retry_max (10m0s)"},
		{"workers zero", func(c *Config) { c.Delivery.Workers = 0 }, "delivery.workers", "0 is not a number of workers (expected 1 or more)"},
		{"lease zero", func(c *Config) { c.Delivery.Lease = 0 }, "delivery.lease", "not a positive duration"},
		{"lease negative", func(c *Config) { c.Delivery.Lease = -time.Second }, "delivery.lease", "not a positive duration"},
		{"handle timeout zero", func(c *Config) { c.Delivery.HandleTimeout = 0 }, "delivery.handle_timeout", "not a positive duration"},
		// transports
		{"no transport", func(c *Config) { c.Transports.Webhook = nil }, "transports", "no transport is configured"},
		{"transport domain missing", func(c *Config) { c.Transports.Webhook.Domain = "" }, "transports.webhook.domain", "missing (expected the component domain"},
		{"transport domain invalid", func(c *Config) { c.Transports.Webhook.Domain = "hook_example.org" }, "transports.webhook.domain", `it contains '_'`},
		{"transport domain is xmpp.domain", func(c *Config) { c.Transports.Webhook.Domain = "example.org" }, "transports.webhook.domain",
			`"example.org" is already used by xmpp.domain (expected a domain of its own`},
		{"two transports one domain", func(c *Config) { irc(c).Domain = "hook.example.org" }, "transports.webhook.domain",
			`"hook.example.org" is already used by transports.irc.domain`},
		{"secret missing", func(c *Config) { c.Transports.Webhook.Secret = "" }, "transports.webhook.secret", "missing (expected the component secret"},
		{"second transport secret missing", func(c *Config) { irc(c).Secret = "" }, "transports.irc.secret", "missing"},
		{"allow jid and domain", func(c *Config) { irc(c).Allow = []string{"alice@example.org", "example.net"} }, "", ""},
		{"allow resource", func(c *Config) { irc(c).Allow = []string{"example.net", "alice@example.org/phone"} }, "transports.irc.allow[1]",
			`"alice@example.org/phone" has a resource (expected a bare JID like alice@example.org or a domain like example.org)`},
		{"allow empty local", func(c *Config) { irc(c).Allow = []string{"@example.org"} }, "transports.irc.allow[0]", "empty localpart"},
		{"allow bad domain", func(c *Config) { irc(c).Allow = []string{"not a domain"} }, "transports.irc.allow[0]", "invalid domain"},
		{"allow bad local", func(c *Config) { irc(c).Allow = []string{"a\u0000b@example.org"} }, "transports.irc.allow[0]", "not a valid JID"},
		{"admins domain", func(c *Config) { irc(c).Admins = []string{"example.org"} }, "transports.irc.admins[0]", "is a domain, not a JID"},
		{"admins ok", func(c *Config) { irc(c).Admins = []string{"root@example.org"} }, "", ""},
		{"webhook url missing", func(c *Config) { c.Transports.Webhook.URL = "" }, "transports.webhook.url", "missing (expected the http(s) URL"},
		{"webhook url relative", func(c *Config) { c.Transports.Webhook.URL = "hooks.example.org/in" }, "transports.webhook.url", "not an absolute http(s) URL"},
		{"webhook url mailto", func(c *Config) { c.Transports.Webhook.URL = "mailto:a@example.org" }, "transports.webhook.url", "not an absolute http(s) URL"},
		{"webhook timeout", func(c *Config) { c.Transports.Webhook.Timeout = 0 }, "transports.webhook.timeout", "not a positive duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			err := c.Validate()
			if tt.key == "" {
				if err != nil {
					t.Fatalf("want valid, got:\n%v", err)
				}
				return
			}
			lines := problemsOf(t, err)
			if len(lines) != 1 {
				t.Errorf("want exactly one problem, got:\n%s", strings.Join(lines, "\n"))
			}
			if strings.HasPrefix(tt.line, tt.key+": ") {
				if lines[0] != tt.line {
					t.Errorf("got  %s\nwant %s", lines[0], tt.line)
				}
				return
			}
			wantProblem(t, lines, tt.key, tt.line)
		})
	}
}

func TestValidateCollectsAll(t *testing.T) {
	c := validConfig()
	c.XMPP.Server = "localhost"
	c.Store.Driver = "mysql"
	c.Log.Format = "xml"
	c.Transports.Webhook.URL = ""
	lines := problemsOf(t, c.Validate())
	want := []string{"xmpp.server", "store.driver", "log.format", "transports.webhook.url"}
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, key := range want {
		if !strings.HasPrefix(lines[i], key+": ") {
			t.Errorf("problem %d = %q, want key %s", i, lines[i], key)
		}
	}
}

func TestNormalize(t *testing.T) {
	c, err := loadYAML(t, `
xmpp: {domain: Example.ORG}
transports:
  irc:
    domain: IRC.Example.org
    secret: x
    allow: [Alice@Example.ORG, Friends.Example.NET]
    admins: [Root@Example.org]
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	irc := c.Transports.IRC
	got := []string{c.XMPP.Domain, irc.Domain, irc.Allow[0], irc.Allow[1], irc.Admins[0]}
	want := []string{"example.org", "irc.example.org", "alice@example.org", "friends.example.net", "root@example.org"}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("got %q, want %q", got[i], want[i])
		}
	}

	// Case differences do not hide a domain clash.
	c2 := validConfig()
	c2.Transports.Webhook.Domain = "EXAMPLE.org"
	c2.normalize()
	wantProblem(t, problemsOf(t, c2.Validate()), "transports.webhook.domain", "already used by xmpp.domain")
}
