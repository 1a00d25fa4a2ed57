package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// post sends body to the handler, signed with sig ("" = sign correctly).
func post(t testing.TB, h http.Handler, body []byte, sig string) *httptest.ResponseRecorder {
	t.Helper()
	if sig == "" {
		sig = sign([]byte("k3y"), body)
	}
	req := httptest.NewRequest(http.MethodPost, "/webhook/hook.example.org/in", bytes.NewReader(body))
	req.Header.Set(SignatureHeader, sig)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestInbound(t *testing.T) {
	good := `{"id":"r-1","from":"ticket-42","to":"alice@example.org","body":"hi there","thread":"t1"}`
	cases := []struct {
		name       string
		body       string
		sig        string // "" = a valid signature
		wantStatus int
		wantText   string // substring of the answer
		stored     int    // messages the uplink holds afterwards
	}{
		{name: "valid", body: good, wantStatus: 200, wantText: `{"inserted":true}`, stored: 1},
		{name: "valid with sha256= prefix", body: good, sig: "sha256=" + sign([]byte("k3y"), []byte(good)),
			wantStatus: 200, stored: 1},
		{name: "valid in upper-case hex", body: good, sig: strings.ToUpper(sign([]byte("k3y"), []byte(good))),
			wantStatus: 200, stored: 1},
		{name: "missing signature", body: good, sig: " ", wantStatus: 401},
		{name: "bad signature", body: good, sig: sign([]byte("wrong"), []byte(good)), wantStatus: 401},
		{name: "signature not hex", body: good, sig: "zz", wantStatus: 401},
		{name: "signature of another body", body: good, sig: sign([]byte("k3y"), []byte(good+" ")), wantStatus: 401},
		{name: "not json", body: `hello`, wantStatus: 400, wantText: "JSON"},
		{name: "trailing data", body: good + `{}`, wantStatus: 400, wantText: "after"},
		{name: "missing id", body: `{"from":"a","to":"alice@example.org","body":"x"}`, wantStatus: 400, wantText: `"id"`},
		{name: "missing from", body: `{"id":"1","to":"alice@example.org","body":"x"}`, wantStatus: 400, wantText: `"from"`},
		{name: "missing to", body: `{"id":"1","from":"a","body":"x"}`, wantStatus: 400, wantText: `"to"`},
		{name: "missing body", body: `{"id":"1","from":"a","to":"alice@example.org"}`, wantStatus: 400, wantText: `"body"`},
		{name: "from with @", body: `{"id":"1","from":"a@b","to":"alice@example.org","body":"x"}`, wantStatus: 400, wantText: `"from"`},
		{name: "to without localpart", body: `{"id":"1","from":"a","to":"example.org","body":"x"}`, wantStatus: 400, wantText: `"to"`},
		{name: "id too long", body: `{"id":"` + strings.Repeat("i", 300) + `","from":"a","to":"alice@example.org","body":"x"}`,
			wantStatus: 400, wantText: `"id"`},
		{name: "oversize", body: `{"id":"1","from":"a","to":"alice@example.org","body":"` + strings.Repeat("x", 1<<20) + `"}`,
			wantStatus: 413},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, up := newTestTransport(t, "http://127.0.0.1:1/", 0)
			rec := post(t, tr.Handler(), []byte(tc.body), tc.sig)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d (%s), want %d", rec.Code, rec.Body, tc.wantStatus)
			}
			if !strings.Contains(rec.Body.String(), tc.wantText) {
				t.Errorf("answer %q, want it to contain %q", rec.Body, tc.wantText)
			}
			up.mu.Lock()
			defer up.mu.Unlock()
			if len(up.received) != tc.stored {
				t.Fatalf("%d messages stored, want %d", len(up.received), tc.stored)
			}
		})
	}
}

func TestInboundMessage(t *testing.T) {
	tr, up := newTestTransport(t, "http://127.0.0.1:1/", 0)
	body := []byte(`{"id":"r-1","from":"ticket-42","to":"alice@example.org","body":"hi there","thread":"t1"}`)
	if rec := post(t, tr.Handler(), body, ""); rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	up.mu.Lock()
	m := up.received[0]
	up.mu.Unlock()
	if m.From != "ticket-42@hook.example.org" || m.To != "alice@example.org" || m.Body != "hi there" ||
		m.Thread != "t1" || m.RemoteID != "r-1" || m.Type != "chat" {
		t.Errorf("message %+v", m)
	}
	if m.ID == "" || m.Stamp.IsZero() {
		t.Errorf("message without id or stamp: %+v", m)
	}

	// The sender retries: not stored again, and told so.
	rec := post(t, tr.Handler(), body, "")
	var ans struct{ Inserted *bool }
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || rec.Code != 200 || ans.Inserted == nil || *ans.Inserted {
		t.Fatalf("duplicate: status %d answer %s, want 200 inserted=false", rec.Code, rec.Body)
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if len(up.received) != 1 {
		t.Errorf("%d messages stored after a duplicate, want 1", len(up.received))
	}
}

func TestInboundUnavailable(t *testing.T) {
	body := []byte(`{"id":"r-1","from":"ticket-42","to":"alice@example.org","body":"hi"}`)
	t.Run("store failing", func(t *testing.T) {
		tr, up := newTestTransport(t, "http://127.0.0.1:1/", 0)
		up.receiveErr = errors.New("database is locked")
		rec := post(t, tr.Handler(), body, "")
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("status %d Retry-After %q, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
		}
		if strings.Contains(rec.Body.String(), "locked") {
			t.Errorf("store error leaked to the sender: %q", rec.Body)
		}
	})
	t.Run("not running", func(t *testing.T) {
		tr, _ := newTestTransport(t, "http://127.0.0.1:1/", 0)
		tr.up.Set(nil)
		if rec := post(t, tr.Handler(), body, ""); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", rec.Code)
		}
	})
	t.Run("inbound disabled", func(t *testing.T) {
		tr, err := New(Config{Domain: "hook.example.org", URL: "http://127.0.0.1:1/"})
		if err != nil {
			t.Fatal(err)
		}
		tr.up.Set(&fakeUplink{})
		// Even a body "signed" with the empty key is refused.
		if rec := post(t, tr.Handler(), body, sign(nil, body)); rec.Code != http.StatusForbidden {
			t.Fatalf("status %d, want 403", rec.Code)
		}
	})
	t.Run("not a POST", func(t *testing.T) {
		tr, _ := newTestTransport(t, "http://127.0.0.1:1/", 0)
		rec := httptest.NewRecorder()
		tr.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
			t.Fatalf("status %d Allow %q, want 405 with Allow: POST", rec.Code, rec.Header().Get("Allow"))
		}
	})
}

func FuzzInbound(f *testing.F) {
	f.Add([]byte(`{"id":"r-1","from":"ticket-42","to":"alice@example.org","body":"hi","thread":"t"}`))
	f.Add([]byte(`{"id":"","from":"a@b","to":"x","body":""}`))
	f.Add([]byte(`{"id":1}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"id":"x","from":"\u0000","to":"a@b/c","body":"\ud800"}`))
	tr, up := newTestTransport(f, "http://127.0.0.1:1/", 0)
	h := tr.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := post(t, h, body, "")
		switch rec.Code {
		case http.StatusOK:
			up.mu.Lock()
			defer up.mu.Unlock()
			if n := len(up.received); n > 0 {
				m := up.received[n-1]
				if m.RemoteID == "" || m.From == "" || m.To == "" || m.Body == "" {
					t.Fatalf("accepted an incomplete message: %+v", m)
				}
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d for a signed body: %s", rec.Code, rec.Body)
		}
	})
}
