// Command xgate-demo runs xgate against a local Prosody so a newcomer can try it
// from any XMPP client: `make demo`.
//
// It starts Prosody on 127.0.0.1 with a generated config and two users, an "echo"
// web service behind xgate's webhook transport, and xgate itself with the
// embedded SQLite store; it prints how to log in and what to try, and stops
// everything it started on Ctrl-C. It reuses the integration test harness, so the
// demo and the tests start the servers the same way.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"xgate/integration/harness"
)

func main() {
	r := newRunner()
	code := r.run(demo)
	os.Exit(code)
}

func randomSecret() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

const (
	hookDomain = "hook.localhost"
	users      = "alice / alice and bob / bob"
)

func demo(r *runner) {
	secret, inbound, ircSecret := randomSecret(), randomSecret(), randomSecret()
	smsSecret, mailSecret := randomSecret(), randomSecret()
	r.Logf("starting Prosody…")
	srv := harness.StartProsody(r, harness.ProsodyOptions{ServerOptions: harness.ServerOptions{
		Components: []harness.Component{{Domain: hookDomain, Secret: secret}, {Domain: ircDomain, Secret: ircSecret},
			{Domain: smsDomain, Secret: smsSecret}, {Domain: mailDomain, Secret: mailSecret}},
	}})
	srv.RegisterAll(r, harness.Account{User: "alice", Pass: "alice"}, harness.Account{User: "bob", Pass: "bob"})

	echo := newEchoService(r, hookDomain, []byte(inbound))

	cfg := harness.NewXgateConfig(r, srv)
	cfg.LogLevel = "info"
	cfg.RetryMin, cfg.RetryMax = time.Second, 30*time.Second
	cfg.Webhook = &harness.WebhookSection{Domain: hookDomain, Secret: secret, URL: echo.URL(), InboundSecret: inbound}
	ircHelp := startIRC(r, &cfg, ircSecret)
	smsHelp := startSMS(r, &cfg, smsSecret, os.Stdin)
	mailHelp := startEmail(r, &cfg, mailSecret)
	r.Logf("building and starting xgate…")
	x := harness.StartXgate(r, cfg.YAML())
	x.WaitHealthy(r, 60*time.Second)
	echo.setXgate(x.URL("/webhook/" + hookDomain + "/in"))

	fmt.Printf(`
xgate demo is running.

  XMPP server   Prosody on %s (client port), domain %s
  users         %s (plaintext login on 127.0.0.1 only: allow PLAIN without TLS in your client)
  gateway       %s (webhook transport → a small echo service)
  xgate         config %s
                logs   %s
  metrics       %s    health %s

Try, from any XMPP client (Gajim, Dino, Conversations via port forward, profanity…):
  1. Log in as alice@%s with password alice, server 127.0.0.1, port %s.
  2. Service discovery on %s: you see a gateway with registration and ad-hoc commands.
  3. Register with it (no fields needed); the gateway asks to subscribe to your presence.
  4. Send a message to echo@%s: the echo service answers "echo: <your text>"
     through xgate's durable inbox. Any other name@%s answers too.
  5. Run the ad-hoc command "status" on %s.

Profanity, for example:
  profanity -a alice   then   /connect alice@%s server 127.0.0.1 port %s tls disable
                              /msg echo@%s hello

Ctrl-C stops everything the demo started.
`, srv.C2SAddr, srv.Domain, users, hookDomain, x.ConfigPath, x.LogPath,
		x.URL("/metrics"), x.URL("/healthz"),
		srv.Domain, portOf(srv.C2SAddr), hookDomain, hookDomain, hookDomain, hookDomain,
		srv.Domain, portOf(srv.C2SAddr), hookDomain)
	fmt.Println(ircHelp)
	fmt.Println(smsHelp)
	fmt.Println(mailHelp)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
		fmt.Println("\nstopping…")
	case <-x.Exited():
		r.Fatalf("xgate exited; its log is %s", x.LogPath)
	}
}

func portOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i+1:]
		}
	}
	return addr
}
