package config

import "time"

// Config is xgate's validated configuration. Key names (koanf tags) are the
// documented operator interface: XGATE_* environment names derive from them
// (XGATE_TRANSPORTS__SMS__DOMAIN for transports.sms.domain).
type Config struct {
	XMPP       XMPP       `koanf:"xmpp"`
	Store      Store      `koanf:"store"`
	HTTP       HTTP       `koanf:"http"`
	Log        Log        `koanf:"log"`
	Delivery   Delivery   `koanf:"delivery"`
	Transports Transports `koanf:"transports"`
}

// XMPP is how xgate reaches the XMPP server's component listener.
type XMPP struct {
	// Server is host:port of the server's XEP-0114 listener.
	Server string `koanf:"server"`
	// Domain is the server's own domain; the default access list.
	Domain string `koanf:"domain"`
	// Keepalive is how often xgate pings the server; KeepaliveTimeout how long it
	// waits for the answer before it drops the stream and reconnects.
	Keepalive        time.Duration `koanf:"keepalive"`
	KeepaliveTimeout time.Duration `koanf:"keepalive_timeout"`
	// ReconnectMax caps the jittered exponential reconnect backoff.
	ReconnectMax time.Duration `koanf:"reconnect_max"`
	// MaxStanzaSize is the largest stanza (bytes) xgate accepts from the server.
	MaxStanzaSize int `koanf:"max_stanza_size"`
}

// Store selects the database.
type Store struct {
	Driver string `koanf:"driver"` // "sqlite" or "postgres"
	// DSN is a file path (or file: URI) for sqlite, a postgres:// URL for postgres.
	DSN string `koanf:"dsn"`
}

// HTTP is the operator HTTP endpoint (/metrics, /healthz, and transport webhooks).
type HTTP struct {
	Listen string `koanf:"listen"`
	// PublicURL is the base URL remote services (Twilio, webhook senders) use to
	// reach Listen, as seen from outside any proxy.
	PublicURL string `koanf:"public_url"`
}

// Log configures log/slog.
type Log struct {
	Level  string `koanf:"level"`  // debug, info, warn, error
	Format string `koanf:"format"` // text or json
}

// Delivery tunes the durable outbox and inbox workers.
type Delivery struct {
	// GiveUpAfter is how long a message is retried before the sender is told it failed.
	GiveUpAfter time.Duration `koanf:"give_up_after"`
	// RetryMin and RetryMax bound the jittered exponential retry backoff.
	RetryMin time.Duration `koanf:"retry_min"`
	RetryMax time.Duration `koanf:"retry_max"`
	// Workers is how many deliveries of one transport may run at once (across keys).
	Workers int `koanf:"workers"`
}

// Transports holds one section per transport; a transport runs when its section
// is present (non-nil).
type Transports struct {
	IRC     *IRC     `koanf:"irc"`
	SMS     *SMS     `koanf:"sms"`
	Email   *Email   `koanf:"email"`
	Webhook *Webhook `koanf:"webhook"`
}

// Component is what every transport section has: its own component domain and
// secret, and who may use it.
type Component struct {
	Domain string `koanf:"domain"`
	// Secret is the XEP-0114 shared secret; SecretFile reads it from a file
	// instead (trailing newline trimmed). Exactly one must be set.
	Secret     string `koanf:"secret"`
	SecretFile string `koanf:"secret_file"`
	// Allow lists bare JIDs ("alice@example.org") and domains ("example.org")
	// allowed to use the transport. Empty means [xmpp.domain].
	Allow []string `koanf:"allow"`
	// Admins are bare JIDs allowed to run admin ad-hoc commands.
	Admins []string `koanf:"admins"`
}

// IRC is the IRC transport's section (transports/irc fills in the rest).
type IRC struct {
	Component `koanf:",squash"`
}

// SMS is the SMS transport's section (transports/sms fills in the rest).
type SMS struct {
	Component `koanf:",squash"`
}

// Email is the email transport's section (transports/email fills in the rest).
type Email struct {
	Component `koanf:",squash"`
}

// Webhook is the webhook transport: chat to anything@domain is POSTed as JSON to
// URL; POSTs to the inbound path (HMAC-signed with InboundSecret) become chat.
type Webhook struct {
	Component `koanf:",squash"`
	// URL receives outbound messages (HTTP POST, JSON). 2xx is delivered, 408,
	// 429 and 5xx are retried, other 4xx fail permanently.
	URL string `koanf:"url"`
	// Timeout bounds one POST.
	Timeout time.Duration `koanf:"timeout"`
	// InboundSecret (or InboundSecretFile) is the HMAC-SHA256 key that signs
	// inbound POSTs (header X-Xgate-Signature: hex of HMAC over the body).
	InboundSecret     string `koanf:"inbound_secret"`
	InboundSecretFile string `koanf:"inbound_secret_file"`
}
