package integration

import (
	"testing"
	"time"

	"xgate/integration/harness"
)

// TestServerRestart: the XMPP server stops gracefully, is killed with
// SIGKILL, or freezes (SIGSTOP); xgate notices, reconnects by itself once the
// server is back, and a message round trip works again within 10 s.
func TestServerRestart(t *testing.T) {
	for _, kind := range harness.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, kind, envOptions{})
			e.roundTrip(t, e.login(t, "alice"), "before", 15*time.Second)

			for _, tc := range []struct {
				name       string
				down, back func(harness.T)
				// noticeWithin bounds how long xgate takes to see the loss:
				// at once for a closed socket, keepalive (2s) + timeout (2s)
				// plus scheduling slack for a frozen server.
				noticeWithin time.Duration
			}{
				{"graceful", e.srv.Stop, e.srv.Start, 10 * time.Second},
				{"sigkill", e.srv.Kill, e.srv.Start, 10 * time.Second},
				{"frozen", e.srv.Freeze, e.srv.Thaw, 15 * time.Second},
			} {
				t.Run(tc.name, func(t *testing.T) {
					tc.down(t)
					e.waitUnhealthy(t, tc.noticeWithin)
					tc.back(t)
					began := time.Now()
					e.xg.WaitHealthy(t, recoverWithin)
					alice := e.login(t, "alice")
					e.roundTrip(t, alice, tc.name, recoverWithin-time.Since(began))
					t.Logf("%s %s: working again %v after the server was back", kind, tc.name, time.Since(began).Round(time.Millisecond))
				})
			}
		})
	}
}
