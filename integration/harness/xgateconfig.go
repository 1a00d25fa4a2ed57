package harness

import (
	"fmt"
	"strings"
	"time"
)

// XgateConfig renders the YAML of an xgate configuration for tests, with
// test-friendly defaults (fast keepalive, reconnect and retries, debug log,
// sqlite in the working directory, a free port for http.listen). Transport
// sections other than the webhook's are appended raw (ExtraTransports).
type XgateConfig struct {
	Server     string // xmpp.server: the XMPP server's component listener
	Domain     string // xmpp.domain; default "localhost"
	HTTPListen string // http.listen; default a free 127.0.0.1 port

	StoreDriver string // default "sqlite"
	StoreDSN    string // default "xgate.db" (in Xgate.Dir)

	Keepalive        time.Duration // default 2s
	KeepaliveTimeout time.Duration // default 2s
	ReconnectMax     time.Duration // default 2s

	RetryMin    time.Duration // delivery.retry_min; default 100ms
	RetryMax    time.Duration // delivery.retry_max; default 1s
	GiveUpAfter time.Duration // delivery.give_up_after; default 10m
	// MaxStanzaSize is xmpp.max_stanza_size; default 32 KiB, below what
	// Prosody and ejabberd accept from clients, so tests can exceed it.
	MaxStanzaSize int

	// Lease is delivery.lease; default 2s, so that the items a killed xgate
	// was delivering come back quickly after a restart.
	Lease time.Duration

	LogLevel string // default "debug"

	Webhook *WebhookSection
	// ExtraTransports is raw YAML for further sections under transports:,
	// indented by two spaces.
	ExtraTransports string
}

// WebhookSection is transports.webhook.
type WebhookSection struct {
	Domain, Secret string
	Allow          []string
	URL            string
	Timeout        time.Duration // default 5s
	InboundSecret  string
}

// NewXgateConfig returns the defaults for an xgate attached to srv's
// component listener.
func NewXgateConfig(t T, srv *XMPPServer) XgateConfig {
	t.Helper()
	return XgateConfig{Server: srv.ComponentAddr, Domain: srv.Domain, HTTPListen: Addr(FreePort(t))}
}

// YAML renders the configuration.
func (c XgateConfig) YAML() string {
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	dur := func(v, d time.Duration) string {
		if v == 0 {
			v = d
		}
		return v.String()
	}
	var b strings.Builder
	maxStanza := c.MaxStanzaSize
	if maxStanza == 0 {
		maxStanza = 32 << 10
	}
	fmt.Fprintf(&b, "xmpp:\n  server: %s\n  domain: %s\n  keepalive: %s\n  keepalive_timeout: %s\n  reconnect_max: %s\n  max_stanza_size: %d\n",
		yamlQuote(c.Server), yamlQuote(def(c.Domain, "localhost")), dur(c.Keepalive, 2*time.Second),
		dur(c.KeepaliveTimeout, 2*time.Second), dur(c.ReconnectMax, 2*time.Second), maxStanza)
	fmt.Fprintf(&b, "store:\n  driver: %s\n  dsn: %s\n", def(c.StoreDriver, "sqlite"), yamlQuote(def(c.StoreDSN, "xgate.db")))
	fmt.Fprintf(&b, "http:\n  listen: %s\n", yamlQuote(c.HTTPListen))
	fmt.Fprintf(&b, "log:\n  level: %s\n  format: text\n", def(c.LogLevel, "debug"))
	fmt.Fprintf(&b, "delivery:\n  retry_min: %s\n  retry_max: %s\n  give_up_after: %s\n  lease: %s\n",
		dur(c.RetryMin, 100*time.Millisecond), dur(c.RetryMax, time.Second), dur(c.GiveUpAfter, 10*time.Minute),
		dur(c.Lease, 2*time.Second))
	if c.Webhook == nil && c.ExtraTransports == "" {
		return b.String()
	}
	b.WriteString("transports:\n")
	if w := c.Webhook; w != nil {
		fmt.Fprintf(&b, "  webhook:\n    domain: %s\n    secret: %s\n    url: %s\n    timeout: %s\n",
			yamlQuote(w.Domain), yamlQuote(w.Secret), yamlQuote(w.URL), dur(w.Timeout, 5*time.Second))
		if w.InboundSecret != "" {
			fmt.Fprintf(&b, "    inbound_secret: %s\n", yamlQuote(w.InboundSecret))
		}
		if len(w.Allow) > 0 {
			q := make([]string, len(w.Allow))
			for i, a := range w.Allow {
				q[i] = yamlQuote(a)
			}
			fmt.Fprintf(&b, "    allow: [%s]\n", strings.Join(q, ", "))
		}
	}
	b.WriteString(c.ExtraTransports)
	return b.String()
}
