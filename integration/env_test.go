package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"xgate/integration/harness"
)

// Names shared by the xgate tests.
const (
	hookDomain   = "hook.localhost"  // the webhook transport's component domain
	foreignHost  = "other.localhost" // a second virtual host: not allowed by default
	alicePass    = "alice-pass"
	bobPass      = "bob-pass"
	malloryPass  = "mallory-pass"
	healthyAfter = 30 * time.Second // first start: build caches, ejabberd boot
	// recoverWithin is the bound: reconnected and working again
	// after a server restart within 10 s, without any action.
	recoverWithin = 10 * time.Second
)

// env is one XMPP server of a kind, a webhook receiver standing for the remote
// service, and an xgate running the webhook transport against both.
type env struct {
	kind          harness.Kind
	srv           *harness.XMPPServer
	recv          *harness.WebhookReceiver
	xg            *harness.Xgate
	cfg           harness.XgateConfig
	secret        string // component secret
	inboundSecret string // HMAC key of inbound webhook POSTs
}

// envOptions tweak newEnv.
type envOptions struct {
	// xgateSecret, when set, is what xgate is configured with instead of the
	// server's secret (the wrong-secret test).
	xgateSecret string
	// noWait skips waiting for /healthz 200.
	noWait bool
}

// newEnv starts everything for kind: a server with hosts localhost and
// other.localhost and the component hook.localhost, the accounts alice and
// bob (localhost) and mallory (other.localhost), a webhook receiver, and
// xgate; by default it waits until xgate is healthy.
func newEnv(t *testing.T, kind harness.Kind, o envOptions) *env {
	t.Helper()
	e := &env{
		kind:          kind,
		secret:        "comp-" + string(kind) + "-s3cret",
		inboundSecret: "inbound-" + string(kind) + "-key",
	}
	e.srv = harness.StartServer(t, kind, harness.ServerOptions{
		ExtraHosts: []string{foreignHost},
		Components: []harness.Component{{Domain: hookDomain, Secret: e.secret}},
	})
	e.srv.RegisterAll(t,
		harness.Account{User: "alice", Pass: alicePass},
		harness.Account{User: "bob", Pass: bobPass},
		harness.Account{User: "mallory@" + foreignHost, Pass: malloryPass})
	e.recv = harness.NewWebhookReceiver(t)
	e.cfg = harness.NewXgateConfig(t, e.srv)
	secret := e.secret
	if o.xgateSecret != "" {
		secret = o.xgateSecret
	}
	e.cfg.Webhook = &harness.WebhookSection{
		Domain:        hookDomain,
		Secret:        secret,
		URL:           e.recv.URL,
		Timeout:       3 * time.Second,
		InboundSecret: e.inboundSecret,
	}
	e.xg = harness.StartXgate(t, e.cfg.YAML())
	if !o.noWait {
		e.xg.WaitHealthy(t, healthyAfter)
	}
	return e
}

// login logs alice (or another localhost account) in.
func (e *env) login(t *testing.T, user string) *harness.Client {
	t.Helper()
	pass := map[string]string{"alice": alicePass, "bob": bobPass, "mallory@" + foreignHost: malloryPass}[user]
	return harness.Login(t, e.srv, user, pass, "")
}

// inboundURL is where signed POSTs for the webhook domain go.
func (e *env) inboundURL() string { return e.xg.URL(harness.WebhookInboundPath(hookDomain)) }

// postInbound POSTs a signed inbound message and returns the status code.
func (e *env) postInbound(t *testing.T, m harness.WebhookMessage) int {
	t.Helper()
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	code, resp, err := harness.PostWebhook(e.inboundURL(), harness.SignWebhook(e.inboundSecret, body), body)
	if err != nil {
		t.Fatalf("inbound POST: %v", err)
	}
	if code/100 != 2 {
		t.Logf("inbound POST answered %d: %s", code, strings.TrimSpace(resp))
	}
	return code
}

// roundTrip checks both directions once: a chat from c to a contact on the
// webhook domain is POSTed to the receiver, and a signed inbound POST reaches
// c. It returns without failing when both happened within timeout, and
// reports which direction did not.
func (e *env) roundTrip(t *testing.T, c *harness.Client, tag string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	contact := "rt@" + hookDomain
	body := "round trip out " + tag
	id := c.SendMessage(t, contact, body)
	e.recv.Wait(t, time.Until(deadline), func(ps []harness.WebhookPost) (bool, string) {
		for _, p := range ps {
			if p.Status/100 == 2 && p.Msg.Body == body {
				return true, ""
			}
		}
		return false, fmt.Sprintf("no accepted POST with body %q (message id %s)", body, id)
	})
	in := "round trip in " + tag
	harness.Eventually(t, time.Until(deadline), "inbound POST accepted", func() (bool, string) {
		code := e.postInbound(t, harness.WebhookMessage{ID: "rt-" + tag, From: "rt", To: c.Bare, Body: in})
		return code/100 == 2, fmt.Sprintf("status %d", code)
	})
	c.Expect(t, time.Until(deadline), harness.All(harness.Message("rt@"+hookDomain), harness.Body(in)))
}

// healthCode returns /healthz's status (0 when xgate does not answer).
func (e *env) healthCode() int {
	code, _, err := e.xg.Healthz()
	if err != nil {
		return 0
	}
	return code
}

// waitUnhealthy waits until /healthz stops answering 200.
func (e *env) waitUnhealthy(t *testing.T, timeout time.Duration) {
	t.Helper()
	harness.Eventually(t, timeout, "xgate /healthz not 200", func() (bool, string) {
		code := e.healthCode()
		return code != http.StatusOK, fmt.Sprintf("status %d", code)
	})
}
