package sms

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"xgate/integration/harness"
	"xgate/store"
	"xgate/transports"
)

const (
	testAccount = "AC0123456789abcdef0123456789abcdef"
	testToken   = "0123456789abcdef0123456789abcdef"
	testDomain  = "sms.localhost"
	alice       = "alice@localhost"
	aliceNumber = "+15550001000"
)

// fakeUplink records what the transport hands the component; Receive
// deduplicates on RemoteID as the inbox does.
type fakeUplink struct {
	mu       sync.Mutex
	received []transports.Message
	receipts []transports.Message
	fails    []failure
	seen     map[string]bool
	changed  chan struct{}
}

type failure struct {
	m   transports.Message
	err error
}

func newFakeUplink() *fakeUplink {
	return &fakeUplink{seen: map[string]bool{}, changed: make(chan struct{}, 100)}
}

func (u *fakeUplink) Receive(_ context.Context, m transports.Message) (bool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if m.RemoteID != "" && u.seen[m.RemoteID] {
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

func (u *fakeUplink) Fail(_ context.Context, m transports.Message, err error) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.fails = append(u.fails, failure{m, err})
	return nil
}

type env struct {
	t   *Transport
	tw  *harness.Twilio
	st  store.Store
	up  *fakeUplink
	srv *httptest.Server
}

// newEnv runs a transport against the Twilio stand-in and a SQLite store,
// with alice registered to aliceNumber and its handler served at its public
// URL.
func newEnv(t testing.TB, mod func(*Config)) *env {
	return newEnvOn(t, "", mod)
}

// newEnvOn is newEnv on the PostgreSQL database pgDSN ("": SQLite).
func newEnvOn(t testing.TB, pgDSN string, mod func(*Config)) *env {
	t.Helper()
	ctx := context.Background()
	driver, dsn := "sqlite", filepath.Join(t.TempDir(), "xgate.db")
	if pgDSN != "" {
		driver, dsn = "postgres", pgDSN
	}
	st, err := store.Open(ctx, driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{st: st, up: newFakeUplink(), tw: harness.StartTwilio(t, testAccount, testToken)}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	cfg := Config{
		Domain: testDomain, AccountSID: testAccount, AuthToken: testToken,
		Numbers: []string{aliceNumber, "+15550001001"}, DefaultRegion: "US",
		PublicURL: e.srv.URL, APIURL: e.tw.URL, Timeout: 2 * time.Second, Store: st,
	}
	if mod != nil {
		mod(&cfg)
	}
	e.t, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle(e.t.PathPrefix(), e.t.Handler())
	if _, err := st.PutRegistration(ctx, store.Registration{Transport: Name, User: alice, RemoteID: aliceNumber}); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.t.Run(rctx, e.up) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, func() bool { return e.t.uplink() != nil })
	return e
}

// waitFor waits for cond, which becomes true through another goroutine.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	if err := harness.Poll(context.Background(), 5*time.Second, func() (bool, string) { return cond(), "condition" }); err != nil {
		t.Fatal(err)
	}
}

func msg(id, to, body string) transports.Message {
	return transports.Message{ID: id, From: alice + "/phone", To: to + "@" + testDomain, Type: "chat", Body: body, WantReceipt: true, Stamp: time.Now()}
}

func TestDeliver(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	if err := e.t.Deliver(ctx, msg("m1", "+15550002000", "hello")); err != nil {
		t.Fatal(err)
	}
	ms := e.tw.Messages()
	if len(ms) != 1 {
		t.Fatalf("stand-in got %d messages, want 1", len(ms))
	}
	m := ms[0]
	if m.From != aliceNumber || m.To != "+15550002000" || m.Body != "hello" || m.StatusCallback != e.t.StatusURL() {
		t.Errorf("message = %+v", m)
	}
	idm, err := e.st.IDByRemote(ctx, Name, m.Sid)
	if err != nil || idm.StanzaID != "m1" || idm.User != alice || idm.Peer != "+15550002000" {
		t.Errorf("id mapping = %+v, %v", idm, err)
	}
	// The same stanza again (a redelivery after a crash) is not sent twice.
	if err := e.t.Deliver(ctx, msg("m1", "+15550002000", "hello")); err != nil {
		t.Fatal(err)
	}
	if n := len(e.tw.Messages()); n != 1 {
		t.Errorf("redelivery sent again: %d messages", n)
	}
	// OOB media go as MediaUrl; a body repeating the URL is dropped.
	mm := msg("m2", "+15550002000", "https://up.example/cat.png")
	mm.OOB = []string{"https://up.example/cat.png"}
	if err := e.t.Deliver(ctx, mm); err != nil {
		t.Fatal(err)
	}
	last := e.tw.Messages()[1]
	if last.Body != "" || len(last.MediaURLs) != 1 || last.MediaURLs[0] != "https://up.example/cat.png" {
		t.Errorf("MMS = %+v", last)
	}
	for _, r := range e.tw.Requests() {
		if !r.Authorized || r.User != testAccount {
			t.Errorf("request not authorized with the account: %+v", r)
		}
	}
}

func TestDeliverErrors(t *testing.T) {
	tests := []struct {
		name      string
		mod       func(*Config)
		fault     *harness.TwilioFault
		m         transports.Message
		temporary bool
		cond      string
		text      string // substring
	}{
		{"invalid to", nil, &harness.TwilioFault{Status: 400, Code: 21211, Message: "The 'To' number +15550009999 is not a valid phone number."},
			msg("a", "+15550009999", "x"), false, "item-not-found", "Twilio error 21211: The 'To' number +15550009999 is not a valid phone number."},
		{"opted out", nil, &harness.TwilioFault{Status: 400, Code: 21610, Message: "Attempt to send to unsubscribed recipient"},
			msg("a", "+15550002000", "x"), false, "forbidden", "21610"},
		{"region", nil, &harness.TwilioFault{Status: 400, Code: 21408, Message: "Permission to send an SMS has not been enabled"},
			msg("a", "+15550002000", "x"), false, "not-acceptable", "21408"},
		{"landline", nil, &harness.TwilioFault{Status: 400, Code: 21614, Message: "'To' number is not a valid mobile number"},
			msg("a", "+15550002000", "x"), false, "not-acceptable", "21614"},
		{"429", nil, &harness.TwilioFault{Status: 429}, msg("a", "+15550002000", "x"), true, "remote-server-timeout", "20429"},
		{"500", nil, &harness.TwilioFault{Status: 500}, msg("a", "+15550002000", "x"), true, "remote-server-timeout", ""},
		{"timeout", func(c *Config) { c.Timeout = 200 * time.Millisecond }, &harness.TwilioFault{Delay: 2 * time.Second},
			msg("a", "+15550002000", "x"), true, "remote-server-timeout", "in time"},
		{"not registered", nil, nil, transports.Message{ID: "a", From: "bob@localhost/x", To: "+15550002000@" + testDomain, Body: "x"},
			false, "registration-required", "register"},
		{"bad address", nil, nil, msg("a", "5550002000", "x"), false, "jid-malformed", "country code"},
		{"too long", func(c *Config) { c.MaxSegments = 2 }, nil, msg("a", "+15550002000", strings.Repeat("a", 307)),
			false, "not-acceptable", "3 segments (307 GSM-7 characters), the limit is 2"},
		{"country", func(c *Config) { c.AllowedCountries = []string{"CA"} }, nil, msg("a", "+15550002000", "x"),
			false, "policy-violation", "region US"},
		{"too much media", nil, nil, func() transports.Message {
			m := msg("a", "+15550002000", "x")
			m.OOB = strings.Split(strings.Repeat("u,", 11)[:21], ",")
			return m
		}(), false, "not-acceptable", "at most 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.mod)
			if tt.fault != nil {
				e.tw.Fail(*tt.fault)
			}
			err := e.t.Deliver(context.Background(), tt.m)
			if err == nil {
				t.Fatal("no error")
			}
			cond, text := transports.ErrorOf(err)
			if transports.IsTemporary(err) != tt.temporary || cond != tt.cond || !strings.Contains(text, tt.text) {
				t.Errorf("error = temporary %v, %s, %q; want temporary %v, %s, text with %q", transports.IsTemporary(err), cond, text, tt.temporary, tt.cond, tt.text)
			}
			if strings.Contains(text, testToken) || strings.Contains(err.Error(), testToken) {
				t.Errorf("error shows the token: %v", err)
			}
			if _, err := e.st.IDByStanza(context.Background(), Name, alice, "a"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a failed message was paired with a SID: %v", err)
			}
		})
	}
}

func TestDailyCap(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DailyCap = 2 })
	ctx := context.Background()
	e.tw.Fail(harness.TwilioFault{Status: 500, Count: 1})
	if err := e.t.Deliver(ctx, msg("f", "+15550002000", "fails")); err == nil {
		t.Fatal("fault not injected")
	}
	for _, id := range []string{"1", "2"} { // a failed send does not count
		if err := e.t.Deliver(ctx, msg(id, "+15550002000", "x")); err != nil {
			t.Fatal(err)
		}
	}
	err := e.t.Deliver(ctx, msg("3", "+15550002000", "x"))
	if cond, text := transports.ErrorOf(err); transports.IsTemporary(err) || cond != "policy-violation" || !strings.Contains(text, "limit of 2") {
		t.Errorf("third message: %v (%s, %q)", err, cond, text)
	}
	e.t.now = func() time.Time { return time.Now().Add(24 * time.Hour) }
	if err := e.t.Deliver(ctx, msg("4", "+15550002000", "x")); err != nil {
		t.Errorf("next day: %v", err)
	}
}

func TestRateKey(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Rate = 2 })
	key, d := e.t.RateKey(msg("a", "+15550002000", strings.Repeat("é", 100))) // GSM-7: 1 segment
	if key != "sms "+alice || d != 500*time.Millisecond {
		t.Errorf("RateKey = %q, %v", key, d)
	}
	_, d = e.t.RateKey(msg("a", "+15550002000", strings.Repeat("ж", 100))) // UCS-2: 2 segments
	if d != time.Second {
		t.Errorf("RateKey of 2 segments = %v, want 1s", d)
	}
}

func TestSegments(t *testing.T) {
	tests := []struct {
		body  string
		n     int
		enc   Encoding
		units int
	}{
		{"", 0, GSM7, 0},
		{"hello", 1, GSM7, 5},
		{strings.Repeat("a", 160), 1, GSM7, 160},
		{strings.Repeat("a", 161), 2, GSM7, 161},
		{strings.Repeat("a", 306), 2, GSM7, 306},
		{strings.Repeat("a", 307), 3, GSM7, 307},
		{strings.Repeat("€", 80), 1, GSM7, 160},
		{strings.Repeat("a", 152) + "€", 1, GSM7, 154},
		{strings.Repeat("a", 152) + "€" + strings.Repeat("a", 152), 3, GSM7, 306}, // the escape pair is not split
		{"héllo ñ à", 1, GSM7, 9},
		{"привет", 1, UCS2, 6},
		{strings.Repeat("ж", 70), 1, UCS2, 70},
		{strings.Repeat("ж", 71), 2, UCS2, 71},
		{strings.Repeat("ж", 135), 3, UCS2, 135},
		{strings.Repeat("😀", 35), 1, UCS2, 70},
		{strings.Repeat("😀", 36), 2, UCS2, 72},
	}
	for _, tt := range tests {
		n, enc, units := Segments(tt.body)
		if n != tt.n || enc != tt.enc || units != tt.units {
			t.Errorf("Segments(%.20q…) = %d, %s, %d; want %d, %s, %d", tt.body, n, enc, units, tt.n, tt.enc, tt.units)
		}
	}
}

func FuzzSegments(f *testing.F) {
	f.Add("hello €")
	f.Add("привет 😀")
	f.Fuzz(func(t *testing.T, s string) {
		n, _, units := Segments(s)
		if (s == "") != (n == 0) || n < 0 || units < 0 || n > len(s)+1 {
			t.Fatalf("Segments(%q) = %d, %d", s, n, units)
		}
	})
}

func TestIncoming(t *testing.T) {
	e := newEnv(t, nil)
	url := e.t.IncomingURL()
	in := harness.IncomingSMS{Sid: harness.NewTwilioSID("SM"), From: "+15550002000", To: aliceNumber, Body: "hi alice"}
	for range 2 { // the same MessageSid twice arrives once
		code, body, err := e.tw.PostIncoming(url, in)
		if err != nil || code != http.StatusOK || !strings.Contains(body, "<Response") {
			t.Fatalf("incoming: %d %q %v", code, body, err)
		}
	}
	e.up.mu.Lock()
	got := append([]transports.Message(nil), e.up.received...)
	e.up.mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("received %d messages, want 1", len(got))
	}
	if m := got[0]; m.From != "+15550002000@"+testDomain || m.To != alice || m.Body != "hi alice" || m.RemoteID != in.Sid {
		t.Errorf("received %+v", m)
	}

	// Forged: wrong key, no signature, signature for another URL, altered
	// parameter.
	forged := harness.IncomingSMS{Sid: harness.NewTwilioSID("SM"), From: "+15550002000", To: aliceNumber, Body: "forged"}
	p := e.tw.Params(forged)
	sigs := []string{
		"",
		harness.TwilioSignature("wrongtoken", url, p),
		harness.TwilioSignature(testToken, url+"x", p),
	}
	for _, s := range sigs {
		if code, _, _ := harness.PostSigned(url, p, s); code != http.StatusForbidden {
			t.Errorf("forged (signature %q): status %d, want 403", s, code)
		}
	}
	sig := harness.TwilioSignature(testToken, url, p)
	p.Set("Body", "altered")
	if code, _, _ := harness.PostSigned(url, p, sig); code != http.StatusForbidden {
		t.Errorf("altered body: status %d, want 403", code)
	}
	e.up.mu.Lock()
	n := len(e.up.received)
	e.up.mu.Unlock()
	if n != 1 {
		t.Errorf("a forged webhook was delivered (%d messages)", n)
	}

	// STOP is shown to the user; a text to nobody's number is dropped.
	code, _, _ := e.tw.PostIncoming(url, harness.IncomingSMS{From: "+15550002000", To: aliceNumber, Body: "STOP"})
	if code != http.StatusOK {
		t.Fatalf("STOP: status %d", code)
	}
	code, _, _ = e.tw.PostIncoming(url, harness.IncomingSMS{From: "+15550002000", To: "+15550003333", Body: "to nobody"})
	if code != http.StatusOK {
		t.Fatalf("to nobody: status %d", code)
	}
	e.up.mu.Lock()
	defer e.up.mu.Unlock()
	if len(e.up.received) != 2 || !strings.Contains(e.up.received[1].Body, "opted out") {
		t.Errorf("after STOP: %+v", e.up.received)
	}
}

func TestStatusCallbacks(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for _, id := range []string{"ok", "bad"} {
		if err := e.t.Deliver(ctx, msg(id, "+15550002000", id)); err != nil {
			t.Fatal(err)
		}
	}
	ms := e.tw.Messages()
	for _, c := range []struct {
		m      harness.TwilioMessage
		status string
		code   int
	}{{ms[0], "sent", 0}, {ms[0], "delivered", 0}, {ms[1], "undelivered", 30003}} {
		if code, body, err := e.tw.PostStatus(c.m, c.status, c.code); err != nil || code != http.StatusNoContent {
			t.Fatalf("status %s: %d %q %v", c.status, code, body, err)
		}
	}
	// Forged callbacks change nothing.
	p := e.tw.Params(harness.IncomingSMS{Sid: ms[1].Sid})
	if code, _, _ := harness.PostSigned(e.t.StatusURL(), p, "bogus"); code != http.StatusForbidden {
		t.Errorf("forged status: %d", code)
	}
	e.up.mu.Lock()
	defer e.up.mu.Unlock()
	if len(e.up.receipts) != 1 || e.up.receipts[0].ID != "ok" || e.up.receipts[0].From != alice+"/phone" ||
		e.up.receipts[0].To != "+15550002000@"+testDomain || !e.up.receipts[0].WantReceipt {
		t.Errorf("receipts = %+v", e.up.receipts)
	}
	if len(e.up.fails) != 1 || e.up.fails[0].m.ID != "bad" {
		t.Fatalf("fails = %+v", e.up.fails)
	}
	cond, text := transports.ErrorOf(e.up.fails[0].err)
	if cond != "recipient-unavailable" || !strings.Contains(text, "undelivered (Twilio error 30003: unreachable destination handset)") {
		t.Errorf("failure = %s %q", cond, text)
	}
}

func TestMedia(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MediaTTL = time.Hour })
	sid := harness.NewTwilioSID("MM")
	mediaURL := e.tw.AddMedia(sid, "image/png", []byte("PNGDATA"))
	code, _, err := e.tw.PostIncoming(e.t.IncomingURL(), harness.IncomingSMS{Sid: sid, From: "+15550002000", To: aliceNumber, MediaURLs: []string{mediaURL}})
	if err != nil || code != http.StatusOK {
		t.Fatalf("incoming MMS: %d %v", code, err)
	}
	e.up.mu.Lock()
	m := e.up.received[0]
	e.up.mu.Unlock()
	if len(m.OOB) != 1 || !strings.HasPrefix(m.OOB[0], e.srv.URL+e.t.PathPrefix()+"media/") || m.Body != m.OOB[0] {
		t.Fatalf("MMS message = %+v", m)
	}
	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(m.OOB[0]); code != http.StatusOK || body != "PNGDATA" {
		t.Errorf("media link: %d %q", code, body)
	}
	if code, _ := get(m.OOB[0][:len(m.OOB[0])-2] + "xx"); code != http.StatusNotFound {
		t.Errorf("tampered link: %d, want 404", code)
	}
	e.t.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if code, _ := get(m.OOB[0]); code != http.StatusNotFound {
		t.Errorf("expired link: %d, want 404", code)
	}
}

func TestRegister(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Assign = map[string]string{"+15550001002": "carol@localhost"} })
	ctx := context.Background()
	f := e.t.RegistrationFields()
	if len(f) != 1 || f[0].Var != "phone" || strings.Join(f[0].Options, ",") != "+15550001000,+15550001001" {
		t.Errorf("fields = %+v", f)
	}
	r, err := e.t.Register(ctx, "bob@localhost", map[string]string{"phone": "(555) 000-1001"}, nil)
	if err != nil || r.RemoteID != "+15550001001" {
		t.Errorf("register national input: %+v %v", r, err)
	}
	var fe *transports.FieldError
	if _, err := e.t.Register(ctx, "bob@localhost", map[string]string{"phone": "+15550009999"}, nil); !errors.As(err, &fe) {
		t.Errorf("number outside the pool: %v", err)
	}
	if _, err := e.t.Register(ctx, "bob@localhost", map[string]string{"phone": "+15550001002"}, nil); err == nil {
		t.Error("number assigned to carol: no error")
	} else if cond, _ := transports.ErrorOf(err); cond != "conflict" {
		t.Errorf("number assigned to carol: %v", err)
	}
	if r, err := e.t.Register(ctx, "carol@localhost", map[string]string{}, nil); err != nil || r.RemoteID != "+15550001002" {
		t.Errorf("carol's assigned number: %+v %v", r, err)
	}
	if l, err := e.t.Translate("555 000 2000"); err != nil || l != "+15550002000" {
		t.Errorf("Translate = %q %v", l, err)
	}
	if err := e.t.CheckAddress("+1-555"); err == nil {
		t.Error("CheckAddress accepted +1-555")
	}
}

func TestRewriteURL(t *testing.T) {
	rt, err := RewriteTransport(nil, "http://127.0.0.1:9/prefix")
	if err != nil || rt == nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ in, want string }{
		{"https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json", "http://127.0.0.1:9/prefix/2010-04-01/Accounts/AC1/Messages.json"},
		{"https://api.sydney.au1.twilio.com/x", "http://127.0.0.1:9/prefix/x"},
		{"https://example.org/x", "https://example.org/x"},
		{"https://eviltwilio.com/x", "https://eviltwilio.com/x"},
	} {
		u := mustParse(t, tt.in)
		RewriteURL(u, mustParse(t, "http://127.0.0.1:9/prefix"))
		if u.String() != tt.want {
			t.Errorf("RewriteURL(%s) = %s, want %s", tt.in, u, tt.want)
		}
	}
}
