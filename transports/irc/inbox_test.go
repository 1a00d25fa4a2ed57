package irc

import (
	"testing"
	"time"
)

// TestInbox: FIFO order, the bound (tryPut refuses, put waits for room or
// a stop), storage released when empty, and no growth under a steady flow.
func TestInbox(t *testing.T) {
	in := newInbox(4)
	for i := range 4 {
		if !in.tryPut(i) {
			t.Fatalf("tryPut %d refused before full", i)
		}
	}
	if in.tryPut(99) {
		t.Fatal("a full inbox accepted an event")
	}
	stop := make(chan struct{})
	put := make(chan bool, 1)
	go func() { put <- in.put(4, stop, nil) }()
	select {
	case <-put:
		t.Fatal("put did not wait on a full inbox")
	case <-time.After(20 * time.Millisecond):
	}
	for want := range 5 {
		select {
		case <-in.ready:
		case <-time.After(2 * time.Second):
			t.Fatalf("ready has no token with event %d waiting", want)
		}
		ev, ok := in.take()
		if !ok || ev != want {
			t.Fatalf("take = %v, %v; want %d", ev, ok, want)
		}
		if want == 0 {
			if ok := <-put; !ok {
				t.Fatal("put gave up although room was made")
			}
		}
	}
	if _, ok := in.take(); ok || in.len() != 0 {
		t.Fatal("an empty inbox returned an event")
	}
	if in.q != nil && cap(in.q) > inboxKeep {
		t.Errorf("an empty inbox keeps %d slots", cap(in.q))
	}

	// A stopped put gives up.
	for i := range 4 {
		in.tryPut(i)
	}
	close(stop)
	if in.put(5, stop, nil) {
		t.Error("put on a full inbox succeeded after stop closed")
	}

	// Steady flow: the backing array stays bounded.
	in = newInbox(8)
	for i := range 10000 {
		in.tryPut(i)
		in.tryPut(i)
		if ev, _ := in.take(); ev == nil {
			t.Fatal("lost an event")
		}
		if in.len() > 4 {
			in.take()
		}
		if cap(in.q) > 64 {
			t.Fatalf("backing array grew to %d slots", cap(in.q))
		}
	}
}
