package sms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	twclient "github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"xgate/transports"
)

// apiClient makes Twilio API calls with twilio-go.
type apiClient struct {
	username, password string // basic auth: account SID and token, or API key
	accountSID         string
	base               http.RoundTripper
	rewrite            *url.URL // nil: the real Twilio
	cfg                Config
}

func newAPIClient(cfg Config) (*apiClient, error) {
	a := &apiClient{username: cfg.AccountSID, password: cfg.AuthToken, accountSID: cfg.AccountSID, base: cfg.RoundTripper, cfg: cfg}
	if cfg.APIKeySID != "" {
		a.username, a.password = cfg.APIKeySID, cfg.APIKeySecret
	}
	if a.base == nil {
		a.base = http.DefaultTransport
	}
	if cfg.APIURL != "" {
		u, err := url.Parse(cfg.APIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("sms: api_url must be an absolute http(s) URL")
		}
		a.rewrite = u
	}
	return a, nil
}

// service returns a twilio-go API service whose requests run under ctx.
// twilio-go builds its requests with context.Background(), so the context is
// bound by the transport; a client per call is cheap (no connection state:
// the connections live in base).
func (a *apiClient) service(ctx context.Context) *openapi.ApiService {
	hc := &http.Client{
		Transport:     &twilioTransport{ctx: ctx, base: a.base, rewrite: a.rewrite},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c := &twclient.Client{Credentials: twclient.NewCredentials(a.username, a.password), HTTPClient: hc}
	c.SetAccountSid(a.accountSID)
	rh := twclient.NewRequestHandler(c)
	rh.Edge, rh.Region = "", "" // not from the environment: the URL is ours to choose
	return openapi.NewApiService(rh)
}

// twilioTransport runs each request under ctx and, when rewrite is set, sends
// requests for *.twilio.com to rewrite's scheme, host and path prefix.
type twilioTransport struct {
	ctx     context.Context
	base    http.RoundTripper
	rewrite *url.URL
}

func (t *twilioTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(t.ctx)
	if t.rewrite != nil {
		RewriteURL(r.URL, t.rewrite)
		r.Host = ""
	}
	return t.base.RoundTrip(r)
}

// RewriteURL points u, a URL on a twilio.com host, at base (scheme, host and
// path prefix), in place. Other URLs are left alone. It is how the real
// twilio-go client is made to talk to a stand-in: for tests and the demo.
func RewriteURL(u *url.URL, base *url.URL) {
	host := u.Hostname()
	if host != "twilio.com" && !strings.HasSuffix(host, ".twilio.com") {
		return
	}
	u.Scheme = base.Scheme
	u.Host = base.Host
	u.Path = strings.TrimRight(base.Path, "/") + u.Path
	if u.RawPath != "" {
		u.RawPath = strings.TrimRight(base.EscapedPath(), "/") + u.RawPath
	}
}

// RewriteTransport is an http.RoundTripper that sends Twilio API requests to
// apiURL instead (see RewriteURL); base makes the requests (nil:
// http.DefaultTransport). For tests and the demo.
func RewriteTransport(base http.RoundTripper, apiURL string) (http.RoundTripper, error) {
	u, err := url.Parse(apiURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("sms: api url %q is not an absolute URL", apiURL)
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		r := req.Clone(req.Context())
		RewriteURL(r.URL, u)
		r.Host = ""
		return base.RoundTrip(r)
	}), nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// sendParams is one message to create.
type sendParams struct {
	From, To, Body, StatusCallback string
	Media                          []string
}

// create calls Api.CreateMessage and returns the message SID, or a classified
// error.
func (a *apiClient) create(ctx context.Context, p sendParams) (string, error) {
	params := &openapi.CreateMessageParams{}
	params.SetTo(p.To)
	params.SetFrom(p.From)
	if p.Body != "" {
		params.SetBody(p.Body)
	}
	if p.StatusCallback != "" {
		params.SetStatusCallback(p.StatusCallback)
	}
	if len(p.Media) > 0 {
		params.SetMediaUrl(p.Media)
	}
	if a.cfg.MessagingServiceSID != "" {
		params.SetMessagingServiceSid(a.cfg.MessagingServiceSID)
	}
	msg, err := a.service(ctx).CreateMessage(params)
	if err != nil {
		return "", classify(ctx, err)
	}
	if msg == nil || msg.Sid == nil || *msg.Sid == "" {
		return "", transports.Temporary("Twilio answered without a message SID", errors.New("sms: create message: no sid in the answer"))
	}
	return *msg.Sid, nil
}

// classify turns a twilio-go error into a temporary or permanent one. The
// sender's <text/> carries Twilio's code and message; never a URL or a
// credential.
func classify(ctx context.Context, err error) error {
	var te *twclient.TwilioRestError
	if !errors.As(err, &te) {
		var v1 *twclient.RestErrorV1
		if errors.As(err, &v1) {
			te = &twclient.TwilioRestError{Code: v1.Code, Message: v1.Message, Status: v1.HttpStatusCode}
		}
	}
	if te == nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // keep what went wrong, not the URL
		}
		if ctx.Err() != nil {
			return transports.Temporary("Twilio did not answer in time", fmt.Errorf("sms: create message: %w", err))
		}
		return transports.Temporary("Twilio is unreachable or answered badly", fmt.Errorf("sms: create message: %w", err))
	}
	cause := fmt.Errorf("sms: twilio: status %d, error %d: %s", te.Status, te.Code, clean(te.Message, 200))
	what := fmt.Sprintf("Twilio error %d: %s", te.Code, clean(te.Message, 200))
	switch {
	case te.Status == http.StatusTooManyRequests || te.Code == 20429 || te.Status >= 500:
		return transports.Temporary("Twilio is busy ("+what+")", cause)
	case te.Status == http.StatusUnauthorized || te.Status == http.StatusForbidden || te.Code == 20003 || te.Code == 20404:
		// The gateway's credentials or account: the operator can fix it;
		// keep the message until then.
		return transports.Temporary("the gateway cannot use its Twilio account ("+what+")", cause)
	}
	cond, hint := condition(te.Code)
	text := "the message was refused: " + what
	if hint != "" {
		text += " (" + hint + ")"
	}
	return transports.Permanent(cond, text, cause)
}

// condition maps a permanent Twilio error code to a stanza error condition
// and a hint for the sender. https://www.twilio.com/docs/api/errors
func condition(code int) (cond, hint string) {
	switch code {
	case 21211, 30005: // invalid 'To' number; unknown destination handset
		return "item-not-found", "no phone has this number"
	case 21610: // the recipient replied STOP
		return "forbidden", "the recipient has opted out; they can text START to opt in again"
	case 30004: // blocked by the recipient or the carrier
		return "forbidden", "the message was blocked"
	case 21408: // permission for the region not enabled
		return "not-acceptable", "this gateway may not send to that country"
	case 21614, 30006: // not a mobile number; landline
		return "not-acceptable", "the number cannot receive text messages"
	case 21612, 21617, 21602, 21619, 21620, 21621, 21623:
		return "not-acceptable", ""
	case 30007: // filtered as spam
		return "policy-violation", "the carrier filtered the message"
	case 30003: // unreachable handset
		return "recipient-unavailable", "the phone is off or out of coverage"
	case 21606, 21659, 21660, 21212, 21603: // the gateway's own number cannot send
		return "internal-server-error", "the gateway's number cannot send this message"
	}
	return "not-acceptable", ""
}

// clean makes s a printable single line of at most n runes.
func clean(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
}
