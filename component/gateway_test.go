package component

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"xgate/transports"
)

// runGateway runs a Gateway until the test ends. Whoever reads Run's result
// from the channel puts it back, for the cleanup.
func runGateway(t *testing.T, cfg GatewayConfig, tr transports.Transport, st *fakeStore) (*Gateway, context.CancelFunc, chan error) {
	t.Helper()
	g, err := NewGateway(cfg, tr, st)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitLong):
			t.Error("Run did not return after cancel")
		}
	})
	return g, cancel, done
}

func gatewayConfig(server string) GatewayConfig {
	return GatewayConfig{
		Domain:       testDomain,
		ServerDomain: testServerDomain,
		Secret:       []byte(testSecret),
		Server:       server,
		Keepalive:    -1,
		ReconnectMax: 100 * time.Millisecond,
		Version:      "9.9",
		GiveUpAfter:  time.Hour,
		RetryMin:     10 * time.Millisecond,
		RetryMax:     50 * time.Millisecond,
	}
}

// TestGatewayRun drives a whole domain through a fake XMPP server: a message
// to the network, an IQ, an inbound message, a delivery failure and a
// registration, then a clean stop.
func TestGatewayRun(t *testing.T) {
	srv := newFakeServer(t, testDomain, testServerDomain, testSecret)
	ft := newFakeTransport()
	ft.deliverErr = func(m transports.Message) error {
		if m.Body == "fail" {
			return transports.Permanent("item-not-found", "no such number", nil)
		}
		return nil
	}
	st := newFakeStore()
	// An inbound message accepted while nothing ran: delivered once up.
	pre, _ := transports.EncodeMessage(transports.Message{ID: "early", From: "+1999@gw.localhost", To: "alice@localhost", Body: "early bird", Stamp: time.Now()})
	_, _, _ = st.inbox.Enqueue(context.Background(), storeItem("sms", "early", pre))

	cfg := gatewayConfig(srv.addr())
	logger, logs := newTestLogger()
	cfg.Logger = logger
	t.Cleanup(func() {
		if strings.Contains(logs.String(), testSecret) {
			t.Errorf("the secret appears in the log:\n%s", logs)
		}
	})
	g, cancel, done := runGateway(t, cfg, ft, st)
	ev := 0
	srv.next("authed", &ev, waitLong)
	ctx, stop := context.WithTimeout(context.Background(), waitLong)
	defer stop()
	if err := g.stream.WaitUp(ctx); err != nil || !g.Up() {
		t.Fatalf("stream not up: %v", err)
	}
	up := recv(t, ft.up)

	e := srv.next("stanza", &ev, waitLong)
	if e.el.XMLName.Local != "message" || e.el.attr("id") != "early" || !strings.Contains(e.el.Inner, "early bird") {
		t.Errorf("first stanza %+v, want the early inbound message", e.el)
	}

	// User → network.
	srv.conn(1).send(`<message type='chat' id='m1' from='alice@localhost/pc' to='+15551234567@gw.localhost'><body>hello</body><request xmlns='urn:xmpp:receipts'/></message>`)
	m := recv(t, ft.delivered)
	if m.ID != "m1" || m.From != "alice@localhost/pc" || m.To != "+15551234567@gw.localhost" || m.Body != "hello" || !m.WantReceipt {
		t.Errorf("delivered %+v", m)
	}
	if err := up.Receipt(ctx, m); err != nil {
		t.Fatal(err)
	}
	e = srv.next("stanza", &ev, waitLong)
	if e.el.attr("to") != "alice@localhost/pc" || !strings.Contains(e.el.Inner, "received") || !strings.Contains(e.el.Inner, "m1") {
		t.Errorf("receipt %+v", e.el)
	}

	// An IQ answered by a handler through the stream.
	srv.conn(1).send(`<iq type='get' id='v1' from='alice@localhost/pc' to='gw.localhost'><query xmlns='jabber:iq:version'/></iq>`)
	e = srv.next("stanza", &ev, waitLong)
	if e.el.XMLName.Local != "iq" || e.el.attr("id") != "v1" || e.el.attr("type") != "result" || !strings.Contains(e.el.Inner, "9.9") {
		t.Errorf("version answer %+v", e.el)
	}

	// Network → user, deduplicated.
	in := transports.Message{From: "+15551234567@gw.localhost", To: "alice@localhost", Body: "reply", RemoteID: "r1"}
	if ok, err := up.Receive(ctx, in); !ok || err != nil {
		t.Fatalf("Receive: %v %v", ok, err)
	}
	e = srv.next("stanza", &ev, waitLong)
	if e.el.XMLName.Local != "message" || e.el.attr("to") != "alice@localhost" || e.el.attr("from") != "+15551234567@gw.localhost" || !strings.Contains(e.el.Inner, "reply") {
		t.Errorf("inbound %+v", e.el)
	}
	if ok, _ := up.Receive(ctx, in); ok {
		t.Error("duplicate accepted")
	}

	// A permanent delivery failure goes back to the sender.
	srv.conn(1).send(`<message type='chat' id='m2' from='alice@localhost/pc' to='+15551234567@gw.localhost'><body>fail</body></message>`)
	e = srv.next("stanza", &ev, waitLong)
	if e.el.attr("type") != "error" || e.el.attr("id") != "m2" || !strings.Contains(e.el.Inner, "item-not-found") || !strings.Contains(e.el.Inner, "no such number") {
		t.Errorf("failure notice %+v", e.el)
	}

	// Registration: answered off the reader goroutine through Send.
	srv.conn(1).send(`<iq type='set' id='r1' from='alice@localhost/pc' to='gw.localhost'><query xmlns='jabber:iq:register'><phone>+15550001111</phone></query></iq>`)
	for _, want := range []string{"result", "subscribe", ""} {
		e = srv.next("stanza", &ev, waitLong)
		if e.el.attr("type") != want {
			t.Errorf("after registration got %s type %q, want type %q", e.el.XMLName.Local, e.el.attr("type"), want)
		}
	}

	// Nothing else went out (the dedupe held), then a clean stop.
	cancel()
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(waitLong):
		t.Fatal("Run did not return")
	}
	srv.next("client-close", &ev, waitLong)
	if n := srv.count("stanza"); n != 8 {
		t.Errorf("%d stanzas reached the server, want 8: %v", n, srv.kinds())
	}
}

type brokenTransport struct{ plainTransport }

func (brokenTransport) Run(ctx context.Context, up transports.Uplink) error {
	return errors.New("cannot listen")
}

func TestGatewayRunErrors(t *testing.T) {
	srv := newFakeServer(t, testDomain, testServerDomain, testSecret)
	_, _, done := runGateway(t, gatewayConfig(srv.addr()), brokenTransport{}, newFakeStore())
	select {
	case err := <-done:
		done <- err
		if err == nil || !strings.Contains(err.Error(), "cannot listen") {
			t.Errorf("Run = %v, want the transport's error", err)
		}
	case <-time.After(waitLong):
		t.Fatal("Run did not return")
	}

	cfg := gatewayConfig(srv.addr())
	cfg.Secret = nil
	_, _, done = runGateway(t, cfg, newFakeTransport(), newFakeStore())
	select {
	case err := <-done:
		done <- err
		if err == nil || !strings.Contains(err.Error(), "secret") {
			t.Errorf("Run = %v, want the stream's configuration error", err)
		}
	case <-time.After(waitLong):
		t.Fatal("Run did not return")
	}
}

func TestNewGatewayErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*GatewayConfig)
	}{
		{"bad domain", func(c *GatewayConfig) { c.Domain = "user@gw.localhost" }},
		{"no server domain", func(c *GatewayConfig) { c.Domain, c.ServerDomain = "localhost", "" }},
		{"bad allow entry", func(c *GatewayConfig) { c.Allow = []string{"a@b@c"} }},
		{"bad admin", func(c *GatewayConfig) { c.Admins = []string{"localhost"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := gatewayConfig("127.0.0.1:1")
			tc.mod(&cfg)
			if _, err := NewGateway(cfg, newFakeTransport(), newFakeStore()); err == nil {
				t.Error("accepted")
			}
		})
	}
	if _, err := NewGateway(gatewayConfig("x"), nil, newFakeStore()); err == nil {
		t.Error("nil transport accepted")
	}
}
