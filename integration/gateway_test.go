package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"xgate/integration/harness"
)

const (
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
	nsCommands   = "http://jabber.org/protocol/commands"
	nsRegister   = "jabber:iq:register"
	nsVersion    = "jabber:iq:version"
	nsPing       = "urn:xmpp:ping"
	nsData       = "jabber:x:data"
)

// TestGateway runs the protocol surface of a domain end to end, against each
// server: xgate with the webhook transport, a real client, a real server.
// The subtests share one setup per server and run in order (registration
// before unregistration).
func TestGateway(t *testing.T) {
	for _, kind := range harness.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, kind, envOptions{})
			alice := e.login(t, "alice")

			t.Run("healthz", func(t *testing.T) {
				code, body, err := e.xg.Healthz()
				if err != nil || code != http.StatusOK {
					t.Fatalf("/healthz: %d %q %v", code, body, err)
				}
				m := e.xg.Metrics(t)
				if !strings.Contains(m, "xgate_stream_up") {
					t.Errorf("/metrics has no xgate_stream_up:\n%s", m)
				}
			})

			t.Run("disco", func(t *testing.T) {
				r := alice.IQ(t, "<iq type='get' to='"+hookDomain+"'><query xmlns='"+nsDiscoInfo+"'/></iq>")
				if r.Type() != "result" {
					t.Fatalf("disco#info: %s", r)
				}
				q := r.ChildNS(nsDiscoInfo, "query")
				id := q.Child("identity")
				if id == nil || id.Attr("category") != "gateway" || id.Attr("type") == "" {
					t.Errorf("disco#info identity: want category gateway with a type, got %s", r)
				}
				have := map[string]bool{}
				for _, f := range q.ChildrenNamed("feature") {
					have[f.Attr("var")] = true
				}
				for _, want := range []string{nsDiscoInfo, nsDiscoItems, nsCommands, nsRegister, nsVersion, nsPing} {
					if !have[want] {
						t.Errorf("disco#info lacks feature %s: %s", want, r)
					}
				}
			})

			t.Run("version", func(t *testing.T) {
				r := alice.IQ(t, "<iq type='get' to='"+hookDomain+"'><query xmlns='"+nsVersion+"'/></iq>")
				q := r.ChildNS(nsVersion, "query")
				if r.Type() != "result" || q.ChildText("name") != "xgate" || q.ChildText("version") == "" {
					t.Errorf("version: want name xgate and a version, got %s", r)
				}
			})

			t.Run("ping", func(t *testing.T) {
				r := alice.IQ(t, "<iq type='get' to='"+hookDomain+"'><ping xmlns='"+nsPing+"'/></iq>")
				if r.Type() != "result" {
					t.Errorf("ping: %s", r)
				}
			})

			t.Run("unknown iq", func(t *testing.T) {
				r := alice.IQ(t, "<iq type='get' to='"+hookDomain+"'><query xmlns='urn:example:nothing'/></iq>")
				if cond, _ := r.ErrorCondition(); r.Type() != "error" || cond != "service-unavailable" {
					t.Errorf("unknown payload: want service-unavailable, got %s", r)
				}
			})

			t.Run("register", func(t *testing.T) { testRegister(t, e, alice) })

			t.Run("commands", func(t *testing.T) {
				r := alice.IQ(t, "<iq type='get' to='"+hookDomain+"'><query xmlns='"+nsDiscoItems+"' node='"+nsCommands+"'/></iq>")
				nodes := map[string]bool{}
				for _, it := range r.FindAll("item") {
					nodes[it.Attr("node")] = true
				}
				if r.Type() != "result" || !nodes["status"] || !nodes["unregister"] {
					t.Fatalf("command list: want status and unregister, got %s", r)
				}
				r = alice.IQ(t, "<iq type='set' to='"+hookDomain+"'><command xmlns='"+nsCommands+"' node='status' action='execute'/></iq>")
				cmd := r.ChildNS(nsCommands, "command")
				if r.Type() != "result" || cmd.Attr("status") != "completed" || !strings.Contains(cmd.ChildText("note"), "stream up") {
					t.Errorf("status command: want completed with a note saying the stream is up, got %s", r)
				}
			})

			t.Run("outbound message", func(t *testing.T) {
				// docs/webhook.md: {"id": stanza id, "from": the user's bare
				// JID, "to": the contact's localpart, "body", "stamp"}.
				id := alice.SendMessage(t, "carol@"+hookDomain, "hello carol")
				ps := e.recv.Wait(t, 15*time.Second, func(ps []harness.WebhookPost) (bool, string) {
					for _, p := range ps {
						if p.Msg.ID == id && p.Status/100 == 2 {
							return true, ""
						}
					}
					return false, "no accepted POST with id " + id
				})
				p := findPost(ps, id)
				if p.Msg.Body != "hello carol" || p.Msg.To != "carol" || p.Msg.From != alice.Bare {
					t.Errorf("POST body: want from %s to carol body %q, got %s", alice.Bare, "hello carol", p.Body)
				}
				if p.IdempotencyKey() == "" {
					t.Errorf("POST without Idempotency-Key")
				}
				if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("POST Content-Type %q", ct)
				}
			})

			t.Run("nested body", func(t *testing.T) {
				// The reason for mellium over gosrc.io/xmpp (docs/decisions.md):
				// a <body> nested in another child is not the message's body.
				id := "nested-1"
				alice.Send(t, "<message type='chat' id='"+id+"' to='carol@"+hookDomain+"'><body>real</body>"+
					"<x xmlns='urn:example'><body>nested</body></x></message>")
				ps := e.recv.Wait(t, 15*time.Second, func(ps []harness.WebhookPost) (bool, string) {
					return findPost(ps, id).Msg.ID == id, "no POST with id " + id
				})
				if got := findPost(ps, id).Msg.Body; got != "real" {
					t.Errorf("nested body: POSTed body %q, want %q", got, "real")
				}
			})

			t.Run("bad input", func(t *testing.T) {
				// An oversized message is refused with not-acceptable and is
				// never POSTed.
				big := strings.Repeat("x", 40<<10) // over the harness's 32 KiB max_stanza_size
				id := alice.SendMessage(t, "carol@"+hookDomain, big)
				r := alice.Expect(t, 15*time.Second, harness.All(harness.Name("message"), harness.ID(id), harness.Type("error")))
				if cond, text := r.ErrorCondition(); cond != "not-acceptable" || text == "" {
					t.Errorf("oversized message: want not-acceptable with a text, got %s", r)
				}
				// A registration form that is not a form of ours.
				r = alice.IQ(t, "<iq type='set' to='"+hookDomain+"'><query xmlns='"+nsRegister+"'>"+
					"<x xmlns='"+nsData+"' type='submit'><field var='FORM_TYPE'><value>urn:example:other</value></field></x></query></iq>")
				if cond, text := r.ErrorCondition(); r.Type() != "error" || (cond != "bad-request" && cond != "not-acceptable") || text == "" {
					t.Errorf("foreign form: want bad-request or not-acceptable with a text, got %s", r)
				}
				// Disco on an empty localpart-less resource of the domain and a
				// message to the bare domain are answered, not crashed on.
				r = alice.IQ(t, "<iq type='get' to='"+hookDomain+"/x'><query xmlns='"+nsDiscoInfo+"'/></iq>")
				if r.Type() != "result" && r.Type() != "error" {
					t.Errorf("disco to domain/resource: %s", r)
				}
				for _, p := range e.recv.Posts() {
					if len(p.Msg.Body) >= len(big) {
						t.Errorf("the oversized message was POSTed")
					}
				}
				// The gateway still works.
				r = alice.IQ(t, "<iq type='get' to='"+hookDomain+"'><ping xmlns='"+nsPing+"'/></iq>")
				if r.Type() != "result" {
					t.Errorf("ping after bad input: %s", r)
				}
			})

			t.Run("inbound message", func(t *testing.T) {
				code := e.postInbound(t, harness.WebhookMessage{ID: "in-1", From: "dave", To: alice.Bare, Body: "hi alice"})
				if code/100 != 2 {
					t.Fatalf("signed inbound POST: status %d", code)
				}
				m := alice.Expect(t, 15*time.Second, harness.All(harness.Message("dave@"+hookDomain), harness.Body("hi alice")))
				if m.Type() != "chat" {
					t.Errorf("inbound message type %q: %s", m.Type(), m)
				}
			})

			t.Run("forged inbound", func(t *testing.T) {
				body := []byte(fmt.Sprintf(`{"id":"forged-1","from":"eve","to":%q,"body":"forged"}`, alice.Bare))
				for _, sig := range []string{"", "00", harness.SignWebhook("wrong-key", body)} {
					code, _, err := harness.PostWebhook(e.inboundURL(), sig, body)
					if err != nil || code != http.StatusUnauthorized {
						t.Errorf("POST with signature %q: want 401, got %d %v", sig, code, err)
					}
				}
				// A genuine message sent after the forged ones arrives; the
				// forged ones never do.
				if code := e.postInbound(t, harness.WebhookMessage{ID: "in-after-forged", From: "eve", To: alice.Bare, Body: "genuine"}); code/100 != 2 {
					t.Fatalf("signed POST: status %d", code)
				}
				alice.Expect(t, 15*time.Second, harness.All(harness.Message("eve@"+hookDomain), harness.Body("genuine")))
				if got := alice.Received(harness.Body("forged")); len(got) > 0 {
					t.Errorf("a forged POST was delivered: %s", got[0])
				}
			})

			t.Run("foreign user forbidden", func(t *testing.T) {
				mallory := e.login(t, "mallory@"+foreignHost)
				id := mallory.SendMessage(t, "carol@"+hookDomain, "from a stranger")
				r := mallory.Expect(t, 15*time.Second, harness.All(harness.Name("message"), harness.ID(id), harness.Type("error")))
				if cond, _ := r.ErrorCondition(); cond != "forbidden" {
					t.Errorf("message from %s: want error forbidden, got %s", mallory.Bare, r)
				}
				r = mallory.IQ(t, "<iq type='set' to='"+hookDomain+"'><query xmlns='"+nsRegister+"'/></iq>")
				if cond, _ := r.ErrorCondition(); r.Type() != "error" || cond != "forbidden" {
					t.Errorf("registration by %s: want error forbidden, got %s", mallory.Bare, r)
				}
				for _, p := range e.recv.Posts() {
					if p.Msg.Body == "from a stranger" {
						t.Errorf("the stranger's message was POSTed: %s", p.Body)
					}
				}
			})

			t.Run("unregister", func(t *testing.T) { testUnregister(t, e, alice) })
		})
	}
}

func findPost(ps []harness.WebhookPost, id string) harness.WebhookPost {
	for _, p := range ps {
		if p.Msg.ID == id {
			return p
		}
	}
	return harness.WebhookPost{}
}
