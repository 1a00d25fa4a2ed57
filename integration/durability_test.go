package integration

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"xgate/integration/harness"
)

// TestDurability: nothing xgate accepted is lost, and order per (sender,
// recipient) holds: across a failing receiver, across a SIGKILL of xgate in
// the middle of delivering a burst, and for inbound POSTs accepted while the
// XMPP server is down.
func TestDurability(t *testing.T) {
	for _, kind := range harness.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, kind, envOptions{})
			alice := e.login(t, "alice")

			t.Run("receiver failing then back", func(t *testing.T) {
				e.recv.SetStatus(http.StatusInternalServerError)
				sent := sendBurst(t, alice, "fail", 30, 3)
				// xgate retries against the 500s...
				e.recv.Wait(t, 30*time.Second, func(ps []harness.WebhookPost) (bool, string) {
					n := 0
					for _, p := range ps {
						if p.Status == http.StatusInternalServerError && strings.HasPrefix(p.Msg.Body, "fail ") {
							n++
						}
					}
					return n >= 6, fmt.Sprintf("%d POSTs answered 500", n)
				})
				// ...and delivers everything once the receiver is back.
				e.recv.SetStatus(http.StatusOK)
				checkDelivered(t, e.recv, sent, 60*time.Second)
			})

			t.Run("xgate killed mid-burst", func(t *testing.T) {
				// A slow receiver that also fails one POST in seven, so the
				// burst is still being delivered (and retried) when xgate dies.
				var n atomic.Int64
				e.recv.SetDelay(25 * time.Millisecond)
				e.recv.SetDecider(func(harness.WebhookPost) int {
					if n.Add(1)%7 == 0 {
						return http.StatusInternalServerError
					}
					return http.StatusOK
				})
				defer e.recv.SetDecider(nil)
				defer e.recv.SetDelay(0)

				sent := sendBurst(t, alice, "burst", 200, 4)
				// Barrier: the server delivers alice's stanzas to xgate in
				// order and xgate answers this ping after it has stored every
				// message before it, so all 200 are accepted now.
				if r := alice.IQ(t, "<iq type='get' to='"+hookDomain+"'><ping xmlns='"+nsPing+"'/></iq>"); r.Type() != "result" {
					t.Fatalf("ping barrier: %s", r)
				}
				e.recv.Wait(t, 60*time.Second, func([]harness.WebhookPost) (bool, string) {
					got := countAccepted(e.recv, "burst ")
					return got >= 40, fmt.Sprintf("%d accepted", got)
				})
				e.xg.Kill(t)
				atKill := countAccepted(e.recv, "burst ")
				t.Logf("%s: xgate killed with %d of %d messages accepted by the receiver", kind, atKill, len(sent))
				if atKill >= len(sent) {
					t.Errorf("the burst was fully delivered before the kill: the test did not kill mid-burst")
				}
				e.xg.Start(t)
				e.xg.WaitHealthy(t, healthyAfter)
				checkDelivered(t, e.recv, sent, 90*time.Second)
			})

			t.Run("inbound while server down", func(t *testing.T) {
				e.srv.Stop(t)
				e.waitUnhealthy(t, 10*time.Second)
				var bodies []string
				for i := range 5 {
					body := fmt.Sprintf("while down %d", i)
					bodies = append(bodies, body)
					if code := e.postInbound(t, harness.WebhookMessage{ID: "down-" + strconv.Itoa(i), From: "frank", To: alice.Bare, Body: body}); code/100 != 2 {
						t.Fatalf("inbound POST %d while the server is down: status %d (it must be accepted and stored)", i, code)
					}
				}
				e.srv.Start(t)
				e.xg.WaitHealthy(t, recoverWithin)
				c := e.login(t, "alice")
				from := "frank@" + hookDomain
				for _, b := range bodies {
					c.Expect(t, 30*time.Second, harness.All(harness.Message(from), harness.Body(b)))
				}
				var order []string
				for _, m := range c.Received(harness.Message(from)) {
					order = append(order, m.ChildText("body"))
				}
				if strings.Join(dedupe(order), "|") != strings.Join(bodies, "|") {
					t.Errorf("inbound order: got %q, want %q", order, bodies)
				}
				if len(order) != len(bodies) {
					t.Logf("%s: %d inbound duplicates", kind, len(order)-len(bodies))
				}
			})
		})
	}
}

// sentMsg is one message of a burst.
type sentMsg struct {
	id, to, body string // to: the contact's localpart, as POSTed
	seq          int    // position among the messages to the same contact
}

// sendBurst sends n chat messages from c, round-robin to contacts contacts on
// the webhook domain, bodies "<tag> <i>", and returns them in sending order.
func sendBurst(t *testing.T, c *harness.Client, tag string, n, contacts int) []sentMsg {
	t.Helper()
	var out []sentMsg
	seq := map[string]int{}
	for i := range n {
		to := fmt.Sprintf("%s%d", tag, i%contacts)
		body := fmt.Sprintf("%s %d", tag, i)
		id := c.SendMessage(t, to+"@"+hookDomain, body)
		out = append(out, sentMsg{id: id, to: to, body: body, seq: seq[to]})
		seq[to]++
	}
	return out
}

func countAccepted(r *harness.WebhookReceiver, prefix string) int {
	seen := map[string]bool{}
	for _, p := range r.Accepted() {
		if strings.HasPrefix(p.Msg.Body, prefix) {
			seen[p.Msg.Body] = true
		}
	}
	return len(seen)
}

// checkDelivered waits until every sent message was accepted by the receiver,
// then checks the POSTs: right body and contact, one Idempotency-Key per
// message whatever the number of attempts (and distinct between messages),
// order kept per recipient (first acceptance of each message), and reports
// duplicates (allowed after a crash: the receiver dedupes on the key).
func checkDelivered(t *testing.T, r *harness.WebhookReceiver, sent []sentMsg, timeout time.Duration) {
	t.Helper()
	byID := map[string]sentMsg{}
	for _, m := range sent {
		byID[m.id] = m
	}
	r.Wait(t, timeout, func([]harness.WebhookPost) (bool, string) {
		got := map[string]bool{}
		for _, p := range r.Accepted() {
			if _, ok := byID[p.Msg.ID]; ok {
				got[p.Msg.ID] = true
			}
		}
		return len(got) == len(sent), fmt.Sprintf("%d of %d messages accepted", len(got), len(sent))
	})
	keyOf := map[string]string{} // stanza id → Idempotency-Key
	idOf := map[string]string{}  // Idempotency-Key → stanza id
	attempts := 0
	for _, p := range r.Posts() {
		m, ok := byID[p.Msg.ID]
		if !ok {
			continue
		}
		attempts++
		k := p.IdempotencyKey()
		if prev, ok := keyOf[m.id]; ok && prev != k {
			t.Errorf("message %s POSTed with Idempotency-Key %q, earlier %q", m.id, k, prev)
		}
		if other, ok := idOf[k]; ok && other != m.id {
			t.Errorf("messages %s and %s share Idempotency-Key %q", other, m.id, k)
		}
		keyOf[m.id], idOf[k] = k, m.id
	}
	first := map[string]bool{}
	next := map[string]int{} // per contact: the seq expected next
	dups := 0
	for _, p := range r.Accepted() {
		m, ok := byID[p.Msg.ID]
		if !ok {
			continue
		}
		if p.Msg.Body != m.body || p.Msg.To != m.to {
			t.Errorf("POST of %s: body %q to %q, want %q to %q", m.id, p.Msg.Body, p.Msg.To, m.body, m.to)
		}
		if first[m.id] {
			dups++
			continue
		}
		first[m.id] = true
		if m.seq != next[m.to] {
			t.Errorf("order to %s: %q delivered when message #%d to it was expected next", m.to, m.body, next[m.to])
		}
		next[m.to] = m.seq + 1
	}
	t.Logf("%d messages delivered in order per contact; %d POST attempts, %d duplicate deliveries (same Idempotency-Key accepted twice)", len(sent), attempts, dups)
}

// dedupe drops repeated values, keeping the first occurrence of each.
func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
