package irc

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lrstanley/girc"

	"xgate/transports"
)

// gateUplink is an Uplink whose Send blocks until open is closed (or fails
// with ErrStreamDown while down is set), then records the stanza.
type gateUplink struct {
	open    chan struct{}
	entered chan struct{} // one value per Send call, when there is room
	down    atomic.Bool
	got     chan sentStanza
}

// sentStanza is what the tests read of a stanza sent to XMPP.
type sentStanza struct {
	XMLName xml.Name
	Type    string `xml:"type,attr"`
	Body    string `xml:"body"`
	Error   *struct {
		Conditions []xml.Name `xml:",any"`
	} `xml:"error"`
}

func newGateUplink(n int) *gateUplink {
	return &gateUplink{open: make(chan struct{}), entered: make(chan struct{}, 1), got: make(chan sentStanza, n)}
}

func (g *gateUplink) Send(ctx context.Context, r xml.TokenReader) error {
	var b bytes.Buffer
	enc := xml.NewEncoder(&b)
	for {
		tok, err := r.Token()
		if err != nil {
			break
		}
		if err := enc.EncodeToken(tok); err != nil {
			return err
		}
	}
	if err := enc.Flush(); err != nil {
		return err
	}
	if g.down.Load() {
		return transports.ErrStreamDown
	}
	select {
	case g.entered <- struct{}{}:
	default:
	}
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	var s sentStanza
	if err := xml.Unmarshal(b.Bytes(), &s); err != nil {
		return err
	}
	g.got <- s
	return nil
}

func (g *gateUplink) Receive(context.Context, transports.Message) (bool, error) { return false, nil }
func (g *gateUplink) Receipt(context.Context, transports.Message) error         { return nil }
func (g *gateUplink) Fail(context.Context, transports.Message, error) error     { return nil }

// lockedBuffer is a log destination safe from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// backPressured is a joined alice whose output logs to a buffer and
// signals on waiting when a send starts to wait for room.
func backPressured(t *testing.T) (*fakeNet, fakeConn, *lockedBuffer, chan struct{}) {
	t.Helper()
	f, fc := joined(t)
	var logs lockedBuffer
	f.tr.out.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	waiting := make(chan struct{}, 1)
	f.tr.out.waiting = func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	}
	return f, fc, &logs, waiting
}

// playMessages plays n channel messages from bob ("msg 0" ...) on fc from a
// goroutine, as girc's reader would; done is closed when all are posted (or
// the session ended).
func playMessages(fc fakeConn, n int) (done chan struct{}) {
	done = make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			e := girc.ParseEvent(fmt.Sprintf(":bob!b@h PRIVMSG #chan :msg %d", i))
			fc.s.u.post(fc.s, ircEvent{s: fc.s, c: fc.c, e: *e})
		}
	}()
	return done
}

func waitFor(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestOutputBackPressure: a burst bigger than the output queue, with the
// XMPP side not writing, makes the user's goroutine wait (and so its IRC
// readers) instead of dropping; HandleStanza still answers at once; once
// the stream writes again every stanza arrives, in order.
func TestOutputBackPressure(t *testing.T) {
	f, fc, logs, waiting := backPressured(t)
	const n = outQueueSize + userQueueSize + 100 // more than both queues hold
	up := newGateUplink(n + 8)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.tr.out.run(ctx, up)

	played := playMessages(fc, n)
	waitFor(t, up.entered, "the first stanza to reach the uplink")
	waitFor(t, waiting, "the user's goroutine to wait for room")
	if len(f.tr.out.q) != cap(f.tr.out.q) {
		t.Fatalf("queue %d/%d while the user waits", len(f.tr.out.q), cap(f.tr.out.q))
	}
	select {
	case <-played:
		t.Fatal("all IRC lines were taken while the output is blocked")
	default:
	}

	// The user's queue fills up too; the XMPP reader must still not wait:
	// it answers resource-constraint, through the reply queue.
	u := fc.s.u
fill:
	for {
		if !u.events.tryPut(funcEvent(func() {})) {
			break fill
		}
	}
	handled := make(chan struct{})
	go func() {
		defer close(handled)
		f.send(`<message from='` + alicePhone + `' to='` + roomJID + `' type='groupchat' id='m1'><body>hi</body></message>`)
	}()
	waitFor(t, handled, "HandleStanza with the output full")
	if len(f.tr.out.replies) != 1 {
		t.Fatalf("%d replies queued, want the resource-constraint error", len(f.tr.out.replies))
	}

	close(up.open)
	next := 0
	var gotError bool
	deadline := time.After(20 * time.Second)
	for next < n || !gotError {
		select {
		case s := <-up.got:
			switch {
			case s.Type == "error":
				if s.Error == nil || len(s.Error.Conditions) == 0 || s.Error.Conditions[0].Local != "resource-constraint" {
					t.Fatalf("unexpected error stanza: %+v", s)
				}
				gotError = true
			case s.Type == "groupchat":
				if want := fmt.Sprintf("msg %d", next); s.Body != want {
					t.Fatalf("stanza %d: body %q, want %q", next, s.Body, want)
				}
				next++
			default:
				t.Fatalf("unexpected stanza %+v", s)
			}
		case <-deadline:
			t.Fatalf("got %d of %d messages (error reply: %v)", next, n, gotError)
		}
	}
	waitFor(t, played, "every IRC line to be taken")
	if strings.Contains(logs.String(), "dropped") {
		t.Fatalf("stanzas were dropped:\n%s", logs)
	}
}

// TestOutputBlockedShutdown: a user goroutine waiting for room in the
// output queue ends when the transport stops.
func TestOutputBlockedShutdown(t *testing.T) {
	f, fc, _, waiting := backPressured(t)
	played := playMessages(fc, outQueueSize+10) // nothing drains the queue
	waitFor(t, waiting, "the user's goroutine to wait for room")
	f.tr.stop()
	stopped := make(chan struct{})
	go func() {
		f.tr.wg.Wait()
		close(stopped)
	}()
	waitFor(t, stopped, "the user's goroutine to end")
	waitFor(t, played, "the IRC reader to give up")
}

// TestOutputStreamDown: while the stream is down the queue buffers and a
// full queue drops (logged) rather than freezing the IRC side; what was
// queued arrives in order once the stream is back.
func TestOutputStreamDown(t *testing.T) {
	f, fc, logs, _ := backPressured(t)
	const n = outQueueSize + 10
	up := newGateUplink(n)
	close(up.open)
	up.down.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.tr.out.run(ctx, up)

	waitFor(t, playMessages(fc, n), "every IRC line to be taken while the stream is down")
	f.flush(fc)
	dropped := strings.Count(logs.String(), "xmpp stream down and output queue full: dropped a stanza")
	if dropped == 0 || dropped > n-outQueueSize {
		t.Fatalf("%d stanzas dropped, want 1..%d:\n%s", dropped, n-outQueueSize, logs)
	}

	up.down.Store(false)
	for i := range n - dropped {
		select {
		case s := <-up.got:
			if want := fmt.Sprintf("msg %d", i); s.Body != want {
				t.Fatalf("stanza %d: body %q, want %q", i, s.Body, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d of %d stanzas after the stream came back", i, n-dropped)
		}
	}
}
