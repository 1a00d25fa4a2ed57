package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"xgate/integration/harness"
)

// The demo's SMS transport: a Twilio stand-in instead of Twilio, alice's
// number, and the fake phone that texts her.
const (
	smsDomain      = "sms.localhost"
	smsAccount     = "AC000000000000000000000000000de301"
	smsToken       = "demotoken0123456789abcdef0123456"
	smsAliceNumber = "+15550000001"
	smsPhone       = "+15550001111"
)

// startSMS starts the Twilio stand-in and adds the SMS transport (alice owns
// smsAliceNumber, the API calls go to the stand-in) to the xgate config. It
// logs every text the stand-in receives and answers it with a "delivered"
// status callback, so that clients asking for receipts get one; it reads
// `sms +15550001111 text` lines from in and texts alice from that number
// through the stand-in (a signed incoming webhook). It returns what to print.
func startSMS(r *runner, cfg *harness.XgateConfig, secret string, in io.Reader) string {
	r.Logf("starting the Twilio stand-in…")
	tw := harness.StartTwilio(r, smsAccount, smsToken)
	public, domain := "http://"+cfg.HTTPListen, cfg.Domain
	if domain == "" {
		domain = "localhost"
	}
	cfg.ExtraTransports += fmt.Sprintf("  sms:\n    domain: %s\n    secret: %s\n    account_sid: %s\n    auth_token: %s\n"+
		"    assign: {\"%s\": alice@%s}\n    default_region: US\n    public_url: %s\n    api_url: %s\n",
		smsDomain, secret, smsAccount, smsToken, smsAliceNumber, domain, public, tw.URL)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		watchTwilio(ctx, r, tw)
	}()
	incoming := public + "/sms/" + smsDomain + "/incoming"
	go readPhone(r, tw, incoming, in)

	return fmt.Sprintf(`SMS: a Twilio stand-in (%s) instead of Twilio, gateway %s;
  alice@localhost owns the number %s.
  Text a phone: send a message to %s@%s (any +E.164 number works);
  the stand-in's log line "sms: %s → … " shows what Twilio would have sent,
  and a "delivered" callback gives your client a receipt.
  Text alice from a phone: type here, then Enter:
      sms %s hello there
`, tw.URL, smsDomain, smsAliceNumber, smsPhone, smsDomain, smsAliceNumber, smsPhone)
}

// watchTwilio logs each text the stand-in accepts and posts its "delivered"
// status callback, until ctx ends.
func watchTwilio(ctx context.Context, r *runner, tw *harness.Twilio) {
	seen := 0
	for {
		changed := tw.Changed()
		ms := tw.Messages()
		for _, m := range ms[seen:] {
			r.Logf("sms: %s → %s: %q (Twilio stand-in received it, SID %s)", m.From, m.To, m.Body, m.Sid)
			if code, body, err := tw.PostStatus(m, "delivered", 0); err != nil || code != http.StatusNoContent {
				r.Logf("sms: status callback for %s: %d %s %v", m.Sid, code, strings.TrimSpace(body), err)
			}
		}
		seen = len(ms)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// readPhone reads `sms <from> <text>` lines from in and posts each as a
// signed incoming webhook to alice's number. It returns at the end of in.
func readPhone(r *runner, tw *harness.Twilio, incoming string, in io.Reader) {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		from, text, ok := parsePhoneLine(line)
		if !ok {
			fmt.Fprintf(os.Stderr, "demo: write: sms +15550001111 your text\n")
			continue
		}
		code, body, err := tw.PostIncoming(incoming, harness.IncomingSMS{From: from, To: smsAliceNumber, Body: text})
		if err != nil || code != http.StatusOK {
			r.Logf("sms: incoming webhook: %d %s %v", code, strings.TrimSpace(body), err)
			continue
		}
		r.Logf("sms: %s → %s (alice): %q", from, smsAliceNumber, text)
	}
}

// parsePhoneLine splits "sms +15550001111 hello there".
func parsePhoneLine(line string) (from, text string, ok bool) {
	f := strings.Fields(line)
	if len(f) < 3 || f[0] != "sms" || !strings.HasPrefix(f[1], "+") {
		return "", "", false
	}
	rest := strings.TrimSpace(strings.TrimPrefix(line, "sms"))
	text = strings.TrimSpace(strings.TrimPrefix(rest, f[1]))
	return f[1], text, true
}
