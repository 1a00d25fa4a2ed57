package integration

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"xgate/integration/harness"
	"xgate/store"
)

// TestGracefulShutdown: SIGTERM while a delivery is in flight lets it finish
// (the remote service's answer is recorded, the item completed), the process
// exits by itself, and after a restart the message is not delivered again.
func TestGracefulShutdown(t *testing.T) {
	e := newEnv(t, harness.Prosody, envOptions{})
	alice := e.login(t, "alice")

	arrived := make(chan string, 4)
	e.recv.SetDecider(func(p harness.WebhookPost) int {
		if p.Msg.Body == "in flight at shutdown" {
			arrived <- p.Msg.ID
			// A slow remote service: the answer comes after xgate was told
			// to stop.
			time.Sleep(2 * time.Second)
		}
		return http.StatusOK
	})
	id := alice.SendMessage(t, "carol@"+hookDomain, "in flight at shutdown")
	select {
	case got := <-arrived:
		if got != id {
			t.Fatalf("POST for %q, want %q", got, id)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the message was not POSTed")
	}
	e.xg.Signal(t, syscall.SIGTERM)
	select {
	case <-e.xg.Exited():
	case <-time.After(30 * time.Second):
		t.Fatal("xgate did not exit within 30 s of SIGTERM")
	}
	if n := timesAccepted(e.recv.Posts(), id); n != 1 {
		t.Fatalf("the in-flight POST was answered %d times before exit, want 1", n)
	}
	// The delivery was completed in the store before the process ended: no
	// unfinished item is left to be delivered again.
	st, err := store.Open(context.Background(), store.DriverSQLite, filepath.Join(e.xg.Dir, "xgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	depth, err := st.Outbox().Depth(context.Background(), "webhook")
	st.Close()
	if err != nil || depth != 0 {
		t.Errorf("outbox depth after a graceful stop: %d (%v), want 0", depth, err)
	}
	logs := e.xg.Logs()
	if !strings.Contains(logs, "shutting down") || strings.Contains(logs, "shutdown timed out") {
		t.Errorf("xgate's log does not show a clean drain:\n%s", logs)
	}

	// Restarted: the completed item stays completed. A later message goes
	// through, and by then the first one has still been POSTed only once.
	e.recv.SetDecider(nil)
	e.xg.Start(t)
	e.xg.WaitHealthy(t, healthyAfter)
	after := alice.SendMessage(t, "carol@"+hookDomain, "after the restart")
	e.recv.Wait(t, 15*time.Second, func(ps []harness.WebhookPost) (bool, string) {
		return timesAccepted(ps, after) == 1, "the message sent after the restart is not POSTed yet"
	})
	if n := timesAccepted(e.recv.Posts(), id); n != 1 {
		t.Errorf("the message in flight at shutdown was POSTed %d times, want 1", n)
	}
}

// timesAccepted counts the 2xx answers to POSTs of the message id.
func timesAccepted(ps []harness.WebhookPost, id string) int {
	n := 0
	for _, p := range ps {
		if p.Msg.ID == id && p.Status/100 == 2 {
			n++
		}
	}
	return n
}
