package email

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// heloRecorder is an SMTP server that records the EHLO names it was given
// and whether the mail came over TLS.
type heloRecorder struct {
	mu    sync.Mutex
	wire  strings.Builder // the server's debug transcript
	names []string        // every EHLO/HELO name, in order
	tls   []bool          // for each mail: was the connection TLS
}

func (h *heloRecorder) Write(b []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.wire.Write(b)
}

func (h *heloRecorder) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &heloSession{h: h, c: c}, nil
}

type heloSession struct {
	h *heloRecorder
	c *smtp.Conn
}

func (s *heloSession) Reset()        {}
func (s *heloSession) Logout() error { return nil }
func (s *heloSession) Mail(string, *smtp.MailOptions) error {
	_, isTLS := s.c.TLSConnectionState()
	s.h.mu.Lock()
	s.h.names = append(s.h.names, s.c.Hostname())
	s.h.tls = append(s.h.tls, isTLS)
	s.h.mu.Unlock()
	return nil
}
func (s *heloSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *heloSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

// TestSubmitHelo: the configured helo name is the one the relay sees, with
// STARTTLS too (go-smtp's STARTTLS helper would say "localhost").
func TestSubmitHelo(t *testing.T) {
	// A throwaway certificate: httptest's.
	hs := httptest.NewUnstartedServer(nil)
	hs.StartTLS()
	certs := hs.TLS.Certificates
	hs.Close()

	tests := []struct {
		mode    string
		wantTLS bool
	}{
		{TLSStartTLS, true},
		{TLSImplicit, true},
		{TLSNone, false},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			rec := &heloRecorder{}
			srv := smtp.NewServer(rec)
			srv.Domain = "relay.test"
			srv.AllowInsecureAuth = true
			srv.TLSConfig = &tls.Config{Certificates: certs}
			srv.Debug = rec
			var ln net.Listener
			var err error
			if tt.mode == TLSImplicit {
				ln, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
			} else {
				ln, err = net.Listen("tcp", "127.0.0.1:0")
			}
			if err != nil {
				t.Fatal(err)
			}
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(func() { _ = srv.Close() })

			tr := newTransport(t, openStore(t), Config{Relay: ln.Addr().String(), RelayTLS: tt.mode,
				RelayInsecureSkipVerify: true, Helo: "gw.example.org"})
			if err := tr.submit(context.Background(), "x@gw.example.org", "bob@example.com", []byte("Subject: hi\r\n\r\nhi\r\n")); err != nil {
				t.Fatalf("submit: %v", err)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.names) != 1 || rec.names[0] != "gw.example.org" || rec.tls[0] != tt.wantTLS {
				t.Errorf("relay saw EHLO %q, TLS %v; want gw.example.org, TLS %v", rec.names, rec.tls, tt.wantTLS)
			}
			// Every greeting (before and after STARTTLS) names us.
			wantEHLO := 1
			if tt.mode == TLSStartTLS {
				wantEHLO = 2
			}
			if w := rec.wire.String(); strings.Count(w, "EHLO gw.example.org") != wantEHLO || strings.Contains(w, "localhost") {
				t.Errorf("want %d EHLO gw.example.org and no localhost; transcript:\n%s", wantEHLO, w)
			}
		})
	}
}

// TestSubmitStartTLSRequired: a relay that does not offer STARTTLS is not
// used in starttls mode.
func TestSubmitStartTLSRequired(t *testing.T) {
	r := startRelay(t) // no TLS config: no STARTTLS offered
	tr := newTransport(t, openStore(t), Config{Relay: r.addr, RelayTLS: TLSStartTLS})
	err := tr.submit(context.Background(), "x@gw.example.org", "bob@example.com", []byte("Subject: hi\r\n\r\nhi\r\n"))
	if err == nil {
		t.Fatal("submit without STARTTLS succeeded")
	}
	if got := classify("bob@example.com", err); got == nil {
		t.Errorf("classify = nil")
	}
}
