package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"xgate/transports"
)

// outbound is the JSON body POSTed to the receiver (docs/webhook.md).
type outbound struct {
	ID      string    `json:"id"`
	From    string    `json:"from"` // the user's bare JID
	To      string    `json:"to"`   // the contact localpart
	Body    string    `json:"body"`
	Subject string    `json:"subject,omitempty"`
	Thread  string    `json:"thread,omitempty"`
	OOB     []string  `json:"oob,omitempty"`
	Stamp   time.Time `json:"stamp"`
}

const (
	// maxReason caps the receiver's text shown to the sender, in characters.
	maxReason = 200
	// maxErrorBody caps how much of an error response is read.
	maxErrorBody = 4 << 10
)

// Deliver POSTs m to the receiver. A 2xx answer is delivered (then, if the
// sender asked, a receipt goes back); 408, 425, 429, 5xx, redirects, network
// errors and timeouts are temporary; 404 is permanent with item-not-found, any
// other 4xx permanent with not-acceptable, with the first line of the
// receiver's answer as the text the sender sees.
func (t *Transport) Deliver(ctx context.Context, m transports.Message) error {
	from := bare(m.From)
	to, _, _ := strings.Cut(bare(m.To), "@")
	if !strings.Contains(bare(m.To), "@") || to == "" {
		return transports.Permanent("item-not-found", "write to name@"+t.domain, errors.New("webhook: no contact localpart"))
	}
	stamp := m.Stamp
	if stamp.IsZero() {
		stamp = time.Now()
	}
	key := idempotencyKey(from, to, m)
	body, err := json.Marshal(outbound{
		ID: m.ID, From: from, To: to, Body: m.Body, Subject: m.Subject, Thread: m.Thread,
		OOB: m.OOB, Stamp: stamp.UTC(),
	})
	if err != nil {
		return transports.Permanent("internal-server-error", "the message cannot be encoded", fmt.Errorf("webhook: encode: %w", err))
	}

	pctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(pctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil { // the URL was checked by New; never echo it, it may hold secrets
		return transports.Permanent("internal-server-error", "the webhook URL is invalid", errors.New("webhook: cannot build request"))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("User-Agent", "xgate-webhook")
	resp, err := t.client.Do(req)
	if err != nil {
		err = redact(err)
		if pctx.Err() != nil && ctx.Err() == nil {
			return transports.Temporary("the webhook receiver did not answer in time", err)
		}
		return transports.Temporary("the webhook receiver is unreachable", err)
	}
	defer resp.Body.Close()
	if err := classify(resp); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody)) // let the connection be reused
	if m.WantReceipt {
		if up := t.uplink(); up != nil {
			if err := up.Receipt(ctx, m); err != nil {
				t.log.Info("cannot send receipt", "id", m.ID, "err", err)
			}
		}
	}
	return nil
}

// classify turns a response into nil (2xx) or a classified error.
func classify(resp *http.Response) error {
	code := resp.StatusCode
	if code >= 200 && code <= 299 {
		return nil
	}
	reason := reasonOf(resp)
	err := fmt.Errorf("webhook: receiver answered %d", code)
	if reason != "" {
		err = fmt.Errorf("webhook: receiver answered %d: %s", code, reason)
	}
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests, code >= 500:
		return transports.Temporary(fmt.Sprintf("the webhook receiver is unavailable (HTTP %d)", code), err)
	case code == http.StatusNotFound:
		return transports.Permanent("item-not-found", orText(reason, "the webhook receiver knows no such contact"), err)
	case code >= 400:
		return transports.Permanent("not-acceptable", orText(reason, fmt.Sprintf("the webhook receiver refused the message (HTTP %d)", code)), err)
	default: // 1xx, 3xx: a misconfiguration the operator can fix; keep the message meanwhile
		return transports.Temporary(fmt.Sprintf("the webhook receiver answered HTTP %d", code), err)
	}
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// reasonOf is the receiver's explanation: the "error" or "message" string of
// a JSON object body, or else the body's first line unless it looks like
// markup (an HTML error page); printable, at most maxReason characters.
func reasonOf(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var j struct {
		Error   any    `json:"error"`
		Message string `json:"message"`
	}
	line := ""
	if json.Unmarshal(b, &j) == nil {
		if s, ok := j.Error.(string); ok && s != "" {
			line = s
		} else {
			line = j.Message
		}
	}
	if line == "" {
		line, _, _ = strings.Cut(string(b), "\n")
		if strings.HasPrefix(strings.TrimSpace(line), "<") {
			line = ""
		}
	}
	return clean(line, maxReason)
}

// clean makes s printable, single-line valid UTF-8 of at most n characters.
func clean(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n-1]) + "…"
	}
	return s
}

// redact strips the request URL (which may carry credentials or tokens) from
// an http.Client error, keeping what went wrong.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("webhook: post: %w", ue.Err)
	}
	return fmt.Errorf("webhook: post: %w", err)
}

// idempotencyKey identifies one message across retries: a hash of the sender,
// the contact and the sender's stanza id (or, without an id, the stamp and the
// body), so two users' ids cannot collide and a re-sent stanza keeps its key.
func idempotencyKey(from, to string, m transports.Message) string {
	h := sha256.New()
	parts := []string{from, to, m.ID}
	if m.ID == "" {
		parts = append(parts, m.Stamp.UTC().Format(time.RFC3339Nano), m.Body)
	}
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// bare strips the resource of a JID (it starts at the first '/').
func bare(j string) string {
	b, _, _ := strings.Cut(j, "/")
	return b
}
