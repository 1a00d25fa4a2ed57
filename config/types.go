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
	// Lease is how long a claimed message is reserved for this process; the
	// living owner renews it every Lease/3, so after a crash the messages in
	// flight come back to delivery after at most Lease.
	Lease time.Duration `koanf:"lease"`
	// HandleTimeout bounds one delivery attempt.
	HandleTimeout time.Duration `koanf:"handle_timeout"`
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

// IRC is the IRC transport: IRC channels as MUC rooms, IRC users as
// contacts. See docs/irc.md.
type IRC struct {
	Component `koanf:",squash"`
	// Networks are the IRC networks users may reach; with none listed, any
	// network is allowed (biboumi's default).
	Networks []IRCNetwork `koanf:"networks"`
	// AnyNetwork lets users reach servers that are not listed as well (TLS,
	// port 6697, default limits).
	AnyNetwork bool `koanf:"any_network"`
	// FixedNetwork, when set, must be one of Networks' hosts: #chan@domain
	// and nick@domain then name a channel and a user on it.
	FixedNetwork string `koanf:"fixed_network"`
	// SecretsKey (or SecretsKeyFile), 64 hex digits (32 bytes), encrypts the
	// users' SASL passwords kept in the store (AES-256-GCM). Unset: they are
	// stored as given.
	SecretsKey     string `koanf:"secrets_key"`
	SecretsKeyFile string `koanf:"secrets_key_file"`
	// Persistent makes rooms persistent unless a user turns it off for a
	// room (ad-hoc "Configure a room"): the IRC connection stays while the
	// user is offline and the room is rejoined when xgate starts.
	Persistent bool `koanf:"persistent"`
	// Archive is the per-user message archive (XEP-0045 history, XEP-0313).
	Archive IRCArchive `koanf:"archive"`
	// MaxConnectionsPerNetwork caps xgate's connections to each network
	// that is not listed (any_network), all users together; 0: no cap.
	MaxConnectionsPerNetwork int `koanf:"max_connections_per_network"`
	// Identd is the RFC 1413 ident server (off unless listen is set).
	Identd IRCIdentd `koanf:"identd"`
}

// IRCIdentd is transports.irc.identd.
type IRCIdentd struct {
	// Listen is the host:port of the ident server, e.g. 0.0.0.0:113 (IRC
	// servers ask port 113); empty: off.
	Listen string `koanf:"listen"`
}

// IRCArchive is transports.irc.archive.
type IRCArchive struct {
	// Enabled archives every room line and private message per user.
	Enabled bool `koanf:"enabled"`
	// Retention is how long lines are kept (0: forever).
	Retention time.Duration `koanf:"retention"`
	// History is how many lines a join replays by default (the client's
	// <history/> request overrides it, up to MaxHistory).
	History int `koanf:"history"`
}

// IRCNetwork is one entry of transports.irc.networks.
type IRCNetwork struct {
	Host string `koanf:"host"`
	// Port defaults to 6697 (TLS) or 6667 (plaintext).
	Port int `koanf:"port"`
	// Plaintext turns TLS off (by default TLS is on and the certificate
	// verified): for local or test servers only.
	Plaintext bool `koanf:"plaintext"`
	// Burst lines may be sent at once, then one per Interval.
	Burst    int           `koanf:"burst"`
	Interval time.Duration `koanf:"interval"`
	// Encoding is the fallback for lines that are not UTF-8: cp1252 or latin1.
	Encoding string `koanf:"encoding"`
	// Realname and Username are sent at registration.
	Realname string `koanf:"realname"`
	Username string `koanf:"username"`
	// Password (or PasswordFile) is the server password sent as PASS before
	// registration; a secret.
	Password     string `koanf:"password"`
	PasswordFile string `koanf:"password_file"`
	// Bind is the local IP address the connection is made from (empty: the
	// system's choice).
	Bind string `koanf:"bind"`
	// TLSCAFile, when set, is a PEM file of the CAs trusted for this
	// network's certificate instead of the system's (a private network).
	TLSCAFile string `koanf:"tls_ca_file"`
	// MaxConnections caps xgate's connections to this network, all users
	// together (the network's limit per address); 0: no cap.
	MaxConnections int `koanf:"max_connections"`
	// WebIRC, when set, makes xgate send WEBIRC before registering, so the
	// network sees each user with their own host and address (see
	// docs/irc.md) instead of the gateway's.
	WebIRC *IRCWebIRC `koanf:"webirc"`
}

// IRCWebIRC is the WEBIRC block of a network (transports.irc.networks[].webirc).
type IRCWebIRC struct {
	// Password (or PasswordFile) is the WEBIRC password the network's
	// operators gave the gateway; a secret.
	Password     string `koanf:"password"`
	PasswordFile string `koanf:"password_file"`
	// Gateway is the gateway name sent with WEBIRC (default "xgate").
	Gateway string `koanf:"gateway"`
	// HostSuffix ends each user's host name: <hash>.<host_suffix> (default:
	// the component domain).
	HostSuffix string `koanf:"host_suffix"`
	// Prefix is the IPv6 prefix users' addresses are made in (default
	// fd00::/8): the rest of the address is a hash of the user's JID.
	Prefix string `koanf:"prefix"`
}

// SMS is the SMS transport (Twilio): chat to +15551234567@domain is sent as a
// text from the user's number; texts to the gateway's numbers become chat.
// See docs/sms.md.
type SMS struct {
	Component `koanf:",squash"`
	// AccountSID is the Twilio account (AC...). AuthToken (or AuthTokenFile)
	// authenticates API calls and is the key Twilio signs webhooks with.
	AccountSID    string `koanf:"account_sid"`
	AuthToken     string `koanf:"auth_token"`
	AuthTokenFile string `koanf:"auth_token_file"`
	// APIKeySID and APIKeySecret (or APIKeySecretFile), when set, authenticate
	// API calls instead of the auth token (which still validates webhooks).
	APIKeySID        string `koanf:"api_key_sid"`
	APIKeySecret     string `koanf:"api_key_secret"`
	APIKeySecretFile string `koanf:"api_key_secret_file"`
	// MessagingServiceSID (MG...), when set, is sent with every message.
	MessagingServiceSID string `koanf:"messaging_service_sid"`
	// Numbers is the pool of the operator's Twilio numbers (E.164) users may
	// claim by registering.
	Numbers []string `koanf:"numbers"`
	// Assign gives numbers to users without registration: E.164 number →
	// bare JID.
	Assign map[string]string `koanf:"assign"`
	// DefaultRegion (ISO 3166, e.g. US) reads numbers typed without a
	// country code.
	DefaultRegion string `koanf:"default_region"`
	// Rate is how many segments per second one number may send (Twilio long
	// codes: 1).
	Rate float64 `koanf:"rate"`
	// MaxSegments caps the segments of one message (longer: not-acceptable).
	MaxSegments int `koanf:"max_segments"`
	// DailyCap caps the messages one user sends per UTC day (0: no cap).
	DailyCap int `koanf:"daily_cap"`
	// AllowedCountries lists the ISO 3166 regions messages may go to (empty:
	// all).
	AllowedCountries []string `koanf:"allowed_countries"`
	// PublicURL is the base URL Twilio calls for webhooks (it signs that URL);
	// empty: http.public_url.
	PublicURL string `koanf:"public_url"`
	// APIURL replaces https://api.twilio.com, for tests and the demo only.
	APIURL string `koanf:"api_url"`
	// Timeout bounds one Twilio API call.
	Timeout time.Duration `koanf:"timeout"`
	// MediaTTL is how long xgate's links to received MMS media stay valid.
	MediaTTL time.Duration `koanf:"media_ttl"`
}

// Email is the email transport's section (transports/email fills in the rest).
type Email struct {
	Component `koanf:",squash"`
	// MailDomain is the domain of the gateway's routing addresses
	// (<token>@mail_domain): the From and Reply-To of digests, and where the
	// operator's MTA routes replies. Default: the component domain.
	MailDomain string `koanf:"mail_domain"`

	// Relay is the SMTP submission server (host:port) digests are sent
	// through. RelayTLS: "starttls" (default), "implicit" (SMTPS, port 465) or
	// "none" (local relays only). Certificates are verified unless
	// RelayInsecureSkipVerify.
	Relay                   string `koanf:"relay"`
	RelayTLS                string `koanf:"relay_tls"`
	RelayInsecureSkipVerify bool   `koanf:"relay_insecure_skip_verify"`
	// RelayUsername and RelayPassword (or RelayPasswordFile) authenticate
	// with AUTH PLAIN or LOGIN; empty: no authentication.
	RelayUsername     string `koanf:"relay_username"`
	RelayPassword     string `koanf:"relay_password"`
	RelayPasswordFile string `koanf:"relay_password_file"`
	// Helo is the name given in EHLO (default MailDomain).
	Helo string `koanf:"helo"`
	// Timeout bounds one SMTP submission.
	Timeout time.Duration `koanf:"timeout"`

	// Listen is the host:port of the inbound SMTP or LMTP listener to which the
	// MTA routes MailDomain; empty: no listener. ListenProtocol: "smtp"
	// (default) or "lmtp".
	Listen         string `koanf:"listen"`
	ListenProtocol string `koanf:"listen_protocol"`
	// MaxMessageSize caps an inbound mail in bytes (552 at SMTP time).
	MaxMessageSize int `koanf:"max_message_size"`

	// IMAP, when IMAPAddr is set, watches a catch-all mailbox with IDLE
	// instead of (or besides) the listener. IMAPTLS: "implicit" (default),
	// "starttls" or "none".
	IMAPAddr         string `koanf:"imap_addr"`
	IMAPTLS          string `koanf:"imap_tls"`
	IMAPUsername     string `koanf:"imap_username"`
	IMAPPassword     string `koanf:"imap_password"`
	IMAPPasswordFile string `koanf:"imap_password_file"`
	IMAPMailbox      string `koanf:"imap_mailbox"`
	// IMAPDoneMailbox, when set, is where handled mail is moved (it must
	// exist); otherwise handled mail is flagged \Seen and left in place.
	IMAPDoneMailbox string `koanf:"imap_done_mailbox"`

	// Digest defaults (users may change theirs when registering): a digest
	// goes out when the conversation has been quiet for DigestQuiet (0: each
	// message at once), its oldest message waited DigestMaxAge, or
	// DigestMaxMessages wait.
	DigestQuiet       time.Duration `koanf:"digest_quiet"`
	DigestMaxAge      time.Duration `koanf:"digest_max_age"`
	DigestMaxMessages int           `koanf:"digest_max_messages"`
	// UnknownSenders is the default policy for mail from addresses a user
	// never wrote to: "contacts" (dropped; the user is told once) or "anyone".
	UnknownSenders string `koanf:"unknown_senders"`
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
