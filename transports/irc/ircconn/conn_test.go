package ircconn

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lrstanley/girc"
)

// server is one scripted IRC server connection on 127.0.0.1.
type server struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// start runs a Conn with cfg against a local listener; it returns the
// server side, the lines handed to the caller and Run's result.
func start(t *testing.T, cfg Config) (*server, *Conn, <-chan *girc.Event, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	cfg.Addr = ln.Addr().String()
	c := New(cfg)
	lines := make(chan *girc.Event, 100)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { done <- c.Run(ctx, func(e *girc.Event) { lines <- e }) }()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &server{t: t, conn: conn, r: bufio.NewReader(conn)}, c, lines, done
}

// read returns the next line the client wrote.
func (s *server) read() string {
	s.t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := s.r.ReadString('\n')
	if err != nil {
		s.t.Fatalf("server read: %v", err)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// expect reads the next lines and compares them.
func (s *server) expect(want ...string) {
	s.t.Helper()
	for _, w := range want {
		if got := s.read(); got != w {
			s.t.Fatalf("client wrote %q, want %q", got, w)
		}
	}
}

func (s *server) send(lines ...string) {
	s.t.Helper()
	for _, l := range lines {
		if _, err := s.conn.Write([]byte(l + "\r\n")); err != nil {
			s.t.Fatal(err)
		}
	}
}

func next(t *testing.T, lines <-chan *girc.Event) *girc.Event {
	t.Helper()
	select {
	case e := <-lines:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no line reached the caller")
	}
	return nil
}

func result(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	return nil
}

// TestRegisterCaps: WEBIRC and PASS first, CAP LS before NICK and USER; of a
// multi-line LS only the wanted caps are requested; ACK ends the
// negotiation; PING is answered and not handed on; other lines are.
func TestRegisterCaps(t *testing.T) {
	s, _, lines, _ := start(t, Config{
		Nick: "alice", User: "al", Realname: "Alice A", Pass: "sekrit",
		WebIRC: []string{"wpass", "xgate", "h.example", "2001:db8::1"},
		Caps:   []string{"server-time", "echo-message", "away-notify"},
	})
	s.expect("WEBIRC wpass xgate h.example 2001:db8::1", "PASS sekrit", "CAP LS 302", "NICK alice", "USER al 0 * :Alice A")
	s.send(":srv CAP * LS * :multi-prefix server-time sts=port=6697",
		":srv CAP * LS :echo-message batch")
	s.expect("CAP REQ :server-time echo-message")
	s.send(":srv CAP * ACK :server-time echo-message")
	s.expect("CAP END")
	s.send("PING :tok", ":srv 001 alice :Welcome")
	s.expect("PONG tok")
	var got []string
	for len(got) < 4 {
		got = append(got, next(t, lines).Command)
	}
	if strings.Join(got, " ") != "CAP CAP CAP 001" {
		t.Fatalf("caller got %v, want the CAP lines and 001 (no PING)", got)
	}
}

// TestNoCaps: a server offering nothing we want gets CAP END at once.
func TestNoCaps(t *testing.T) {
	s, _, _, _ := start(t, Config{Nick: "bob", Caps: []string{"server-time"}})
	s.expect("CAP LS 302", "NICK bob", "USER bob 0 * bob")
	s.send(":srv CAP * LS :batch")
	s.expect("CAP END")
}

// TestSASLPlain: sasl is requested with the caps, PLAIN sends the
// credentials, 903 ends the negotiation.
func TestSASLPlain(t *testing.T) {
	s, _, _, _ := start(t, Config{Nick: "alice", Caps: []string{"server-time"},
		SASL: &SASL{Mech: "PLAIN", Account: "acct", Password: "pw"}})
	s.expect("CAP LS 302", "NICK alice", "USER alice 0 * alice")
	s.send(":srv CAP * LS :server-time sasl=PLAIN,EXTERNAL")
	s.expect("CAP REQ :server-time sasl")
	s.send(":srv CAP alice ACK :server-time sasl")
	s.expect("AUTHENTICATE PLAIN")
	s.send("AUTHENTICATE +")
	want := "AUTHENTICATE " + base64.StdEncoding.EncodeToString([]byte("\x00acct\x00pw"))
	s.expect(want)
	s.send(":srv 903 alice :SASL authentication successful")
	s.expect("CAP END")
}

// TestSASLRefused: 904 ends Run with a SASLError after the caller saw it.
func TestSASLRefused(t *testing.T) {
	s, _, lines, done := start(t, Config{Nick: "alice", SASL: &SASL{Mech: "EXTERNAL"}})
	s.expect("CAP LS 302", "NICK alice", "USER alice 0 * alice")
	s.send(":srv CAP * LS :sasl")
	s.expect("CAP REQ sasl")
	s.send(":srv CAP alice ACK :sasl")
	s.expect("AUTHENTICATE EXTERNAL")
	s.send("AUTHENTICATE +")
	s.expect("AUTHENTICATE +")
	s.send(":srv 904 alice :SASL authentication failed")
	var e *girc.Event
	for e == nil || e.Command != girc.ERR_SASLFAIL {
		e = next(t, lines)
	}
	var se *SASLError
	if err := result(t, done); !errors.As(err, &se) || se.Text != "SASL authentication failed" {
		t.Fatalf("Run = %v, want the SASLError with the server's text", err)
	}
}

// TestSASLMechanismMissing: a server whose sasl value lacks our mechanism
// is refused before any AUTHENTICATE.
func TestSASLMechanismMissing(t *testing.T) {
	s, _, _, done := start(t, Config{Nick: "alice", SASL: &SASL{Mech: "EXTERNAL"}})
	s.expect("CAP LS 302", "NICK alice", "USER alice 0 * alice")
	s.send(":srv CAP * LS :sasl=PLAIN")
	var se *SASLError
	if err := result(t, done); !errors.As(err, &se) || !strings.Contains(se.Text, "PLAIN, not EXTERNAL") {
		t.Fatalf("Run = %v, want a SASLError naming the mechanisms", err)
	}
}

// TestSASLChunks: payloads are cut at 400 bytes, with "+" after an exact
// multiple.
func TestSASLChunks(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []int
	}{{0, []int{1}}, {10, []int{10}}, {400, []int{400, 1}}, {401, []int{400, 1}}, {800, []int{400, 400, 1}}} {
		got := saslChunks(strings.Repeat("a", tc.n))
		var lens []int
		for _, c := range got {
			lens = append(lens, len(c))
		}
		if len(lens) != len(tc.want) {
			t.Fatalf("%d bytes: chunks %v, want lengths %v", tc.n, lens, tc.want)
		}
		for i := range lens {
			if lens[i] != tc.want[i] {
				t.Fatalf("%d bytes: chunks %v, want lengths %v", tc.n, lens, tc.want)
			}
		}
		if strings.Join(got, "") != strings.Repeat("a", tc.n) && got[len(got)-1] != "+" {
			t.Fatalf("%d bytes: chunks lose data", tc.n)
		}
	}
}

// TestNickInUse: a refused nick during registration is retried with "_".
func TestNickInUse(t *testing.T) {
	s, _, lines, _ := start(t, Config{Nick: "alice"})
	s.expect("CAP LS 302", "NICK alice", "USER alice 0 * alice")
	s.send(":srv 433 * alice :Nickname is already in use")
	s.expect("NICK alice_")
	s.send(":srv 001 alice_ :Welcome")
	for e := next(t, lines); e.Command != girc.RPL_WELCOME; e = next(t, lines) {
	}
	// After registration a refused nick is the caller's business.
	s.send(":srv 433 alice_ bob :Nickname is already in use", "PING :x")
	s.expect("PONG x")
}

// TestKeepalive: a silent server is pinged; an answer keeps the
// connection, silence after a PING ends it with a TimeoutError.
func TestKeepalive(t *testing.T) {
	s, _, _, done := start(t, Config{Nick: "alice", PingInterval: 100 * time.Millisecond, PingTimeout: 200 * time.Millisecond})
	s.expect("CAP LS 302", "NICK alice", "USER alice 0 * alice")
	s.send(":srv 001 alice :Welcome")
	s.expect("PING xgate")
	s.send(":srv PONG srv :xgate")
	s.expect("PING xgate")
	var te *TimeoutError
	if err := result(t, done); !errors.As(err, &te) || !strings.Contains(te.Error(), "PING") {
		t.Fatalf("Run = %v, want a PING TimeoutError", err)
	}
}

// TestRegisterTimeout: a server that never sends 001 times out.
func TestRegisterTimeout(t *testing.T) {
	s, _, _, done := start(t, Config{Nick: "alice", RegisterTimeout: 100 * time.Millisecond})
	s.expect("CAP LS 302", "NICK alice", "USER alice 0 * alice")
	var te *TimeoutError
	if err := result(t, done); !errors.As(err, &te) || !strings.Contains(te.Error(), "register") {
		t.Fatalf("Run = %v, want a registration TimeoutError", err)
	}
}

// TestLongLines: a line longer than the buffer arrives whole; one longer
// than maxLine is skipped and the next arrives.
func TestLongLines(t *testing.T) {
	s, _, lines, _ := start(t, Config{Nick: "alice"})
	s.expect("CAP LS 302", "NICK alice", "USER alice 0 * alice")
	long := strings.Repeat("x", 5000)
	s.send(":bob PRIVMSG alice :"+long, ":bob PRIVMSG alice :"+strings.Repeat("y", maxLine+10), ":bob PRIVMSG alice :after")
	if e := next(t, lines); e.Last() != long {
		t.Fatalf("long line arrived as %d bytes, want %d", len(e.Last()), len(long))
	}
	if e := next(t, lines); e.Last() != "after" {
		t.Fatalf("after the over-long line got %q, want %q", e.Last(), "after")
	}
}

// TestReadBufferShrinks: the read buffer grows for a long line and goes
// back to its usual size once the line is read.
func TestReadBufferShrinks(t *testing.T) {
	client, srv := net.Pipe()
	defer client.Close()
	go func() {
		srv.Write([]byte("PRIVMSG a :" + strings.Repeat("z", 3000) + "\r\nPRIVMSG a :short\r\n"))
	}()
	c := New(Config{Nick: "a"})
	c.buf = make([]byte, readBuffer)
	for _, want := range []int{3011, 16} {
		l, err := c.readLine(client)
		if err != nil || len(l) != want {
			t.Fatalf("readLine = %d bytes, %v; want %d", len(l), err, want)
		}
	}
	if c.w != 0 || len(c.buf) != readBuffer {
		t.Fatalf("buffer %d bytes with %d waiting after the lines, want %d and 0", len(c.buf), c.w, readBuffer)
	}
}

// TestErrorLine: the server's ERROR ends Run with its text.
func TestErrorLine(t *testing.T) {
	s, _, _, done := start(t, Config{Nick: "alice"})
	s.expect("CAP LS 302", "NICK alice", "USER alice 0 * alice")
	s.send("ERROR :Closing Link: banned")
	var se *ServerError
	if err := result(t, done); !errors.As(err, &se) || se.Text != "Closing Link: banned" {
		t.Fatalf("Run = %v, want the ServerError", err)
	}
}

// TestQuit: Quit writes QUIT and Run returns nil once the server closes.
func TestQuit(t *testing.T) {
	s, c, _, done := start(t, Config{Nick: "alice"})
	s.expect("CAP LS 302", "NICK alice", "USER alice 0 * alice")
	s.send(":srv 001 alice :Welcome")
	c.Quit("bye now")
	s.expect("QUIT :bye now")
	s.send("ERROR :Closing Link: (Quit: bye now)")
	s.conn.Close()
	if err := result(t, done); err != nil {
		t.Fatalf("Run after Quit = %v, want nil", err)
	}
	if err := c.Write(&girc.Event{Command: "PRIVMSG", Params: []string{"x", "y"}}); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Write after Quit = %v, want ErrNotConnected", err)
	}
}

// TestServerCloses: the server going away is an error, not a clean end.
func TestServerCloses(t *testing.T) {
	s, _, _, done := start(t, Config{Nick: "alice"})
	s.expect("CAP LS 302", "NICK alice", "USER alice 0 * alice")
	s.conn.Close()
	if err := result(t, done); err == nil {
		t.Fatal("Run = nil after the server closed, want an error")
	}
}

// TestDialRefused: nobody listening is a dial error naming the address.
func TestDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	err = New(Config{Addr: addr, Nick: "a"}).Run(context.Background(), func(*girc.Event) {})
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Run = %v, want a dial error naming %s", err, addr)
	}
}

// TestDialerBind: an IP address (IPv4-mapped ones unmapped) becomes the
// dialer's local address; anything else leaves it to the system.
func TestDialerBind(t *testing.T) {
	for _, tc := range []struct{ bind, want string }{
		{"", ""}, {"192.0.2.10", "192.0.2.10:0"}, {"::ffff:192.0.2.10", "192.0.2.10:0"},
		{"2001:db8::10", "[2001:db8::10]:0"}, {"not-an-ip", ""},
	} {
		got := ""
		if a := Dialer(tc.bind).LocalAddr; a != nil {
			got = a.String()
		}
		if got != tc.want {
			t.Errorf("Dialer(%q).LocalAddr = %q, want %q", tc.bind, got, tc.want)
		}
	}
}

// TestSlot: the slot is taken before dialing and released at 001, not
// before.
func TestSlot(t *testing.T) {
	taken, released := make(chan struct{}, 1), make(chan struct{}, 1)
	s, _, _, _ := start(t, Config{Nick: "alice", Slot: func(context.Context) (func(), error) {
		taken <- struct{}{}
		return func() { released <- struct{}{} }, nil
	}})
	<-taken
	s.expect("CAP LS 302", "NICK alice", "USER alice 0 * alice")
	select {
	case <-released:
		t.Fatal("slot released before 001")
	default:
	}
	s.send(":srv 001 alice :Welcome")
	select {
	case <-released:
	case <-time.After(5 * time.Second):
		t.Fatal("slot not released at 001")
	}
}

// TestSlotWaitEnds: a Run waiting for a slot ends cleanly when closed.
func TestSlotWaitEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := New(Config{Addr: "127.0.0.1:1", Nick: "a", Slot: func(ctx context.Context) (func(), error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, func(*girc.Event) {}) }()
	cancel()
	if err := result(t, done); err != nil {
		t.Fatalf("Run = %v after its context ended while waiting for a slot, want nil", err)
	}
}

// TestReadWhileWriteBlocked: a write waiting for the socket (the server
// does not read) does not stop the reader: lines still arrive.
func TestReadWhileWriteBlocked(t *testing.T) {
	s, c, lines, _ := start(t, Config{Nick: "alice"})
	s.expect("CAP LS 302", "NICK alice", "USER alice 0 * alice")
	s.send(":srv 001 alice :Welcome")
	next(t, lines)
	// Fill the socket buffers: the server stops reading, and the writer
	// ends up waiting (its count stops moving).
	big := &girc.Event{Command: "PRIVMSG", Params: []string{"x", strings.Repeat("a", 4000)}}
	var written atomic.Int64
	go func() {
		for c.Write(big) == nil {
			written.Add(1)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for last := int64(-1); ; {
		time.Sleep(50 * time.Millisecond) // polling the count, not synchronising
		n := written.Load()
		if n == last && n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer never blocked")
		}
		last = n
	}
	for i := range 3 {
		s.send(":bob PRIVMSG alice :ping " + string(rune('0'+i)))
		if e := next(t, lines); !strings.HasPrefix(e.Last(), "ping ") {
			t.Fatalf("line %d: %q", i, e.Last())
		}
	}
	c.Close()
}
