package webhook

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"xgate/transports"
)

// fakeUplink records what the transport hands the component.
type fakeUplink struct {
	mu         sync.Mutex
	received   []transports.Message
	seen       map[string]bool
	receiveErr error
	receipts   []transports.Message
}

func (u *fakeUplink) Receive(ctx context.Context, m transports.Message) (bool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.receiveErr != nil {
		return false, u.receiveErr
	}
	if u.seen == nil {
		u.seen = map[string]bool{}
	}
	if u.seen[m.RemoteID] {
		return false, nil
	}
	u.seen[m.RemoteID] = true
	u.received = append(u.received, m)
	return true, nil
}

func (u *fakeUplink) Send(context.Context, xml.TokenReader) error { return nil }

func (u *fakeUplink) Receipt(_ context.Context, m transports.Message) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.receipts = append(u.receipts, m)
	return nil
}

func (u *fakeUplink) Fail(context.Context, transports.Message, error) error { return nil }

func newTestTransport(t testing.TB, url string, timeout time.Duration) (*Transport, *fakeUplink) {
	t.Helper()
	tr, err := New(Config{Domain: "hook.example.org", URL: url, Timeout: timeout, InboundSecret: []byte("k3y")})
	if err != nil {
		t.Fatal(err)
	}
	up := &fakeUplink{}
	tr.up.Set(up) // what Run does, without a goroutine
	return tr, up
}

var testMsg = transports.Message{
	ID: "m1", From: "alice@example.org/phone", To: "ticket-42@hook.example.org",
	Body: "hello\nworld", Subject: "subj", Thread: "th", OOB: []string{"https://files.example.org/a.png"},
	Stamp: time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC),
}

func TestDeliverClassification(t *testing.T) {
	long := strings.Repeat("x", 300)
	cases := []struct {
		status   int
		body     string
		wantErr  bool
		temp     bool
		cond     string
		text     string // expected sender-visible text (permanent only), "" to skip
		receipts int
	}{
		{status: 200, receipts: 1},
		{status: 201, receipts: 1},
		{status: 204, receipts: 1},
		{status: 408, wantErr: true, temp: true},
		{status: 425, wantErr: true, temp: true},
		{status: 429, wantErr: true, temp: true},
		{status: 500, body: "<html>oops</html>", wantErr: true, temp: true},
		{status: 502, wantErr: true, temp: true},
		{status: 503, wantErr: true, temp: true},
		{status: 302, wantErr: true, temp: true},
		{status: 404, body: "no ticket 42\ntrace...", wantErr: true, cond: "item-not-found", text: "no ticket 42"},
		{status: 404, wantErr: true, cond: "item-not-found", text: "the webhook receiver knows no such contact"},
		{status: 400, body: `{"error":"body too long"}`, wantErr: true, cond: "not-acceptable", text: "body too long"},
		{status: 403, body: "forbidden\r\n", wantErr: true, cond: "not-acceptable", text: "forbidden"},
		{status: 410, body: `{"message":"gone"}`, wantErr: true, cond: "not-acceptable", text: "gone"},
		{status: 422, body: long, wantErr: true, cond: "not-acceptable", text: strings.Repeat("x", 199) + "…"},
		{status: 422, body: "<!DOCTYPE html>", wantErr: true, cond: "not-acceptable", text: "the webhook receiver refused the message (HTTP 422)"},
	}
	for _, tc := range cases {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.status == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			tr, up := newTestTransport(t, srv.URL, time.Second)
			m := testMsg
			m.WantReceipt = true
			err := tr.Deliver(context.Background(), m)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Deliver = %v, want error: %v", err, tc.wantErr)
			}
			if err != nil {
				if got := transports.IsTemporary(err); got != tc.temp {
					t.Errorf("temporary = %v, want %v (%v)", got, tc.temp, err)
				}
				cond, text := transports.ErrorOf(err)
				if tc.cond != "" && cond != tc.cond {
					t.Errorf("condition %q, want %q", cond, tc.cond)
				}
				if tc.text != "" && text != tc.text {
					t.Errorf("text %q, want %q", text, tc.text)
				}
				if strings.Contains(text, "<") {
					t.Errorf("markup shown to the sender: %q", text)
				}
			}
			up.mu.Lock()
			defer up.mu.Unlock()
			if len(up.receipts) != tc.receipts {
				t.Errorf("%d receipts, want %d", len(up.receipts), tc.receipts)
			}
		})
	}
}

func TestDeliverRequest(t *testing.T) {
	type seen struct {
		header http.Header
		body   map[string]any
	}
	reqs := make(chan seen, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("receiver: %v", err)
		}
		reqs <- seen{r.Header.Clone(), body}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	tr, up := newTestTransport(t, srv.URL+"/hook", time.Second)

	if err := tr.Deliver(context.Background(), testMsg); err != nil {
		t.Fatal(err)
	}
	first := <-reqs
	want := map[string]any{
		"id": "m1", "from": "alice@example.org", "to": "ticket-42", "body": "hello\nworld",
		"subject": "subj", "thread": "th", "oob": []any{"https://files.example.org/a.png"},
		"stamp": "2026-05-06T07:08:09Z",
	}
	for k, v := range want {
		if got, _ := json.Marshal(first.body[k]); string(got) != mustJSON(t, v) {
			t.Errorf("field %q = %s, want %s", k, got, mustJSON(t, v))
		}
	}
	if ct := first.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	key := first.header.Get("Idempotency-Key")
	if len(key) != 32 {
		t.Errorf("Idempotency-Key %q, want 32 hex characters", key)
	}

	// A retry (same message, another resource, another attempt) keeps the key.
	retry := testMsg
	retry.From = "alice@example.org/laptop"
	if err := tr.Deliver(context.Background(), retry); err != nil {
		t.Fatal(err)
	}
	if got := (<-reqs).header.Get("Idempotency-Key"); got != key {
		t.Errorf("retry Idempotency-Key %q, want %q", got, key)
	}
	// Another message, or the same id from another user, gets another key.
	for _, other := range []transports.Message{
		{ID: "m2", From: testMsg.From, To: testMsg.To, Body: "x"},
		{ID: "m1", From: "bob@example.org", To: testMsg.To, Body: "x"},
	} {
		if err := tr.Deliver(context.Background(), other); err != nil {
			t.Fatal(err)
		}
		if got := (<-reqs).header.Get("Idempotency-Key"); got == key {
			t.Errorf("message %+v shares the Idempotency-Key of m1", other)
		}
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if len(up.receipts) != 0 {
		t.Errorf("%d receipts sent though none was asked for", len(up.receipts))
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDeliverNoContact(t *testing.T) {
	tr, _ := newTestTransport(t, "http://127.0.0.1:1/", time.Second)
	err := tr.Deliver(context.Background(), transports.Message{ID: "1", From: "a@b", To: "hook.example.org", Body: "x"})
	if cond, _ := transports.ErrorOf(err); transports.IsTemporary(err) || cond != "item-not-found" {
		t.Errorf("Deliver to the domain itself = %v, want permanent item-not-found", err)
	}
}

func TestDeliverTimeoutIsTemporary(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	tr, _ := newTestTransport(t, srv.URL, 50*time.Millisecond)
	err := tr.Deliver(context.Background(), testMsg)
	if err == nil || !transports.IsTemporary(err) {
		t.Fatalf("Deliver = %v, want a temporary error", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap the deadline", err)
	}
	if _, text := transports.ErrorOf(err); !strings.Contains(text, "in time") {
		t.Errorf("text %q, want it to say the receiver did not answer in time", text)
	}
}

func TestDeliverNetworkErrorHidesURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.Listener.Addr().String()
	srv.Close() // nothing listens there any more
	tr, _ := newTestTransport(t, "http://hookuser:pa55word@"+addr+"/in/T0KEN?sig=s3cr3t", time.Second)
	err := tr.Deliver(context.Background(), testMsg)
	if err == nil || !transports.IsTemporary(err) {
		t.Fatalf("Deliver = %v, want a temporary error", err)
	}
	for _, secret := range []string{"hookuser", "pa55word", "T0KEN", "s3cr3t"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q reveals %q", err, secret)
		}
	}
}

func TestNewValidates(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no domain", Config{URL: "http://x/"}, "domain is required"},
		{"no url", Config{Domain: "d"}, "url is required"},
		{"relative url", Config{Domain: "d", URL: "/in"}, "absolute"},
		{"ftp url", Config{Domain: "d", URL: "ftp://user:secret@x/"}, "absolute"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error about %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q reveals the URL", err)
			}
		})
	}
	tr, err := New(Config{Domain: "hook.example.org", URL: "https://example.org/in"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.PublicPath() != "/webhook/hook.example.org/in" || tr.Name() != "webhook" {
		t.Errorf("PublicPath %q, Name %q", tr.PublicPath(), tr.Name())
	}
	if id := tr.Identity(); id.Category != "gateway" || id.Type != "http-ws" {
		t.Errorf("Identity %+v", id)
	}
	if tr.CheckAddress("") == nil || tr.CheckAddress("ticket-1") != nil {
		t.Error("CheckAddress accepts empty or refuses a name")
	}
}

func TestRunKeepsUplinkUntilCancelled(t *testing.T) {
	tr, err := New(Config{Domain: "hook.example.org", URL: "https://example.org/in", InboundSecret: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tr.Run(ctx, &fakeUplink{}); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if tr.uplink() != nil {
		t.Error("uplink kept after Run returned")
	}
	if tr.Run(context.Background(), nil) == nil {
		t.Error("Run with a nil uplink must fail")
	}
}
