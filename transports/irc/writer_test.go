package irc

import (
	"context"
	"testing"
	"time"

	"github.com/lrstanley/girc"
)

// TestWriterGateAndBucket: lines wait while the connection is down, then a
// burst goes out at once and the rest is paced.
func TestWriterGateAndBucket(t *testing.T) {
	sent := make(chan time.Time, 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newWriter(ctx, 3, 50*time.Millisecond, func(*girc.Event) { sent <- time.Now() })
	for range 5 {
		if !w.enqueue(&girc.Event{Command: "PRIVMSG", Params: []string{"#a", "x"}}) {
			t.Fatal("enqueue refused")
		}
	}
	select {
	case <-sent:
		t.Fatal("a line went out while the connection was down")
	case <-time.After(100 * time.Millisecond):
	}
	start := time.Now()
	w.setUp(true)
	var at []time.Duration
	for range 5 {
		select {
		case ts := <-sent:
			at = append(at, ts.Sub(start))
		case <-time.After(2 * time.Second):
			t.Fatalf("only %d lines sent", len(at))
		}
	}
	if at[2] > 40*time.Millisecond {
		t.Errorf("the burst of 3 took %v", at[2])
	}
	if at[4] < 80*time.Millisecond {
		t.Errorf("lines after the burst were not paced: the 5th after %v", at[4])
	}
}

func TestWriterQueueBounded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newWriter(ctx, 1, time.Second, func(*girc.Event) {})
	for range writerQueueSize {
		if !w.enqueue(&girc.Event{Command: "PING"}) {
			t.Fatal("refused before full")
		}
	}
	if w.enqueue(&girc.Event{Command: "PING"}) {
		t.Error("a full queue accepted a line (it must refuse, never block)")
	}
}
