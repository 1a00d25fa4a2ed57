// Package email is the email transport: an XMPP user writes to
// bob\40example.com@mail.gw.example.org and bob@example.com receives one tidy
// email per burst of chat (a digest); bob's replies come back as chat in the
// same thread.
//
// # Outbound: digests
//
// Deliver (called by the component's outbox worker) does not send: it appends
// the message to the durable digest buffer of (user, recipient) in the store
// and remembers the recipient as a contact of the user. A flusher goroutine
// (run by Run) seals a buffer when it is due: the conversation has been quiet
// for the user's quiet period, its oldest message has waited the maximum age,
// or the maximum number of messages wait (a quiet period of 0 seals at once).
// Sealing builds the email (text/plain with times and a text/html
// alternative, From and Reply-To the user's opaque routing address, a fresh
// Message-ID, In-Reply-To/References chaining the conversation) and, in one
// store transaction, removes the buffered messages and enqueues the email in
// the outbox under the transport name "email-digest". So a digest is either
// buffered or queued, never lost and never queued twice.
//
// A transports.Worker run by Run delivers the queued digests by SMTP
// submission to the configured relay (STARTTLS or implicit TLS, AUTH
// PLAIN/LOGIN, certificates verified). A 4xx reply or a network failure is
// retried with backoff; a 5xx reply (or giving up at the deadline) fails every
// message of the digest back to the user with the recipient and the server's
// reply in the error text. After a 250 the Message-ID is recorded
// (store.IDMapping) so that replies find their thread.
//
// # Inbound
//
// An SMTP or LMTP listener (go-smtp) receives the mail the operator's MTA
// routes to the gateway's mail domain; an IMAP IDLE watcher on a catch-all
// mailbox is the alternative. A mail's recipient (routing token) names the
// user, its From the contact (bob\40example.com@domain), its
// In-Reply-To/References the XMPP thread. The reply text is extracted (quoted
// history and signature removed, HTML converted to text, charsets decoded,
// attachments listed by name and size) and handed to Uplink.Receive before the
// mail is acknowledged (250, or the IMAP flag/move). Mail loops
// (Auto-Submitted, our own Message-IDs) are dropped; delivery status
// notifications become an error message to the user about the recipient.
package email

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"xgate/mapping"
	"xgate/store"
	"xgate/transports"
)

// Name is the transport's name; DigestQueue the outbox transport name of its
// sealed digests.
const (
	Name        = "email"
	DigestQueue = "email-digest"
)

// Store is what the transport needs from the store.
type Store interface {
	store.Store
	store.Digests
}

// TLS modes of the relay and the IMAP server.
const (
	TLSStartTLS = "starttls"
	TLSImplicit = "implicit"
	TLSNone     = "none"
)

// Config configures the transport. Zero durations and sizes take the defaults
// of config.Email.
type Config struct {
	Domain     string // the component domain (contacts are local@Domain)
	MailDomain string // the routing addresses' domain (default Domain)

	Relay                   string // host:port
	RelayTLS                string // starttls, implicit, none
	RelayInsecureSkipVerify bool
	RelayUsername           string
	RelayPassword           string
	Helo                    string
	Timeout                 time.Duration

	Listen         string // inbound listener host:port; empty: none
	LMTP           bool
	MaxMessageSize int

	IMAP IMAPConfig // IMAP.Addr empty: no IMAP watcher

	Defaults Settings // digest and policy defaults for users

	// Flush is how often the flusher looks at the buffers (default: a
	// quarter of the shortest quiet period, between 100ms and 5s).
	Flush time.Duration
	// Owner names this process in outbox leases.
	Owner string
	// GiveUpAfter, RetryMin and RetryMax govern the digest sender (defaults
	// 24h, 2s, 10m).
	GiveUpAfter, RetryMin, RetryMax time.Duration

	Logger *slog.Logger
	Now    func() time.Time
}

// IMAPConfig is the catch-all mailbox watched with IDLE.
type IMAPConfig struct {
	Addr, TLS          string
	Username, Password string
	Mailbox            string
	DoneMailbox        string
	InsecureSkipVerify bool
}

// Transport is the email transport. Its methods are safe from any goroutine.
type Transport struct {
	cfg Config
	st  Store
	log *slog.Logger
	now func() time.Time

	wakeFlush  chan struct{}
	imapRescan time.Duration // how often the IMAP watcher looks without a notification

	mu     sync.Mutex
	up     transports.Uplink // set by Run
	sender *transports.Worker
	lnAddr string // the listener's address, once listening
}

var (
	_ transports.Transport      = (*Transport)(nil)
	_ transports.AddressChecker = (*Transport)(nil)
	_ transports.Registrar      = (*Transport)(nil)
	_ transports.Prompter       = (*Transport)(nil)
)

// New checks cfg and returns the transport.
func New(cfg Config, st Store) (*Transport, error) {
	if cfg.Domain == "" {
		return nil, errors.New("email: no domain")
	}
	if st == nil {
		return nil, errors.New("email: no store")
	}
	if cfg.MailDomain == "" {
		cfg.MailDomain = cfg.Domain
	}
	if cfg.Helo == "" {
		cfg.Helo = cfg.MailDomain
	}
	switch cfg.RelayTLS {
	case "":
		cfg.RelayTLS = TLSStartTLS
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return nil, fmt.Errorf("email: relay tls %q (want starttls, implicit or none)", cfg.RelayTLS)
	}
	if cfg.Relay == "" {
		return nil, errors.New("email: no relay")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Minute
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = 10 << 20
	}
	cfg.Defaults = cfg.Defaults.withDefaults(builtinDefaults())
	if cfg.Flush <= 0 {
		cfg.Flush = min(max(cfg.Defaults.Quiet/4, 100*time.Millisecond), 5*time.Second)
	}
	if cfg.GiveUpAfter <= 0 {
		cfg.GiveUpAfter = 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Transport{cfg: cfg, st: st, log: cfg.Logger, now: cfg.Now, wakeFlush: make(chan struct{}, 1),
		imapRescan: imapRescanEvery}, nil
}

// Name is "email".
func (t *Transport) Name() string { return Name }

// Identity is gateway/smtp.
func (t *Transport) Identity() transports.Identity {
	return transports.Identity{Category: "gateway", Type: "smtp", Name: "Email gateway"}
}

// CheckAddress accepts the XEP-0106 escaped form of an email address.
func (t *Transport) CheckAddress(local string) error {
	_, err := mapping.LocalToEmail(local)
	return err
}

// Prompt and Translate answer XEP-0100 jabber:iq:gateway.
func (t *Transport) Prompt() (desc, prompt string) {
	return "Enter the email address of the person you want to write to.", "Email address"
}

// Translate turns an email address into the contact's localpart.
func (t *Transport) Translate(input string) (string, error) {
	return mapping.EmailToLocal(strings.TrimSpace(input))
}

// Run runs the digest flusher, the digest sender, and the inbound listener
// and IMAP watcher that are configured, until ctx ends.
func (t *Transport) Run(ctx context.Context, up transports.Uplink) error {
	t.mu.Lock()
	t.up = up
	t.mu.Unlock()
	var ln *listener
	if t.cfg.Listen != "" {
		var err error
		if ln, err = t.listen(); err != nil {
			return err
		}
		t.mu.Lock()
		t.lnAddr = ln.Addr().String()
		t.mu.Unlock()
	}
	sender := t.newSender(up)
	t.mu.Lock()
	t.sender = sender
	t.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("email: %s: %w", name, err)
				cancel()
			}
		}()
	}
	run("flusher", t.runFlusher)
	run("sender", sender.Run)
	if ln != nil {
		run("listener", ln.run)
	}
	if t.cfg.IMAP.Addr != "" {
		run("imap", func(ctx context.Context) error { return t.runIMAP(ctx, up) })
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// ListenAddr is the inbound listener's address once Run has opened it (""
// before, or without a listener).
func (t *Transport) ListenAddr() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lnAddr
}

// uplink returns the Uplink given to Run (nil before).
func (t *Transport) uplink() transports.Uplink {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.up
}

// wake makes the flusher look at the buffers now.
func (t *Transport) wake() {
	select {
	case t.wakeFlush <- struct{}{}:
	default:
	}
}

// contactJID is the JID of an email address on the domain.
func (t *Transport) contactJID(addr string) (string, error) {
	local, err := mapping.EmailToLocal(addr)
	if err != nil {
		return "", err
	}
	return local + "@" + t.cfg.Domain, nil
}

// routeAddress returns the user's routing address, creating its token on
// first use.
func (t *Transport) routeAddress(ctx context.Context, user string) (string, error) {
	tok, err := t.st.RouteToken(ctx, Name, user, newToken())
	if err != nil {
		return "", err
	}
	return tok + "@" + t.cfg.MailDomain, nil
}

var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newToken is a random routing token: 100 bits, lower case, starting with a
// letter.
func newToken() string {
	var b [13]byte
	_, _ = rand.Read(b[:])
	return "x" + tokenEncoding.EncodeToString(b[:])[:20]
}

// newMessageID returns a fresh Message-ID (without angle brackets) at the
// mail domain: inbound mail referring to one of ours as its own is a loop.
func (t *Transport) newMessageID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return "xg." + tokenEncoding.EncodeToString(b[:]) + "@" + t.cfg.MailDomain
}

// bareJID strips the resource.
func bareJID(j string) string {
	if i := strings.IndexByte(j, '/'); i >= 0 {
		return j[:i]
	}
	return j
}

// localOf returns the localpart of a JID.
func localOf(j string) string {
	j = bareJID(j)
	if i := strings.LastIndexByte(j, '@'); i >= 0 {
		return j[:i]
	}
	return ""
}
