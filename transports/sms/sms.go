// Package sms is the SMS transport: text messages through Twilio, as chat.
//
// Contacts are +15551234567@domain (E.164) or short codes (12345@domain); see
// mapping.LocalToPhone. Each user sends from one of the operator's Twilio
// numbers: claimed from the pool by registering (XEP-0077, one number per
// user, conflict otherwise) or assigned in the configuration.
//
// Outbound, the component writes what users send to the outbox; the outbox
// worker calls Deliver, paced per user (hence per number: one number belongs
// to one user) by RateKey at Rate segments per second. Deliver checks the
// address, the allowed countries, the segment count and the daily cap, then
// creates the message with twilio-go (Api.CreateMessage) with the user's
// number as From and a status callback on xgate's public URL, and records the
// Twilio SID ↔ stanza id pair in the store. Twilio's 429 and 5xx answers and
// network errors are temporary (retried); its permanent error codes become a
// stanza error with a fitting condition and Twilio's code and message.
// A message whose stanza id is already paired with a SID was sent before (a
// crash between the API call and the queue update): it is not sent again.
//
// Inbound, Handler serves the incoming-message webhook and the status
// callback, both signed by Twilio (X-Twilio-Signature, checked with
// twilio-go's RequestValidator over the configured public URL: behind a proxy
// r.Host is not what Twilio signed). A forged request gets 403 and changes
// nothing. An incoming text is persisted in the inbox (deduplicated on its
// MessageSid) before the 200 with empty TwiML, then delivered as chat from
// +number@domain to the owner of the number it was sent to. MMS media, which
// Twilio serves only with the account's credentials, are offered through
// xgate's own unguessable, expiring URLs (media.go). A status callback
// "delivered" becomes a XEP-0184 receipt for the original stanza when the
// sender asked for one; "undelivered" and "failed" become a stanza error.
//
// twilio-go takes no context and has no base-URL option: every API call gets
// its own http.Client whose transport binds the call's context and, for tests
// and the demo, sends what was meant for api.twilio.com to APIURL.
package sms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	twclient "github.com/twilio/twilio-go/client"

	"xgate/mapping"
	"xgate/store"
	"xgate/transports"
)

// Name is the transport's name in the store and the metrics.
const Name = "sms"

// Config configures the transport (cmd/xgate maps config.SMS onto it).
type Config struct {
	// Domain is the transport's component domain.
	Domain string
	// AccountSID and AuthToken are the Twilio account's; the token also
	// validates webhook signatures. APIKeySID and APIKeySecret, when set,
	// authenticate API calls instead.
	AccountSID, AuthToken   string
	APIKeySID, APIKeySecret string
	// MessagingServiceSID, when set, is sent with every message.
	MessagingServiceSID string
	// Numbers is the pool users may claim; Assign gives numbers (E.164) to
	// users (bare JIDs) without registration.
	Numbers []string
	Assign  map[string]string
	// DefaultRegion reads national input (ISO 3166, "US").
	DefaultRegion string
	// Rate is segments per second per number (default 1); MaxSegments the
	// longest message (default 10); DailyCap messages per user per UTC day
	// (0: none); AllowedCountries the ISO regions texts may go to (empty: all).
	Rate             float64
	MaxSegments      int
	DailyCap         int
	AllowedCountries []string
	// PublicURL is the base URL Twilio reaches xgate's http.listen at
	// (https://gw.example.org); webhook URLs are PublicURL + Handler's paths.
	PublicURL string
	// APIURL, for tests and the demo, replaces https://api.twilio.com.
	APIURL string
	// Timeout bounds one API call (default 10s); MediaTTL the validity of
	// media links (default 7 days).
	Timeout, MediaTTL time.Duration
	// Store keeps registrations and the SID ↔ stanza id pairs.
	Store store.Store
	// RoundTripper makes the HTTP requests to Twilio (default
	// http.DefaultTransport).
	RoundTripper http.RoundTripper
	// Registerer receives the transport's metrics (nil: none).
	Registerer prometheus.Registerer
	// Logger defaults to discarding; Now to time.Now.
	Logger *slog.Logger
	Now    func() time.Time
}

// Transport is the SMS transport. Its methods are safe for concurrent use.
type Transport struct {
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	api       *apiClient
	validator twclient.RequestValidator
	public    string // PublicURL without a trailing slash
	prefix    string // path prefix of Handler
	pool      map[string]bool
	owners    map[string]string   // assigned number → user
	assigned  map[string][]string // user → assigned numbers, sorted
	allowed   map[string]bool     // allowed regions; nil: all
	mediaKey  []byte
	m         *metrics
	guard     *dailyGuard

	up transports.UplinkSlot // set while Run runs
}

const (
	defaultTimeout     = 10 * time.Second
	defaultMediaTTL    = 7 * 24 * time.Hour
	defaultMaxSegments = 10
	// maxMedia is Twilio's limit of MediaUrl per message.
	maxMedia = 10
)

// New checks cfg and returns the transport.
func New(cfg Config) (*Transport, error) {
	switch {
	case cfg.Domain == "":
		return nil, errors.New("sms: domain is required")
	case cfg.AccountSID == "" || cfg.AuthToken == "":
		return nil, errors.New("sms: account_sid and auth_token are required")
	case cfg.Store == nil:
		return nil, errors.New("sms: a store is required")
	case len(cfg.Numbers) == 0 && len(cfg.Assign) == 0:
		return nil, errors.New("sms: no number configured (numbers or assign)")
	}
	pub, err := url.Parse(cfg.PublicURL)
	if err != nil || (pub.Scheme != "http" && pub.Scheme != "https") || pub.Host == "" {
		return nil, errors.New("sms: public_url must be an absolute http(s) URL")
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 1
	}
	if cfg.MaxSegments <= 0 {
		cfg.MaxSegments = defaultMaxSegments
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.MediaTTL <= 0 {
		cfg.MediaTTL = defaultMediaTTL
	}
	t := &Transport{
		cfg:       cfg,
		log:       cfg.Logger,
		now:       cfg.Now,
		validator: twclient.NewRequestValidator(cfg.AuthToken),
		public:    strings.TrimRight(cfg.PublicURL, "/"),
		prefix:    "/sms/" + cfg.Domain,
		pool:      map[string]bool{},
		owners:    map[string]string{},
		assigned:  map[string][]string{},
		mediaKey:  deriveKey(cfg.AuthToken, "xgate sms media v1"),
		m:         newMetrics(cfg.Registerer),
		guard:     newDailyGuard(cfg.DailyCap, cfg.Store),
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	t.log = t.log.With("transport", Name, "domain", cfg.Domain)
	if t.now == nil {
		t.now = time.Now
	}
	t.api, err = newAPIClient(cfg)
	if err != nil {
		return nil, err
	}
	for _, n := range cfg.Numbers {
		if _, err := mapping.LocalToPhone(n); err != nil {
			return nil, fmt.Errorf("sms: numbers: %w", err)
		}
		t.pool[n] = true
	}
	for n, u := range cfg.Assign {
		if _, err := mapping.LocalToPhone(n); err != nil {
			return nil, fmt.Errorf("sms: assign: %w", err)
		}
		t.owners[n] = u
		t.assigned[u] = append(t.assigned[u], n)
	}
	for _, ns := range t.assigned {
		slices.Sort(ns)
	}
	if len(cfg.AllowedCountries) > 0 {
		t.allowed = map[string]bool{}
		for _, r := range cfg.AllowedCountries {
			t.allowed[strings.ToUpper(r)] = true
		}
	}
	return t, nil
}

// Name is "sms".
func (t *Transport) Name() string { return Name }

// Identity is gateway/sms.
func (t *Transport) Identity() transports.Identity {
	return transports.Identity{Category: "gateway", Type: "sms", Name: "SMS gateway"}
}

// SendsReceipts is true: Twilio's "delivered" status becomes a XEP-0184
// receipt.
func (t *Transport) SendsReceipts() bool { return true }

// Run keeps up for the webhook handlers until ctx ends. While Run is not
// running, the webhooks answer 503.
func (t *Transport) Run(ctx context.Context, up transports.Uplink) error {
	if err := t.up.Hold(ctx, up); err != nil {
		return fmt.Errorf("sms: %w", err)
	}
	return nil
}

func (t *Transport) uplink() transports.Uplink { return t.up.Get() }

// CheckAddress accepts E.164 localparts and short codes; the error text
// (for jid-malformed) says how to write the number.
func (t *Transport) CheckAddress(localpart string) error {
	_, err := mapping.LocalToPhone(localpart)
	return err
}

// Prompt is the XEP-0100 <desc/> and <prompt/>.
func (t *Transport) Prompt() (desc, prompt string) {
	desc = "Enter the contact's phone number in international form, e.g. +15551234567"
	if r := t.cfg.DefaultRegion; r != "" {
		desc += ", or as you would dial it in " + strings.ToUpper(r)
	}
	return desc + ".", "Phone number"
}

// Translate turns a typed number into the contact localpart (E.164 or a
// short code), reading national input with the default region.
func (t *Transport) Translate(input string) (string, error) {
	return mapping.PhoneToLocal(input, t.cfg.DefaultRegion)
}

// PathPrefix is where cmd/xgate mounts Handler ("/sms/<domain>/"; Handler
// serves the paths below it).
func (t *Transport) PathPrefix() string { return t.prefix + "/" }

// IncomingURL is the URL to set as the numbers' "A message comes in" webhook
// in the Twilio console (HTTP POST).
func (t *Transport) IncomingURL() string { return t.public + t.prefix + pathIncoming }

// StatusURL is the status callback URL sent with every message.
func (t *Transport) StatusURL() string { return t.public + t.prefix + pathStatus }

// bare strips the resource of a JID.
func bare(j string) string {
	b, _, _ := strings.Cut(j, "/")
	return b
}

// localOf is the localpart of a JID ("" without one).
func localOf(j string) string {
	l, _, ok := strings.Cut(bare(j), "@")
	if !ok {
		return ""
	}
	return l
}

var (
	_ transports.Transport      = (*Transport)(nil)
	_ transports.AddressChecker = (*Transport)(nil)
	_ transports.Prompter       = (*Transport)(nil)
	_ transports.Registrar      = (*Transport)(nil)
	_ transports.RateKeyer      = (*Transport)(nil)
)
