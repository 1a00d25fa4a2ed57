package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"xgate/transports"
)

// SignatureHeader carries hex(HMAC-SHA256(inbound secret, raw body)) on an
// inbound POST. A "sha256=" prefix is accepted.
const SignatureHeader = "X-Xgate-Signature"

// inbound is the JSON body of an inbound POST (docs/webhook.md).
type inbound struct {
	ID     string `json:"id"`   // the sender's id for the message: deduplicates retries
	From   string `json:"from"` // contact localpart on the domain
	To     string `json:"to"`   // the user's JID
	Body   string `json:"body"`
	Thread string `json:"thread"`
}

// maxRemoteID caps the sender's id (it is stored and indexed).
const maxRemoteID = 256

// Handler serves inbound POSTs at PublicPath (cmd/xgate mounts it on the
// http.listen server). Answers:
//
//	200 {"inserted":true|false}  persisted in the inbox (false: a duplicate id, already stored)
//	400 text                     not JSON, or a field missing or invalid (the text names it)
//	401 text                     bad or missing signature; nothing is stored
//	403 text                     inbound is disabled (no inbound secret configured)
//	405                          not a POST
//	413 text                     body over 1 MiB
//	503 text                     the inbox cannot store it now, or xgate is stopping: retry
//
// The answer is 200 only once the message is durable, so a sender that retries
// until it gets a 200 loses nothing; the id makes retries harmless.
func (t *Transport) Handler() http.Handler { return http.HandlerFunc(t.serveInbound) }

func (t *Transport) serveInbound(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	if len(t.secret) == 0 {
		http.Error(w, "inbound webhook is disabled", http.StatusForbidden)
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxInbound))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "body over 1 MiB", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	if !t.signed(raw, r.Header.Get(SignatureHeader)) {
		t.log.Warn("inbound webhook with a bad signature; ignored", "remote", r.RemoteAddr)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	m, msg := t.parseInbound(raw)
	if msg != "" {
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	up := t.uplink()
	if up == nil {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "xgate is not running this transport now; retry", http.StatusServiceUnavailable)
		return
	}
	inserted, err := up.Receive(r.Context(), m)
	if err != nil {
		t.log.Error("cannot store inbound webhook message; the sender must retry", "remote_id", m.RemoteID, "err", err)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "cannot store the message now; retry", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Inserted bool `json:"inserted"`
	}{inserted})
}

// signed reports whether sig is the HMAC of raw, in constant time.
func (t *Transport) signed(raw []byte, sig string) bool {
	got, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(sig), "sha256="))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, t.secret)
	mac.Write(raw)
	return hmac.Equal(got, mac.Sum(nil))
}

// parseInbound decodes and validates an inbound body into the inbox message;
// msg is the 400 text when it is not acceptable.
func (t *Transport) parseInbound(raw []byte) (m transports.Message, msg string) {
	var in inbound
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&in); err != nil {
		return m, "body is not a JSON object: " + clean(err.Error(), maxReason)
	}
	if _, err := dec.Token(); err != io.EOF {
		return m, "body has data after the JSON object"
	}
	switch {
	case in.ID == "":
		return m, `field "id" is required`
	case len(in.ID) > maxRemoteID:
		return m, `field "id" is longer than 256 bytes`
	case in.From == "":
		return m, `field "from" is required`
	case in.To == "":
		return m, `field "to" is required`
	case in.Body == "":
		return m, `field "body" is required`
	}
	from, err := jid.New(in.From, t.domain, "")
	if err != nil {
		return m, `field "from" is not a valid JID localpart`
	}
	to, err := jid.Parse(in.To)
	if err != nil || to.Localpart() == "" {
		return m, `field "to" is not a user JID (user@example.org)`
	}
	return transports.Message{
		ID:       "wh-" + hashID(in.ID),
		From:     from.String(),
		To:       to.String(),
		Type:     "chat",
		Body:     in.Body,
		Thread:   in.Thread,
		RemoteID: in.ID,
		Stamp:    time.Now().UTC(),
	}, ""
}

// hashID derives a stanza id from the sender's id: the same on every retry, so
// a duplicate that still reached a user carries the same id.
func hashID(remote string) string {
	s := sha256.Sum256([]byte(remote))
	return hex.EncodeToString(s[:12])
}
