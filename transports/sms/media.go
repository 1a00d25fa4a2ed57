package sms

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Received MMS media: Twilio serves them only with the account's
// credentials, so users get links to xgate instead:
//
//	<public>/sms/<domain>/media/<expiry>.<message sid>.<media sid>.<mac>
//
// The MAC (HMAC-SHA256 under a key derived from the auth token) makes the link
// unguessable and unforgeable; the expiry (unix seconds, base 36) bounds it to
// MediaTTL. xgate keeps no state for it: a GET checks the link, fetches the
// media from Twilio with the credentials and streams it back.

// twilioMediaPath matches the path of a Twilio media URL.
var twilioMediaPath = regexp.MustCompile(`^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages/([A-Z]{2}[0-9a-fA-F]{32})/Media/(ME[0-9a-fA-F]{32})(\.json)?$`)

// maxMediaBytes caps what xgate relays (Twilio's own limit is 5 MB).
const maxMediaBytes = 16 << 20

func deriveKey(secret, purpose string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(purpose))
	return mac.Sum(nil)
}

// mediaLinks turns the MediaUrlN of an incoming message into xgate links;
// media of another account or an odd URL are skipped (and logged).
func (t *Transport) mediaLinks(form url.Values, sid string) []string {
	n, _ := strconv.Atoi(form.Get("NumMedia"))
	var links []string
	for i := range min(n, maxMedia) {
		raw := form.Get("MediaUrl" + strconv.Itoa(i))
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		m := twilioMediaPath.FindStringSubmatch(u.Path)
		if m == nil || m[1] != t.cfg.AccountSID {
			t.log.Warn("incoming media URL of an unexpected form; skipped", "sid", sid, "index", i)
			continue
		}
		links = append(links, t.public+t.prefix+pathMedia+t.mediaToken(m[2], m[3], t.now().Add(t.cfg.MediaTTL)))
	}
	return links
}

func (t *Transport) mediaToken(msgSid, mediaSid string, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 36)
	return e + "." + msgSid + "." + mediaSid + "." + t.mediaMAC(e, msgSid, mediaSid)
}

func (t *Transport) mediaMAC(exp, msgSid, mediaSid string) string {
	mac := hmac.New(sha256.New, t.mediaKey)
	mac.Write([]byte(exp + "." + msgSid + "." + mediaSid))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:18])
}

// checkToken returns the message and media SIDs of a valid, unexpired token.
func (t *Transport) checkToken(tok string) (msgSid, mediaSid string, ok bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 4 {
		return "", "", false
	}
	if !hmac.Equal([]byte(parts[3]), []byte(t.mediaMAC(parts[0], parts[1], parts[2]))) {
		return "", "", false
	}
	exp, err := strconv.ParseInt(parts[0], 36, 64)
	if err != nil || t.now().Unix() > exp {
		return "", "", false
	}
	return parts[1], parts[2], true
}

func (t *Transport) serveMedia(w http.ResponseWriter, r *http.Request) {
	msgSid, mediaSid, ok := t.checkToken(r.PathValue("token"))
	if !ok {
		t.m.webhook("media", "not_found")
		http.Error(w, "no such media, or the link expired", http.StatusNotFound)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 4*t.cfg.Timeout)
	defer cancel()
	src := "https://api.twilio.com/2010-04-01/Accounts/" + t.cfg.AccountSID + "/Messages/" + msgSid + "/Media/" + mediaSid
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		http.Error(w, "bad media link", http.StatusNotFound)
		return
	}
	req.SetBasicAuth(t.api.username, t.api.password)
	// Twilio redirects media to a CDN; Go drops the Authorization header
	// when a redirect leaves the host.
	hc := &http.Client{Transport: &twilioTransport{ctx: ctx, base: t.api.base, rewrite: t.api.rewrite}}
	resp, err := hc.Do(req)
	if err != nil {
		t.m.webhook("media", "upstream_error")
		t.log.Warn("cannot fetch media from Twilio", "media", mediaSid, "err", redactURLError(err))
		http.Error(w, "cannot fetch the media now", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.m.webhook("media", "upstream_error")
		t.log.Warn("Twilio refused a media fetch", "media", mediaSid, "status", resp.StatusCode)
		code := http.StatusBadGateway
		if resp.StatusCode == http.StatusNotFound {
			code = http.StatusNotFound
		}
		http.Error(w, fmt.Sprintf("Twilio answered %d", resp.StatusCode), code)
		return
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	if cl := resp.Header.Get("Content-Length"); cl != "" {
		w.Header().Set("Content-Length", cl)
	}
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	t.m.webhook("media", "served")
	_, _ = io.Copy(w, io.LimitReader(resp.Body, maxMediaBytes))
}

func redactURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
