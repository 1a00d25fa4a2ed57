package email

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"xgate/store"
	"xgate/transports"
)

// fakeUplink records what the transport hands to the component.
type fakeUplink struct {
	mu       sync.Mutex
	received []transports.Message
	receives int // Receive calls, duplicates included
	failed   []failure
	changed  chan struct{}
}

type failure struct {
	m   transports.Message
	err error
}

func newFakeUplink() *fakeUplink { return &fakeUplink{changed: make(chan struct{}, 100)} }

func (u *fakeUplink) Receive(_ context.Context, m transports.Message) (bool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.receives++
	for _, r := range u.received {
		if m.RemoteID != "" && r.RemoteID == m.RemoteID {
			return false, nil
		}
	}
	u.received = append(u.received, m)
	u.changed <- struct{}{}
	return true, nil
}
func (u *fakeUplink) Send(context.Context, xml.TokenReader) error       { return nil }
func (u *fakeUplink) Receipt(context.Context, transports.Message) error { return nil }
func (u *fakeUplink) Fail(_ context.Context, m transports.Message, err error) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.failed = append(u.failed, failure{m, err})
	u.changed <- struct{}{}
	return nil
}

func (u *fakeUplink) snapshot() ([]transports.Message, []failure) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]transports.Message(nil), u.received...), append([]failure(nil), u.failed...)
}

// relay is an in-process SMTP server standing for the submission relay. Its
// answer to RCPT is programmable.
type relay struct {
	addr string
	mu   sync.Mutex
	rcpt func(to string) error
	got  []relayed
	mail chan relayed
}

type relayed struct {
	from, to string
	data     []byte
}

func startRelay(t testing.TB) *relay {
	t.Helper()
	r := &relay{mail: make(chan relayed, 100)}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &relaySession{r: r}, nil }))
	srv.Domain = "relay.test"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

func (r *relay) setRcpt(f func(string) error) {
	r.mu.Lock()
	r.rcpt = f
	r.mu.Unlock()
}

type relaySession struct {
	r        *relay
	from, to string
}

func (s *relaySession) Reset()        {}
func (s *relaySession) Logout() error { return nil }
func (s *relaySession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.r.mu.Lock()
	f := s.r.rcpt
	s.r.mu.Unlock()
	if f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	s.to = to
	return nil
}
func (s *relaySession) Data(rd io.Reader) error {
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	m := relayed{s.from, s.to, b}
	s.r.mu.Lock()
	s.r.got = append(s.r.got, m)
	s.r.mu.Unlock()
	s.r.mail <- m
	return nil
}

// openStore opens a fresh SQLite store.
func openStore(t *testing.T) Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.DriverSQLite, filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.(Store)
}

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTransport(t *testing.T, st Store, cfg Config) *Transport {
	t.Helper()
	if cfg.Domain == "" {
		cfg.Domain = "mail.gw.test"
	}
	tr, err := New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func waitFor[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

var errRefused = errors.New("refused")
