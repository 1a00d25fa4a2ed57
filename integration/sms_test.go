package integration

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"xgate/integration/harness"
)

const (
	smsDomain      = "sms.localhost"
	smsAccount     = "AC00000000000000000000000000000001"
	smsToken       = "smstoken0123456789abcdef01234567"
	smsAliceNumber = "+15550001000"
	smsBobNumber   = "+15550001001"
	smsDailyCap    = 3
	smsNSReceipts  = "urn:xmpp:receipts"
	smsNSOOB       = "jabber:x:oob"
	smsWait        = 15 * time.Second
)

// smsEnv is Prosody, the Twilio stand-in and xgate running the SMS transport
// against both.
type smsEnv struct {
	srv *harness.XMPPServer
	tw  *harness.Twilio
	xg  *harness.Xgate
}

// smsOptions tune newSMSEnv.
type smsOptions struct {
	rate     int // segments per second per number
	dailyCap int
}

func newSMSEnv(t *testing.T, o smsOptions) *smsEnv {
	t.Helper()
	e := &smsEnv{}
	secret := "comp-sms-s3cret"
	e.srv = harness.StartServer(t, harness.Prosody, harness.ServerOptions{
		ExtraHosts: []string{foreignHost},
		Components: []harness.Component{{Domain: smsDomain, Secret: secret}},
	})
	e.srv.RegisterAll(t,
		harness.Account{User: "alice", Pass: alicePass},
		harness.Account{User: "bob", Pass: bobPass},
		harness.Account{User: "mallory@" + foreignHost, Pass: malloryPass})
	e.tw = harness.StartTwilio(t, smsAccount, smsToken)
	cfg := harness.NewXgateConfig(t, e.srv)
	cfg.ExtraTransports = fmt.Sprintf(`  sms:
    domain: %s
    secret: %s
    account_sid: %s
    auth_token: %s
    numbers: ["%s", "%s"]
    default_region: US
    rate: %d
    daily_cap: %d
    public_url: http://%s
    api_url: %s
    timeout: 3s
`, smsDomain, secret, smsAccount, smsToken, smsAliceNumber, smsBobNumber, o.rate, o.dailyCap, cfg.HTTPListen, e.tw.URL)
	e.xg = harness.StartXgate(t, cfg.YAML())
	e.xg.WaitHealthy(t, healthyAfter)
	return e
}

func (e *smsEnv) incomingURL() string { return e.xg.URL("/sms/" + smsDomain + "/incoming") }

// registerNumber submits the registration form with number.
func registerNumber(t *testing.T, c *harness.Client, number string) *harness.Element {
	t.Helper()
	return c.IQ(t, "<iq type='set' to='"+smsDomain+"'><query xmlns='"+nsRegister+"'><x xmlns='"+nsData+"' type='submit'>"+
		"<field var='FORM_TYPE'><value>"+nsRegister+"</value></field><field var='phone'><value>"+number+"</value></field></x></query></iq>")
}

// sendSMS sends a chat asking for a receipt and returns its id.
func sendSMS(t *testing.T, c *harness.Client, to, body string) string {
	t.Helper()
	id := "sms" + harness.NewTwilioSID("")[:12]
	c.Send(t, "<message type='chat' to='"+to+"@"+smsDomain+"' id='"+id+"'><body>"+body+"</body><request xmlns='"+smsNSReceipts+"'/></message>")
	return id
}

func (e *smsEnv) waitSent(t *testing.T, body string) harness.TwilioMessage {
	t.Helper()
	var found harness.TwilioMessage
	e.tw.WaitMessages(t, smsWait, func(ms []harness.TwilioMessage) (bool, string) {
		for _, m := range ms {
			if m.Body == body {
				found = m
				return true, ""
			}
		}
		return false, "no message with body " + body
	})
	return found
}

// postStatus posts a status callback until xgate accepts it.
func (e *smsEnv) postStatus(t *testing.T, m harness.TwilioMessage, status string, code int) {
	t.Helper()
	harness.Eventually(t, smsWait, "status callback accepted", func() (bool, string) {
		c, body, err := e.tw.PostStatus(m, status, code)
		return err == nil && c == http.StatusNoContent, fmt.Sprintf("%d %s %v", c, body, err)
	})
}

// TestSMS runs the SMS transport end to end: a real Prosody, a real client,
// the real xgate binary, the Twilio stand-in. Subtests run in order.
func TestSMS(t *testing.T) {
	e := newSMSEnv(t, smsOptions{rate: 50, dailyCap: smsDailyCap})
	alice := harness.Login(t, e.srv, "alice", alicePass, "")
	bob := harness.Login(t, e.srv, "bob", bobPass, "")

	t.Run("register", func(t *testing.T) {
		if r := registerNumber(t, alice, smsAliceNumber); r.Type() != "result" {
			t.Fatalf("register %s: %s", smsAliceNumber, r)
		}
		r := registerNumber(t, bob, smsAliceNumber)
		if cond, _ := r.ErrorCondition(); r.Type() != "error" || cond != "conflict" {
			t.Errorf("bob claiming alice's number: want conflict, got %s", r)
		}
		r = registerNumber(t, bob, "+15550009999")
		if cond, text := r.ErrorCondition(); cond != "not-acceptable" || !strings.Contains(text, smsBobNumber) {
			t.Errorf("number outside the pool: %s", r)
		}
		if r := registerNumber(t, bob, smsBobNumber); r.Type() != "result" {
			t.Fatalf("bob: %s", r)
		}
	})

	t.Run("gateway prompt", func(t *testing.T) {
		r := alice.IQ(t, "<iq type='set' to='"+smsDomain+"'><query xmlns='jabber:iq:gateway'><prompt>(555) 000-1111</prompt></query></iq>")
		if got := r.FindText("query", "jid"); r.Type() != "result" || got != "+15550001111@"+smsDomain {
			t.Errorf("XEP-0100 translate: %s", r)
		}
	})

	var sent harness.TwilioMessage
	var sentID string
	t.Run("send", func(t *testing.T) {
		sentID = sendSMS(t, alice, "+15550001111", "hello from xmpp")
		sent = e.waitSent(t, "hello from xmpp")
		if sent.From != smsAliceNumber || sent.To != "+15550001111" || sent.StatusCallback != e.xg.URL("/sms/"+smsDomain+"/status") {
			t.Errorf("stand-in recorded %+v", sent)
		}
	})

	t.Run("delivered receipt", func(t *testing.T) {
		if sent.Sid == "" {
			t.Skip("nothing sent")
		}
		e.postStatus(t, sent, "sent", 0)
		e.postStatus(t, sent, "delivered", 0)
		r := alice.Expect(t, smsWait, harness.All(harness.Name("message"), harness.From("+15550001111@"+smsDomain), harness.HasChild("received")))
		if got := r.ChildNS(smsNSReceipts, "received"); got == nil || got.Attr("id") != sentID {
			t.Errorf("receipt: want <received id=%q/>, got %s", sentID, r)
		}
	})

	t.Run("undelivered error", func(t *testing.T) {
		id := sendSMS(t, alice, "+15550001112", "this one gets lost")
		m := e.waitSent(t, "this one gets lost")
		e.postStatus(t, m, "undelivered", 30003)
		r := alice.Expect(t, smsWait, harness.All(harness.Name("message"), harness.ID(id), harness.Type("error")))
		if cond, text := r.ErrorCondition(); cond != "recipient-unavailable" || !strings.Contains(text, "30003") {
			t.Errorf("undelivered: want recipient-unavailable with the code, got %s", r)
		}
	})

	t.Run("inbound", func(t *testing.T) {
		sid := harness.NewTwilioSID("SM")
		for range 2 { // the same MessageSid twice
			code, body, err := e.tw.PostIncoming(e.incomingURL(), harness.IncomingSMS{Sid: sid, From: "+15550002222", To: smsAliceNumber, Body: "hi from a phone"})
			if err != nil || code != http.StatusOK || !strings.Contains(body, "<Response") {
				t.Fatalf("incoming webhook: %d %q %v", code, body, err)
			}
		}
		m := alice.Expect(t, smsWait, harness.All(harness.Message("+15550002222@"+smsDomain), harness.Body("hi from a phone")))
		if m.Type() != "chat" {
			t.Errorf("inbound type: %s", m)
		}
		// Forged: a bad signature, and a good one over altered parameters.
		p := e.tw.Params(harness.IncomingSMS{From: "+15550006666", To: smsAliceNumber, Body: "forged"})
		sig := harness.TwilioSignature(smsToken, e.incomingURL(), p)
		for _, s := range []string{"", harness.TwilioSignature("wrongtoken", e.incomingURL(), p)} {
			if code, _, _ := harness.PostSigned(e.incomingURL(), p, s); code != http.StatusForbidden {
				t.Errorf("forged webhook: status %d, want 403", code)
			}
		}
		p.Set("Body", "forged and altered")
		if code, _, _ := harness.PostSigned(e.incomingURL(), p, sig); code != http.StatusForbidden {
			t.Errorf("altered webhook: status %d, want 403", code)
		}
		// A sentinel after the duplicate and the forgeries: once it arrived,
		// nothing else can still be on its way.
		if code, _, _ := e.tw.PostIncoming(e.incomingURL(), harness.IncomingSMS{From: "+15550002222", To: smsAliceNumber, Body: "sentinel"}); code != http.StatusOK {
			t.Fatalf("sentinel: %d", code)
		}
		alice.Expect(t, smsWait, harness.Body("sentinel"))
		if got := alice.Received(harness.Body("hi from a phone")); len(got) != 1 {
			t.Errorf("the same MessageSid arrived %d times, want once", len(got))
		}
		if got := alice.Received(harness.From("+15550006666@" + smsDomain)); len(got) != 0 {
			t.Errorf("a forged webhook was delivered: %s", got[0])
		}
	})

	t.Run("mms", func(t *testing.T) {
		sid := harness.NewTwilioSID("MM")
		media := e.tw.AddMedia(sid, "image/png", []byte("\x89PNG fake picture"))
		code, _, err := e.tw.PostIncoming(e.incomingURL(), harness.IncomingSMS{Sid: sid, From: "+15550002222", To: smsAliceNumber, MediaURLs: []string{media}})
		if err != nil || code != http.StatusOK {
			t.Fatalf("incoming MMS: %d %v", code, err)
		}
		m := alice.Expect(t, smsWait, harness.All(harness.Message("+15550002222@"+smsDomain), harness.HasChild("x")))
		link := m.ChildNS(smsNSOOB, "x").ChildText("url")
		if !strings.HasPrefix(link, e.xg.URL("/sms/"+smsDomain+"/media/")) {
			t.Fatalf("MMS link %q: %s", link, m)
		}
		resp, err := http.Get(link) // no Twilio credentials
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(b) != "\x89PNG fake picture" || resp.Header.Get("Content-Type") != "image/png" {
			t.Errorf("media link: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	})

	t.Run("foreign user forbidden", func(t *testing.T) {
		mallory := harness.Login(t, e.srv, "mallory@"+foreignHost, malloryPass, "")
		id := mallory.SendMessage(t, "+15550001111@"+smsDomain, "stranger on the operator's bill")
		r := mallory.Expect(t, smsWait, harness.All(harness.Name("message"), harness.ID(id), harness.Type("error")))
		if cond, _ := r.ErrorCondition(); cond != "forbidden" {
			t.Errorf("stranger: want forbidden, got %s", r)
		}
	})

	t.Run("invalid number", func(t *testing.T) {
		id := alice.SendMessage(t, "5550001111@"+smsDomain, "no country code")
		r := alice.Expect(t, smsWait, harness.All(harness.Name("message"), harness.ID(id), harness.Type("error")))
		if cond, text := r.ErrorCondition(); cond != "jid-malformed" || !strings.Contains(text, "country code") {
			t.Errorf("invalid number: want jid-malformed with text, got %s", r)
		}
	})

	t.Run("daily cap", func(t *testing.T) {
		var last string
		for i := range smsDailyCap + 1 {
			last = sendSMS(t, bob, "+15550003333", fmt.Sprintf("cap %d", i))
		}
		r := bob.Expect(t, smsWait, harness.All(harness.Name("message"), harness.ID(last), harness.Type("error")))
		if cond, text := r.ErrorCondition(); cond != "policy-violation" || !strings.Contains(text, "limit") {
			t.Errorf("over the cap: want policy-violation, got %s", r)
		}
		for _, m := range e.tw.Messages() {
			if m.Body == fmt.Sprintf("cap %d", smsDailyCap) {
				t.Errorf("the message over the cap reached Twilio")
			}
		}
		if got := len(bob.Received(harness.All(harness.Name("message"), harness.Type("error")))); got != 1 {
			t.Errorf("bob got %d message errors, want only the one over the cap", got)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		code, body, err := httpGetText(e.xg.URL("/metrics"))
		if err != nil || code != http.StatusOK || !strings.Contains(body, `xgate_sms_sends_total{result="accepted"}`) {
			t.Errorf("/metrics: %d %v\n%s", code, err, body)
		}
	})

	// Last: it restarts xgate. The day's count is in the store, so a restart
	// does not forgive it.
	t.Run("daily cap after restart", func(t *testing.T) {
		e.xg.Restart(t)
		e.xg.WaitHealthy(t, healthyAfter)
		id := sendSMS(t, bob, "+15550003333", "cap after restart")
		r := bob.Expect(t, smsWait, harness.All(harness.Name("message"), harness.ID(id), harness.Type("error")))
		if cond, text := r.ErrorCondition(); cond != "policy-violation" || !strings.Contains(text, "limit") {
			t.Errorf("over the cap after a restart: want policy-violation, got %s", r)
		}
		for _, m := range e.tw.Messages() {
			if m.Body == "cap after restart" {
				t.Errorf("the message over the cap reached Twilio after a restart")
			}
		}
	})
}

func httpGetText(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
