package integration

import (
	"testing"
	"time"

	"xgate/integration/ircload"
)

// TestIRCLoadSmoke runs the IRC load tool (cmd/xgate-load) with tiny numbers,
// so that it keeps working: every message must arrive, both ways.
func TestIRCLoadSmoke(t *testing.T) {
	res := ircload.Run(t, ircload.Options{
		Users: 5, Rooms: 2, Messages: 50, PacedMessages: 10, PacedRate: 200,
		PhaseTimeout: 15 * time.Second, Settle: -1, Log: t.Logf,
	})
	if len(res.Phases) != 4 {
		t.Fatalf("%d phases, want 4:\n%s", len(res.Phases), res)
	}
	for _, p := range res.Phases {
		if p.Sent == 0 || !p.Complete() || p.Elapsed <= 0 || p.P99 <= 0 {
			t.Errorf("phase %s: sent %d, arrived %d of %d, elapsed %v, p99 %v", p.Name, p.Sent, p.Arrived, p.Expected, p.Elapsed, p.P99)
		}
	}
	if res.RSSIdleKiB <= 0 || res.RSSUsersKiB <= 0 {
		t.Errorf("RSS not measured: idle %d KiB, with users %d KiB", res.RSSIdleKiB, res.RSSUsersKiB)
	}
	t.Logf("\n%s", res)
}
