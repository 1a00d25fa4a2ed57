package irc

import (
	"context"
	"encoding/xml"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"xgate/transports"
)

// manualInbox is an inbox whose drain the test plays itself: start only
// counts.
func manualInbox(max int) (*inbox, *atomic.Int32) {
	var starts atomic.Int32
	return newInbox(max, func() { starts.Add(1) }), &starts
}

// waitPutBlocked waits until a put waits for room in in.
func waitPutBlocked(t *testing.T, in *inbox) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		in.mu.Lock()
		waiting := in.space != nil
		in.mu.Unlock()
		if waiting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("put does not wait for room")
		}
		runtime.Gosched()
	}
}

// recv waits for a value from c.
func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// waitAll waits for wg.
func waitAll(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	recv(t, done, what)
}

// TestInbox: FIFO order, the bound (tryPut refuses, put waits for room or
// a stop), one start per idle period, storage released when empty, and no
// growth under a steady flow.
func TestInbox(t *testing.T) {
	in, starts := manualInbox(4)
	for i := range 4 {
		if !in.tryPut(i) {
			t.Fatalf("tryPut %d refused before full", i)
		}
	}
	if in.tryPut(99) {
		t.Fatal("a full inbox accepted an event")
	}
	if n := starts.Load(); n != 1 {
		t.Fatalf("%d drains started for one idle period, want 1", n)
	}
	stop := make(chan struct{})
	put := make(chan bool, 1)
	go func() { put <- in.put(4, stop, nil) }()
	waitPutBlocked(t, in)
	select {
	case <-put:
		t.Fatal("put returned on a full inbox")
	default:
	}
	for want := range 5 {
		ev, ok := in.take()
		if !ok || ev != want {
			t.Fatalf("take = %v, %v; want %d", ev, ok, want)
		}
		if want == 0 {
			if ok := recv(t, put, "put after room was made"); !ok {
				t.Fatal("put gave up although room was made")
			}
		}
	}
	if n := starts.Load(); n != 1 {
		t.Fatalf("%d drains started while one ran, want 1", n)
	}
	if _, ok := in.take(); ok || in.len() != 0 {
		t.Fatal("an empty inbox returned an event")
	}
	if in.running {
		t.Error("the inbox still counts a drain after take found it empty")
	}
	if in.q != nil && cap(in.q) > inboxKeep {
		t.Errorf("an empty inbox keeps %d slots", cap(in.q))
	}
	// The drain ended: the next put starts another.
	if !in.put(7, nil, nil) {
		t.Fatal("put on an idle inbox refused")
	}
	if n := starts.Load(); n != 2 {
		t.Fatalf("%d drains started after the restart, want 2", n)
	}
	if ev, ok := in.take(); !ok || ev != 7 {
		t.Fatalf("take = %v, %v; want 7", ev, ok)
	}
	in.take()

	// A stopped put gives up, full or not.
	for i := range 4 {
		in.tryPut(i)
	}
	close(stop)
	if in.put(5, stop, nil) {
		t.Error("put on a full inbox succeeded after stop closed")
	}
	for range 4 {
		in.take()
	}
	if in.put(5, nil, stop) || in.len() != 0 {
		t.Error("put queued after stop closed")
	}

	// Steady flow: the backing array stays bounded.
	in, _ = manualInbox(8)
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

// drained is an inbox drained by real goroutines, as a user's is.
type drained struct {
	t      *testing.T
	in     *inbox
	wg     sync.WaitGroup
	starts atomic.Int32
	active atomic.Int32
	// late is set once close returned: no drain may start after.
	late atomic.Bool
	// got is owned by the running drain, like a user's state: the race
	// detector checks ownership passes with a happens-before edge.
	got []any
	// handle, when set, runs on the drain for every event.
	handle func(ev any)
	// exited gets a value each time a drain ends.
	exited chan struct{}
}

func newDrained(t *testing.T, max int) *drained {
	d := &drained{t: t, exited: make(chan struct{}, 1<<16)}
	d.in = newInbox(max, func() {
		if d.late.Load() {
			t.Error("a drain started after close")
		}
		d.starts.Add(1)
		d.wg.Add(1)
		go d.run()
	})
	return d
}

func (d *drained) run() {
	defer d.wg.Done()
	for {
		ev, ok := d.in.take()
		if !ok {
			break
		}
		if d.active.Add(1) != 1 {
			d.t.Error("two drains handle events at once")
		}
		d.got = append(d.got, ev)
		if d.handle != nil {
			d.handle(ev)
		}
		d.active.Add(-1)
	}
	d.exited <- struct{}{}
}

// TestInboxLazyDrain: a put on an idle inbox starts one drain, which ends
// once the inbox is empty; the next put starts another.
func TestInboxLazyDrain(t *testing.T) {
	d := newDrained(t, 4)
	if n := d.starts.Load(); n != 0 {
		t.Fatalf("%d drains started before any event", n)
	}
	gate := make(chan struct{})
	d.handle = func(ev any) {
		if ev == 0 {
			<-gate
		}
	}
	d.in.put(0, nil, nil)
	d.in.put(1, nil, nil)
	d.in.tryPut(2)
	if n := d.starts.Load(); n != 1 {
		t.Fatalf("%d drains started for events put while one runs, want 1", n)
	}
	close(gate)
	recv(t, d.exited, "the drain to end on an empty inbox")
	if d.in.running || d.in.len() != 0 {
		t.Fatal("the inbox is not idle after its drain ended")
	}
	d.in.tryPut(3)
	recv(t, d.exited, "the second drain to end")
	if n := d.starts.Load(); n != 2 {
		t.Fatalf("%d drains started after a restart, want 2", n)
	}
	waitAll(t, &d.wg, "the drains")
	if len(d.got) != 4 {
		t.Fatalf("handled %v, want 0..3", d.got)
	}
	for i, ev := range d.got {
		if ev != i {
			t.Fatalf("handled %v, want 0..3 in order", d.got)
		}
	}
}

// TestInboxConcurrentPuts: many goroutines put (with back-pressure and
// without) while drains come and go: never two drains at once, every event
// handled once, each producer's events in its order.
func TestInboxConcurrentPuts(t *testing.T) {
	const producers, each = 8, 2000
	d := newDrained(t, 16)
	type item struct{ p, i int }
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				if p%2 == 0 {
					if !d.in.put(item{p, i}, nil, nil) {
						t.Error("put refused on an open inbox")
						return
					}
					continue
				}
				for !d.in.tryPut(item{p, i}) {
					runtime.Gosched() // full: try again
				}
			}
		})
	}
	waitAll(t, &wg, "the producers")
	waitAll(t, &d.wg, "the drains")
	if len(d.got) != producers*each {
		t.Fatalf("handled %d events, want %d", len(d.got), producers*each)
	}
	next := make([]int, producers)
	for _, ev := range d.got {
		it := ev.(item)
		if it.i != next[it.p] {
			t.Fatalf("producer %d: event %d handled after %d", it.p, it.i, next[it.p]-1)
		}
		next[it.p]++
	}
	t.Logf("%d drains started for %d events", d.starts.Load(), len(d.got))
}

// TestInboxClose: close drops what waits, queues its last event (starting a
// drain on an idle inbox), refuses every later put and releases those
// waiting for room; retire closes an empty inbox only.
func TestInboxClose(t *testing.T) {
	t.Run("running", func(t *testing.T) {
		in, starts := manualInbox(2)
		in.tryPut(1)
		in.tryPut(2)
		put := make(chan bool, 1)
		go func() { put <- in.put(3, nil, nil) }()
		waitPutBlocked(t, in)
		if !in.close("last") {
			t.Fatal("close of an open inbox reported closed")
		}
		if ok := recv(t, put, "the waiting put"); ok {
			t.Error("a put waiting for room succeeded after close")
		}
		if in.tryPut(4) {
			t.Error("a closed inbox accepted an event")
		}
		go func() { put <- in.put(5, nil, nil) }()
		if ok := recv(t, put, "a put on a closed inbox"); ok {
			t.Error("a closed inbox accepted an event")
		}
		if in.close("again") {
			t.Error("a second close reported an open inbox")
		}
		if n := starts.Load(); n != 1 {
			t.Errorf("%d drains started; close must not start one while one runs", n)
		}
		if ev, ok := in.take(); !ok || ev != "last" {
			t.Fatalf("take = %v, %v; want the last event only", ev, ok)
		}
		if _, ok := in.take(); ok {
			t.Fatal("events after the last one")
		}
	})
	t.Run("idle", func(t *testing.T) {
		d := newDrained(t, 4)
		d.in.tryPut(1)
		recv(t, d.exited, "the first drain")
		d.in.close("last")
		recv(t, d.exited, "the drain close started")
		waitAll(t, &d.wg, "the drains")
		if len(d.got) != 2 || d.got[1] != "last" || d.starts.Load() != 2 {
			t.Fatalf("handled %v with %d drains; want [1 last] with 2", d.got, d.starts.Load())
		}
	})
	t.Run("retire", func(t *testing.T) {
		in, starts := manualInbox(4)
		in.tryPut(1)
		if in.retire() {
			t.Fatal("retire closed an inbox with an event waiting")
		}
		in.take()
		if !in.retire() {
			t.Fatal("retire refused an empty inbox")
		}
		if in.running || in.tryPut(2) || in.put(3, nil, nil) {
			t.Error("a retired inbox accepted an event or counts a drain")
		}
		if in.close("last") || starts.Load() != 1 {
			t.Error("close started a drain on a retired inbox")
		}
	})
}

// TestInboxCloseRace: producers put while the inbox is closed, as at
// shutdown; once close returned no drain starts, so waiting for the drains
// then is race-free (the race detector checks wg.Add against Wait), and
// every producer returns.
func TestInboxCloseRace(t *testing.T) {
	for range 20 {
		d := newDrained(t, 8)
		stop := make(chan struct{})
		var producers sync.WaitGroup
		for p := range 4 {
			producers.Go(func() {
				for i := 0; ; i++ {
					var ok bool
					if p%2 == 0 {
						ok = d.in.put(i, stop, nil)
					} else {
						ok = d.in.tryPut(i)
					}
					if !ok && d.in.len() < 8 {
						return // closed (a full inbox refuses tryPut too)
					}
				}
			})
		}
		d.in.put("first", nil, nil) // at least one drain ran
		close(stop)
		d.in.close("last")
		d.late.Store(true)
		waitAll(t, &d.wg, "the drains")
		waitAll(t, &producers, "the producers")
		if n := len(d.got); n == 0 || d.got[n-1] != "last" {
			t.Fatalf("the last event handled is not close's: %v", d.got[max(0, n-3):])
		}
	}
}

// nullUplink takes every stanza.
type nullUplink struct{}

func (nullUplink) Send(_ context.Context, r xml.TokenReader) error {
	for {
		if _, err := r.Token(); err != nil {
			return nil
		}
	}
}
func (nullUplink) Receive(context.Context, transports.Message) (bool, error) { return false, nil }
func (nullUplink) Receipt(context.Context, transports.Message) error         { return nil }
func (nullUplink) Fail(context.Context, transports.Message, error) error     { return nil }

// inboxState waits until in's running flag is running and closed is closed.
func inboxState(t *testing.T, in *inbox, running, closed bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		in.mu.Lock()
		ok := in.running == running && in.closed == closed
		in.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// TestRunShutdown: connected users have no goroutine while idle; when Run's
// context ends, every user's sessions are closed (on its goroutine, started
// for it if idle, or after the event it is handling, dropping those
// waiting), the users retire and Run returns.
func TestRunShutdown(t *testing.T) {
	f := newFake(t)
	var fcs []fakeConn
	for i := range 3 {
		f.send(fmt.Sprintf(`<presence from='u%d@example.org/r' to='#c%d%%%s@%s/u%d'><x xmlns='http://jabber.org/protocol/muc'/></presence>`,
			i, i, fakeHost, fakeDomain, i))
		fc := f.conn()
		f.register(fc, fmt.Sprintf("u%d", i))
		f.flush(fc)
		inboxState(t, fc.s.u.events, false, false, "a connected user's goroutine to end")
		fcs = append(fcs, fc)
	}

	// User 0 is busy when the transport stops, with an event waiting.
	busy := fcs[0].s.u.events
	started, gate := make(chan struct{}), make(chan struct{})
	var dropped atomic.Bool
	busy.put(funcEvent(func() { close(started); <-gate }), nil, nil)
	recv(t, started, "the busy event")
	busy.put(funcEvent(func() { dropped.Store(true) }), nil, nil)

	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- f.tr.Run(ctx, nullUplink{}) }()
	cancel()
	inboxState(t, busy, true, true, "Run to close the busy user's inbox")
	close(gate)
	if err := recv(t, ran, "Run to return"); err != nil {
		t.Fatalf("Run: %v", err)
	}

	// Run waited for the users' goroutines: what they owned is ours now.
	for i, fc := range fcs {
		select {
		case <-fc.s.done:
		default:
			t.Errorf("user %d: session not closed", i)
		}
		if !fc.s.quitting || len(fc.s.u.sessions) != 0 {
			t.Errorf("user %d: session not quit (quitting %v, %d sessions)", i, fc.s.quitting, len(fc.s.u.sessions))
		}
		if fc.s.u.events.tryPut(funcEvent(func() {})) || fc.s.u.events.put(funcEvent(func() {}), nil, nil) {
			t.Errorf("user %d: an event was queued after shutdown", i)
		}
	}
	if dropped.Load() {
		t.Error("an event waiting at shutdown was handled")
	}
	f.tr.mu.Lock()
	n := len(f.tr.users)
	f.tr.mu.Unlock()
	if n != 0 {
		t.Errorf("%d users left after shutdown", n)
	}
}

// len is the number of waiting events (tests observe it).
func (in *inbox) len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.q) - in.head
}
