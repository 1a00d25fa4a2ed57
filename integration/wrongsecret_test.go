package integration

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"xgate/integration/harness"
)

// TestWrongSecret: xgate configured with a secret the server refuses logs a
// clear error that never contains a secret, keeps retrying with backoff (no
// storm, in attempts or in log lines), does not report healthy, and attaches
// once restarted with the right secret.
func TestWrongSecret(t *testing.T) {
	for _, kind := range harness.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			wrong := "not-the-" + string(kind) + "-secret"
			e := newEnv(t, kind, envOptions{xgateSecret: wrong, noWait: true})

			// Watch for a fixed window. With reconnect_max 2s the backoff
			// allows about 6 attempts in 6 s; a storm would make hundreds.
			const window = 6 * time.Second
			end := time.Now().Add(window)
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for time.Now().Before(end) {
				if code := e.healthCode(); code == http.StatusOK {
					t.Fatalf("/healthz answered 200 with a refused secret")
				}
				select {
				case <-e.xg.Exited():
					t.Fatalf("xgate exited instead of retrying")
				case <-tick.C:
				}
			}

			logs := e.xg.Logs()
			for _, secret := range []string{wrong, e.secret} {
				if strings.Contains(logs, secret) {
					t.Errorf("xgate's log contains a secret (%q)", secret)
				}
			}
			// Both servers answer a wrong secret with <not-authorized/>;
			// the operator must read that, and that it is about the secret.
			if !strings.Contains(logs, "not-authorized") || !strings.Contains(strings.ToLower(logs), "secret") {
				t.Errorf("xgate's log does not say that the server refused the secret (not-authorized)")
			}
			attempts, loud := countAttempts(logs)
			t.Logf("%s: %d connection attempts logged in %v, %d of them above debug level", kind, attempts, window, loud)
			if attempts < 2 {
				t.Errorf("xgate did not retry: %d attempts in %v", attempts, window)
			}
			if attempts > 12 {
				t.Errorf("reconnect storm: %d attempts in %v (backoff capped at 2s allows about 6)", attempts, window)
			}
			if loud > 5 {
				t.Errorf("log storm: %d failure lines above debug level in %v", loud, window)
			}

			// With the right secret the same xgate attaches.
			e.cfg.Webhook.Secret = e.secret
			e.xg.SetConfig(t, e.cfg.YAML())
			e.xg.Restart(t)
			e.xg.WaitHealthy(t, healthyAfter)
		})
	}
}

var attemptRE = regexp.MustCompile(`attempt=(\d+)`)

// countAttempts counts the failed connection attempts in xgate's log (the
// highest attempt=N of a "connect failed" line, or the number of such lines)
// and the failure lines logged above debug level.
func countAttempts(logs string) (attempts, loud int) {
	lines := 0
	for _, l := range strings.Split(logs, "\n") {
		if !strings.Contains(l, "connect failed") {
			continue
		}
		lines++
		if !strings.Contains(l, "level=DEBUG") {
			loud++
		}
		if m := attemptRE.FindStringSubmatch(l); m != nil {
			if n, _ := strconv.Atoi(m[1]); n > attempts {
				attempts = n
			}
		}
	}
	if lines > attempts {
		attempts = lines
	}
	return attempts, loud
}
