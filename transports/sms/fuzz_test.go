package sms

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"xgate/integration/harness"
)

// FuzzMediaToken: a media link path from outside never panics and is only
// accepted when xgate minted it.
func FuzzMediaToken(f *testing.F) {
	e := newEnv(f, nil)
	good := e.t.mediaToken("MM0123456789abcdef0123456789abcdef", "ME0123456789abcdef0123456789abcdef", time.Now().Add(time.Hour))
	f.Add(good)
	f.Add("a.b.c.d")
	f.Add("....")
	f.Fuzz(func(t *testing.T, tok string) {
		msg, media, ok := e.t.checkToken(tok)
		if ok && tok != e.t.mediaToken(msg, media, time.Unix(mustExp(t, tok), 0)) {
			t.Fatalf("accepted a token xgate did not mint: %q", tok)
		}
	})
}

func mustExp(t *testing.T, tok string) int64 {
	e, _, _ := strings.Cut(tok, ".")
	var n int64
	for _, c := range e {
		n = n*36 + int64(strings.IndexRune("0123456789abcdefghijklmnopqrstuvwxyz", c))
	}
	return n
}

// FuzzIncoming: any form body, signed or not, gets a sensible status and
// never panics; unsigned bodies are always refused.
func FuzzIncoming(f *testing.F) {
	e := newEnv(f, nil)
	f.Add("MessageSid=SM1&From=%2B15550002000&To=%2B15550001000&Body=hi", true)
	f.Add("From=x&To=&Body=%ff", true)
	f.Add("NumMedia=3&MediaUrl0=http://x&MessageSid=SM2&From=%2B15550002000&To=%2B15550001000", true)
	f.Add("%%%", false)
	f.Fuzz(func(t *testing.T, body string, sign bool) {
		for _, path := range []string{e.t.IncomingURL(), e.t.StatusURL()} {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if sign {
				form, err := url.ParseQuery(body)
				if err != nil {
					continue
				}
				req.Header.Set("X-Twilio-Signature", harness.TwilioSignature(testToken, path, form))
			}
			rec := httptest.NewRecorder()
			e.t.Handler().ServeHTTP(rec, req)
			switch code := rec.Code; {
			case !sign && code != http.StatusForbidden:
				t.Fatalf("unsigned %q to %s: status %d, want 403", body, path, code)
			case code >= 500 && code != http.StatusServiceUnavailable:
				t.Fatalf("%q to %s: status %d", body, path, code)
			}
		}
	})
}
