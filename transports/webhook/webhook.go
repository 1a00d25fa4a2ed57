// Package webhook is the webhook transport: chat sent to anything@domain is
// POSTed as JSON to a configured URL, and signed JSON POSTed to xgate's inbound
// path becomes chat to a user. It bridges XMPP to any HTTP service (a ticket
// system, a bot, a home automation hub) and, being small and deterministic, is
// also what xgate's end-to-end durability tests run through.
//
// Outbound, Deliver makes one POST per message; the outbox worker retries it on
// temporary failures (see transports.Worker). The Idempotency-Key header is the
// message id, the same on every retry, so the receiver can drop duplicates:
// delivery is at least once.
//
// Inbound, Handler verifies an HMAC-SHA256 signature over the raw body and
// answers 200 only after the message is persisted in the inbox (Uplink.Receive),
// deduplicated on the sender's id: a sender that retries until it gets a 200
// loses nothing and duplicates nothing.
//
// docs/webhook.md documents both JSON formats for operators.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"xgate/transports"
)

// Config configures the transport (cmd/xgate maps config.Webhook onto it).
type Config struct {
	// Domain is the transport's component domain: contacts are
	// localpart@Domain.
	Domain string
	// URL receives outbound messages (http or https).
	URL string
	// Timeout bounds one POST, response included (default 10s).
	Timeout time.Duration
	// InboundSecret is the HMAC-SHA256 key of inbound POSTs. Empty disables
	// inbound: the handler answers 403 to everything.
	InboundSecret []byte
	// PublicPath is where cmd/xgate mounts Handler on the http.listen server
	// (default "/webhook/<domain>/in").
	PublicPath string
	// HTTPClient makes the outbound POSTs (default: a client that does not
	// follow redirects; a redirect is retried as a temporary failure).
	HTTPClient *http.Client
	// Logger receives the transport's logs (default: discarded).
	Logger *slog.Logger
}

// Transport is the webhook transport. Its methods are safe for concurrent use.
type Transport struct {
	domain     string
	url        string
	timeout    time.Duration
	secret     []byte
	publicPath string
	client     *http.Client
	log        *slog.Logger

	up transports.UplinkSlot // set while Run runs
}

const (
	defaultTimeout = 10 * time.Second
	// maxInbound caps an inbound request body.
	maxInbound = 1 << 20
)

// New validates cfg and returns the transport.
func New(cfg Config) (*Transport, error) {
	if cfg.Domain == "" {
		return nil, errors.New("webhook: domain is required")
	}
	if cfg.URL == "" {
		return nil, errors.New("webhook: url is required")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Never echo the URL: it may hold credentials or a token.
		return nil, errors.New("webhook: url must be an absolute http:// or https:// URL")
	}
	t := &Transport{
		domain:     cfg.Domain,
		url:        cfg.URL,
		timeout:    cfg.Timeout,
		secret:     append([]byte(nil), cfg.InboundSecret...),
		publicPath: cfg.PublicPath,
		client:     cfg.HTTPClient,
		log:        cfg.Logger,
	}
	if t.timeout <= 0 {
		t.timeout = defaultTimeout
	}
	if t.publicPath == "" {
		t.publicPath = "/webhook/" + cfg.Domain + "/in"
	}
	if t.client == nil {
		t.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	t.log = t.log.With("transport", "webhook", "domain", t.domain)
	return t, nil
}

// Name is "webhook".
func (t *Transport) Name() string { return "webhook" }

// Identity is gateway/http-ws: the XEP-0030 registry's "Gateway that provides
// HTTP Web Services access", the closest registered type to a gateway whose
// other side is an HTTP endpoint.
func (t *Transport) Identity() transports.Identity {
	return transports.Identity{Category: "gateway", Type: "http-ws", Name: "Webhook gateway"}
}

// PublicPath is the path Handler expects to be mounted at.
func (t *Transport) PublicPath() string { return t.publicPath }

// Run keeps up for the inbound handler until ctx ends, then returns nil. While
// Run is not running, the handler answers 503.
func (t *Transport) Run(ctx context.Context, up transports.Uplink) error {
	if err := t.up.Hold(ctx, up); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	return nil
}

func (t *Transport) uplink() transports.Uplink { return t.up.Get() }

// CheckAddress accepts any non-empty localpart: the receiver decides what a
// contact is (it may answer 404, which the sender sees as item-not-found).
func (t *Transport) CheckAddress(localpart string) error {
	if localpart == "" {
		return fmt.Errorf("webhook: empty contact address; write to name@%s", t.domain)
	}
	return nil
}

// SendsReceipts is true: a 2xx answer counts as delivered, and the transport
// then sends the XEP-0184 receipt the sender asked for (the component
// announces urn:xmpp:receipts for transports that say so).
func (t *Transport) SendsReceipts() bool { return true }

var (
	_ transports.Transport      = (*Transport)(nil)
	_ transports.AddressChecker = (*Transport)(nil)
)
