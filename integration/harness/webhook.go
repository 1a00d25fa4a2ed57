package harness

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// WebhookPost is one POST the WebhookReceiver got.
type WebhookPost struct {
	At     time.Time
	Header http.Header
	Body   []byte
	// Msg is Body decoded as the webhook transport's JSON message (zero when it
	// is not JSON).
	Msg WebhookMessage
	// Status is what the receiver answered.
	Status int
}

// IdempotencyKey is the Idempotency-Key header xgate sets: the same on every
// POST of one message (it is derived from the sender, the contact and the
// stanza id), by which a receiver drops a redelivered message.
func (p WebhookPost) IdempotencyKey() string { return p.Header.Get("Idempotency-Key") }

// WebhookMessage is the JSON body of a webhook message, outbound (xgate POSTs
// it to transports.webhook.url) and inbound (POSTed to xgate); the raw body
// is in WebhookPost.Body.
type WebhookMessage struct {
	// ID is the stanza id (outbound) or the sender's id (inbound).
	ID string `json:"id"`
	// From is the user's bare JID (outbound) or the contact's localpart
	// (inbound); To the contact's localpart (outbound) or the user's JID
	// (inbound).
	From string `json:"from"`
	To   string `json:"to"`
	Body string `json:"body"`
}

// WebhookReceiver is an HTTP server in the test process standing for the
// remote service behind the webhook transport. It records every POST and
// answers with a status the test sets (200 by default), optionally after a
// delay, to make xgate retry.
type WebhookReceiver struct {
	// URL is the address to configure as transports.webhook.url.
	URL string

	srv *httptest.Server

	mu     sync.Mutex
	posts  []WebhookPost
	notify chan struct{}
	status int
	delay  time.Duration
	decide func(WebhookPost) int
}

// NewWebhookReceiver starts a receiver on 127.0.0.1; the test's cleanup closes it.
func NewWebhookReceiver(t T) *WebhookReceiver {
	t.Helper()
	r := &WebhookReceiver{notify: make(chan struct{}), status: http.StatusOK}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serveHTTP))
	r.URL = r.srv.URL + "/hook"
	t.Cleanup(func() {
		// Unblock handlers that wait out a delay, then close.
		r.SetDelay(0)
		r.srv.CloseClientConnections()
		r.srv.Close()
	})
	return r
}

func (r *WebhookReceiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil || req.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	p := WebhookPost{At: time.Now(), Header: req.Header.Clone(), Body: body}
	_ = json.Unmarshal(body, &p.Msg)
	r.mu.Lock()
	delay, status, decide := r.delay, r.status, r.decide
	r.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
			return // the client gave up: xgate counts it as a failure
		}
	}
	if decide != nil {
		status = decide(p)
	}
	p.Status = status
	r.mu.Lock()
	r.posts = append(r.posts, p)
	close(r.notify)
	r.notify = make(chan struct{})
	r.mu.Unlock()
	w.WriteHeader(status)
}

// SetStatus makes the receiver answer code from now on (200, 500, 429...).
func (r *WebhookReceiver) SetStatus(code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = code
}

// SetDelay makes the receiver wait d before answering each POST.
func (r *WebhookReceiver) SetDelay(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delay = d
}

// SetDecider makes the receiver answer decide(post) (it overrides SetStatus);
// nil restores SetStatus's code. decide runs on the server's goroutines.
func (r *WebhookReceiver) SetDecider(decide func(WebhookPost) int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.decide = decide
}

// Posts returns every POST received so far, in order of their answers.
func (r *WebhookReceiver) Posts() []WebhookPost {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]WebhookPost(nil), r.posts...)
}

// Accepted returns the POSTs answered with a 2xx status.
func (r *WebhookReceiver) Accepted() []WebhookPost {
	var out []WebhookPost
	for _, p := range r.Posts() {
		if p.Status >= 200 && p.Status < 300 {
			out = append(out, p)
		}
	}
	return out
}

// Wait waits up to timeout until cond holds over the POSTs received so far
// and returns them; it fails the test on timeout with cond's explanation.
func (r *WebhookReceiver) Wait(t T, timeout time.Duration, cond func([]WebhookPost) (ok bool, why string)) []WebhookPost {
	t.Helper()
	return waitChanged(t, timeout, "webhook receiver", func() ([]WebhookPost, <-chan struct{}) {
		r.mu.Lock()
		defer r.mu.Unlock()
		return append([]WebhookPost(nil), r.posts...), r.notify
	}, func(ps []WebhookPost) (bool, string) {
		ok, why := cond(ps)
		return ok, fmt.Sprintf("%s (%d POSTs received)", why, len(ps))
	})
}

// WaitAccepted waits until n POSTs have been answered 2xx and returns those.
func (r *WebhookReceiver) WaitAccepted(t T, n int, timeout time.Duration) []WebhookPost {
	t.Helper()
	r.Wait(t, timeout, func([]WebhookPost) (bool, string) {
		got := len(r.Accepted())
		return got >= n, fmt.Sprintf("%d of %d accepted", got, n)
	})
	return r.Accepted()
}

// SignWebhook returns the X-Xgate-Signature value for body: the hex HMAC-SHA256
// of body keyed with secret.
func SignWebhook(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// WebhookInboundPath is the path on http.listen where the webhook transport of
// domain accepts inbound POSTs.
func WebhookInboundPath(domain string) string { return "/webhook/" + domain + "/in" }

// PostWebhook POSTs body to url with the X-Xgate-Signature header set to
// signature (use SignWebhook; anything else to forge) and returns the
// status code and response body.
func PostWebhook(url, signature string, body []byte) (int, string, error) {
	h := http.Header{"Content-Type": {"application/json"}}
	if signature != "" {
		h.Set("X-Xgate-Signature", signature)
	}
	return post(url, h, body)
}

// post POSTs body to url with the headers h, within 10 s, and returns the
// status code and (up to 1 MiB of) the response body.
func post(url string, h http.Header, body []byte) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), nil
}
