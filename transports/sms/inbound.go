package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"xgate/mapping"
	"xgate/store"
	"xgate/transports"
)

// Paths below PathPrefix.
const (
	pathIncoming = "/incoming"
	pathStatus   = "/status"
	pathMedia    = "/media/"
)

const (
	// maxWebhookBody caps a webhook body (Twilio's are a few KiB).
	maxWebhookBody = 64 << 10
	// emptyTwiML answers an incoming message: no reply.
	emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response/>`
	// mappingWait bounds how long a status callback waits for the SID ↔
	// stanza id pair that Deliver writes right after Twilio answered.
	mappingWait = 3 * time.Second
)

// Handler serves, below PathPrefix:
//
//	POST incoming  Twilio's incoming-message webhook → 200 empty TwiML once persisted
//	POST status    message status callbacks → 204
//	GET  media/…   received MMS media (media.go)
//
// Webhooks must carry a valid X-Twilio-Signature for the URL under PublicURL;
// others get 403 and change nothing. 503 asks Twilio to retry later (xgate is
// stopping, or the inbox cannot store now).
func (t *Transport) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+t.prefix+pathIncoming, t.serveIncoming)
	mux.HandleFunc("POST "+t.prefix+pathStatus, t.serveStatus)
	mux.HandleFunc("GET "+t.prefix+pathMedia+"{token}", t.serveMedia)
	return mux
}

// verified reads and checks a signed webhook; it answers the request itself
// and returns ok=false when it is not genuine.
func (t *Transport) verified(w http.ResponseWriter, r *http.Request, kind string) (url.Values, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		t.m.webhook(kind, "bad_request")
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return nil, false
	}
	signed := t.public + r.URL.RequestURI()
	sig := r.Header.Get("X-Twilio-Signature")
	if sig == "" || !t.validator.ValidateBody(signed, body, sig) {
		t.m.webhook(kind, "forged")
		t.log.Warn("twilio webhook with a bad signature; ignored", "kind", kind, "remote", r.RemoteAddr, "url", signed)
		http.Error(w, "bad signature", http.StatusForbidden)
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		t.m.webhook(kind, "bad_request")
		http.Error(w, "the body is not a form", http.StatusBadRequest)
		return nil, false
	}
	if acc := form.Get("AccountSid"); acc != "" && acc != t.cfg.AccountSID {
		t.m.webhook(kind, "forged")
		t.log.Warn("twilio webhook for another account; ignored", "kind", kind)
		http.Error(w, "wrong account", http.StatusForbidden)
		return nil, false
	}
	return form, true
}

func (t *Transport) serveIncoming(w http.ResponseWriter, r *http.Request) {
	form, ok := t.verified(w, r, "incoming")
	if !ok {
		return
	}
	up := t.uplink()
	if up == nil {
		t.unavailable(w, "incoming", "xgate is not running this transport now")
		return
	}
	sid := form.Get("MessageSid")
	if sid == "" {
		sid = form.Get("SmsSid")
	}
	if sid == "" || len(sid) > 64 {
		t.m.webhook("incoming", "bad_request")
		http.Error(w, "MessageSid is missing", http.StatusBadRequest)
		return
	}
	from, err := mapping.PhoneToLocal(form.Get("From"), "")
	if err != nil {
		t.m.webhook("incoming", "bad_request")
		http.Error(w, "From is not a phone number", http.StatusBadRequest)
		return
	}
	to := form.Get("To")
	owner, err := t.ownerOf(r.Context(), to)
	if err != nil {
		t.unavailable(w, "incoming", "cannot look the number up now")
		t.log.Error("owner lookup failed", "to", to, "err", err)
		return
	}
	if owner == "" {
		// Nobody has the number: nothing to deliver, and nothing Twilio
		// could fix by retrying.
		t.m.webhook("incoming", "no_owner")
		t.log.Warn("text to a number nobody owns; dropped", "to", to, "sid", sid)
		writeTwiML(w)
		return
	}
	m := transports.Message{
		ID:       "sms-" + sid,
		From:     from + "@" + t.cfg.Domain,
		To:       owner,
		Type:     "chat",
		Body:     form.Get("Body"),
		RemoteID: sid,
		Stamp:    t.now().UTC(),
	}
	m.OOB = t.mediaLinks(form, sid)
	if len(m.OOB) > 0 && m.Body == "" {
		m.Body = strings.Join(m.OOB, "\n") // XEP-0066: clients without OOB show the URL
	}
	if note := optNote(form, from); note != "" {
		if m.Body != "" {
			m.Body += "\n\n"
		}
		m.Body += note
	}
	if m.Body == "" {
		t.m.webhook("incoming", "empty")
		writeTwiML(w)
		return
	}
	inserted, err := up.Receive(r.Context(), m)
	if err != nil {
		t.log.Error("cannot store an incoming text; Twilio must retry", "sid", sid, "err", err)
		t.unavailable(w, "incoming", "cannot store the message now")
		return
	}
	if inserted {
		t.m.webhook("incoming", "delivered")
	} else {
		t.m.webhook("incoming", "duplicate")
	}
	writeTwiML(w)
}

// ownerOf is the user who owns number (assigned, or registered), or "".
func (t *Transport) ownerOf(ctx context.Context, number string) (string, error) {
	if u := t.owners[number]; u != "" {
		return u, nil
	}
	if number == "" {
		return "", nil
	}
	r, err := t.cfg.Store.FindRegistration(ctx, Name, number)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return r.User, nil
}

// optNote tells the user that the contact opted out or in: Twilio handles
// STOP/START itself (Advanced Opt-Out sends OptOutType; the standard keywords
// otherwise) and refuses to send to an opted-out number.
func optNote(form url.Values, from string) string {
	kind := strings.ToUpper(form.Get("OptOutType"))
	if kind == "" {
		switch strings.ToUpper(strings.Trim(strings.TrimSpace(form.Get("Body")), ".!")) {
		case "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE":
			kind = "STOP"
		case "START", "YES", "UNSTOP":
			kind = "START"
		}
	}
	switch kind {
	case "STOP":
		return "[" + from + " opted out of your texts (STOP): Twilio will refuse to send them messages until they text START.]"
	case "START":
		return "[" + from + " opted in again (START): you can text them.]"
	}
	return ""
}

func (t *Transport) serveStatus(w http.ResponseWriter, r *http.Request) {
	form, ok := t.verified(w, r, "status")
	if !ok {
		return
	}
	up := t.uplink()
	if up == nil {
		t.unavailable(w, "status", "xgate is not running this transport now")
		return
	}
	sid, status := form.Get("MessageSid"), strings.ToLower(form.Get("MessageStatus"))
	if status == "" {
		status = strings.ToLower(form.Get("SmsStatus"))
	}
	if status != "delivered" && status != "undelivered" && status != "failed" {
		t.m.webhook("status", "ignored")
		w.WriteHeader(http.StatusNoContent) // queued, sent, ...: nothing to tell
		return
	}
	idm, err := t.waitMapping(r.Context(), sid)
	if errors.Is(err, store.ErrNotFound) {
		t.m.webhook("status", "unknown")
		t.log.Info("status callback for a message xgate has no record of", "sid", sid, "status", status)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		t.log.Error("status callback: lookup failed", "sid", sid, "err", err)
		t.unavailable(w, "status", "cannot look the message up now")
		return
	}
	var info sentInfo
	_ = json.Unmarshal(idm.Payload, &info)
	if info.From == "" {
		info.From = idm.User
	}
	orig := transports.Message{
		ID: idm.StanzaID, From: info.From, To: idm.Peer + "@" + t.cfg.Domain, Type: info.Type, WantReceipt: info.WantReceipt,
	}
	if status == "delivered" {
		err = up.Receipt(r.Context(), orig)
	} else {
		err = up.Fail(r.Context(), orig, statusError(status, form.Get("ErrorCode"), form.Get("ErrorMessage")))
	}
	if err != nil {
		// The stream is down: the notice is lost (Twilio would not retry a
		// 5xx status callback usefully either).
		t.m.webhook("status", "not_forwarded")
		t.log.Warn("cannot forward a delivery status to the sender", "sid", sid, "status", status, "err", err)
	} else {
		t.m.webhook("status", status)
	}
	w.WriteHeader(http.StatusNoContent)
}

// waitMapping looks the SID up, waiting a little for a pair that Deliver is
// about to write (Twilio can call back before CreateMessage's answer is
// processed).
func (t *Transport) waitMapping(ctx context.Context, sid string) (store.IDMapping, error) {
	deadline := time.Now().Add(mappingWait)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		idm, err := t.cfg.Store.IDByRemote(ctx, Name, sid)
		if !errors.Is(err, store.ErrNotFound) || time.Now().After(deadline) {
			return idm, err
		}
		select {
		case <-ctx.Done():
			return idm, err
		case <-tick.C:
		}
	}
}

// statusError is what the sender is told for an undelivered or failed text.
func statusError(status, code, msg string) error {
	n, _ := strconv.Atoi(code)
	cond, hint := condition(n)
	if n == 0 {
		cond = "undefined-condition"
	}
	text := "the text message was " + status
	if n != 0 {
		text += fmt.Sprintf(" (Twilio error %d", n)
		if msg = clean(msg, 200); msg != "" {
			text += ": " + msg
		} else if d := codeText(n); d != "" {
			text += ": " + d
		}
		text += ")"
	}
	if hint != "" {
		text += "; " + hint
	}
	return transports.Permanent(cond, text, nil)
}

// codeText describes the error codes of status callbacks, which carry no
// message.
func codeText(code int) string {
	switch code {
	case 30001:
		return "queue overflow"
	case 30002:
		return "account suspended"
	case 30003:
		return "unreachable destination handset"
	case 30004:
		return "message blocked"
	case 30005:
		return "unknown destination handset"
	case 30006:
		return "landline or unreachable carrier"
	case 30007:
		return "message filtered"
	case 30008:
		return "unknown error"
	case 21610:
		return "the recipient unsubscribed"
	}
	return ""
}

func (t *Transport) unavailable(w http.ResponseWriter, kind, why string) {
	t.m.webhook(kind, "unavailable")
	w.Header().Set("Retry-After", "5")
	http.Error(w, why, http.StatusServiceUnavailable)
}

func writeTwiML(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = io.WriteString(w, emptyTwiML)
}
