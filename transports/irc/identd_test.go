package irc

import (
	"bufio"
	"context"
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lrstanley/girc"

	"xgate/transports/irc/ircconn"
)

var identRE = regexp.MustCompile(`^[a-z][a-z0-9]{6,8}$`)

func TestIdentFor(t *testing.T) {
	tests := []struct{ jid, prefix string }{
		{"alice@example.org", "ali"},
		{"Alice@Example.ORG", "ali"}, // the same user: the same ident
		{"bo@example.org", "bo"},
		{"42day@example.org", "x42"},
		{"j.r-r@example.org", "jrr"},
		{"élodie@example.org", "lod"},
		{"@example.org", "x"},
		{"example.org", "x"},
		{"~~~@example.org", "x"},
	}
	for _, tt := range tests {
		got := identFor(tt.jid)
		if !identRE.MatchString(got) || !strings.HasPrefix(got, tt.prefix) || len(got) != len(tt.prefix)+6 {
			t.Errorf("identFor(%q) = %q, want %s + 6 hex digits", tt.jid, got, tt.prefix)
		}
		if again := identFor(tt.jid); again != got {
			t.Errorf("identFor(%q) is not stable: %q, %q", tt.jid, got, again)
		}
	}
	if got := identFor("alice@example.org"); got != "ali7a64ad" { // the example in docs/irc.md
		t.Errorf("identFor(alice@example.org) = %q", got)
	}
	if identFor("Alice@Example.ORG") != identFor("alice@example.org") {
		t.Error("identFor depends on case")
	}
	if identFor("alice@example.org") == identFor("alice@example.net") {
		t.Error("two users share an ident")
	}
}

func TestParseIdentQuery(t *testing.T) {
	tests := []struct {
		line         string
		lport, rport int
		err          error // nil, errIdentPort, or errOther
	}{
		{"6191, 23", 6191, 23, nil},
		{"6191 , 23", 6191, 23, nil},
		{" \t6191\t,\t23  ", 6191, 23, nil},
		{"65535,1", 65535, 1, nil},
		{"0 , 23", 0, 23, errIdentPort},
		{"6191 , 65536", 6191, 0, errIdentPort},
		{"99999999999 , 1", 0, 0, errOther},
		{"6191", 0, 0, errOther},
		{"a , b", 0, 0, errOther},
		{"-1 , 5", 0, 0, errOther},
		{"+1 , 5", 0, 0, errOther},
		{"1 , 2 , 3", 0, 0, errOther},
		{"", 0, 0, errOther},
	}
	for _, tt := range tests {
		l, r, err := parseIdentQuery(tt.line)
		switch {
		case tt.err == nil && err != nil, tt.err == errIdentPort && !errors.Is(err, errIdentPort),
			tt.err == errOther && (err == nil || errors.Is(err, errIdentPort)):
			t.Errorf("parseIdentQuery(%q): error %v, want %v", tt.line, err, tt.err)
		case tt.err != errOther && (l != tt.lport || r != tt.rport):
			t.Errorf("parseIdentQuery(%q) = %d, %d, want %d, %d", tt.line, l, r, tt.lport, tt.rport)
		}
	}
}

// errOther stands for any error but errIdentPort in test tables.
var errOther = errors.New("other")

func FuzzParseIdentQuery(f *testing.F) {
	for _, s := range []string{"6191, 23", "0,0", "65536 , 1", "1,", ",", "", "1 , 2\r", "٣ , ٤"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		l, r, err := parseIdentQuery(line)
		if err == nil && (l < 1 || l > 65535 || r < 1 || r > 65535) {
			t.Fatalf("%q: accepted ports %d, %d", line, l, r)
		}
		if errors.Is(err, errIdentPort) && (l < 0 || l > 65535 || r < 0 || r > 65535) {
			t.Fatalf("%q: echoes %d, %d", line, l, r)
		}
	})
}

// FuzzIdentSession sends arbitrary bytes to the ident server: it must not
// panic, must answer only in RFC 1413's shape, and must end the connection.
func FuzzIdentSession(f *testing.F) {
	for _, s := range []string{"1 , 2\r\n", "1,2\n3,4\n", "x\r\n", strings.Repeat("9", 300) + "\n", "0,0\n", "1 , 2"} {
		f.Add([]byte(s))
	}
	tr, err := New(Config{Domain: fakeDomain, AnyNetwork: true})
	if err != nil {
		f.Fatal(err)
	}
	answer := regexp.MustCompile(`^\d{1,5} , \d{1,5} : (ERROR : (NO-USER|INVALID-PORT)|USERID : UNIX : [a-z0-9]+)\r$`)
	f.Fuzz(func(t *testing.T, in []byte) {
		server, client := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			tr.identSession(server, 100*time.Millisecond)
		}()
		go func() {
			_, _ = client.Write(in)
		}()
		r := bufio.NewReader(client)
		for {
			_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := r.ReadString('\n')
			if err != nil {
				if line != "" {
					t.Fatalf("partial answer %q", line)
				}
				break
			}
			if !answer.MatchString(strings.TrimSuffix(line, "\n")) {
				t.Fatalf("answer %q", line)
			}
		}
		client.Close()
		<-done
	})
}

// identQuery asks the ident server at addr, from local address from.
func identQuery(t *testing.T, addr, from, query string) string {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("identd: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(query + "\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && line == "" {
		return "" // closed without an answer
	}
	return strings.TrimRight(line, "\r\n")
}

// TestIdentd runs identd and a real connection to a fake IRC server on
// 127.0.0.2: the server (and only it) learns the user's ident while the
// connection is open; the connection's USER name is the same ident.
func TestIdentd(t *testing.T) {
	identLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ircLn, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 on this machine: %v", err)
	}
	defer ircLn.Close()
	tr, err := New(Config{Domain: fakeDomain, AnyNetwork: true, Budget: Budget{IdentdListener: identLn}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wait := tr.serveIdentd(ctx)
	defer func() {
		cancel()
		wait()
	}()

	const jid = "alice@example.org"
	ident := identFor(jid)
	u := newUser(tr, jid)
	ircPort := ircLn.Addr().(*net.TCPAddr).Port
	n := u.withIdent(Network{Host: "127.0.0.2", Port: ircPort, Plaintext: true}.withDefaults())
	s := newSession(u, "127.0.0.2", "127.0.0.2", n, "alice")
	c := ircconn.New(ircconn.Config{Addr: ircLn.Addr().String(), Nick: "alice", User: s.net.Username, Realname: "x", Dial: tr.identDial(s)})
	connDone := make(chan error, 1)
	go func() { connDone <- c.Run(context.Background(), func(*girc.Event) {}) }()

	srv, err := ircLn.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_ = srv.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(srv)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("no USER line: %v", err)
		}
		if strings.HasPrefix(line, "USER ") {
			if f := strings.Fields(line); len(f) < 2 || f[1] != ident {
				t.Fatalf("USER line %q, want the ident %s", line, ident)
			}
			break
		}
	}

	lport := srv.RemoteAddr().(*net.TCPAddr).Port // our side of the connection
	q := strconv.Itoa(lport) + " , " + strconv.Itoa(ircPort)
	addr := identLn.Addr().String()
	tests := []struct {
		name, from, query, want string
	}{
		{"the server asks", "127.0.0.2", q, q + " : USERID : UNIX : " + ident},
		{"no spaces", "127.0.0.2", strconv.Itoa(lport) + "," + strconv.Itoa(ircPort), q + " : USERID : UNIX : " + ident},
		{"someone else asks", "127.0.0.1", q, q + " : ERROR : NO-USER"},
		{"ports swapped", "127.0.0.2", strconv.Itoa(ircPort) + " , " + strconv.Itoa(lport), strconv.Itoa(ircPort) + " , " + strconv.Itoa(lport) + " : ERROR : NO-USER"},
		{"bad port", "127.0.0.2", "0 , 6667", "0 , 6667 : ERROR : INVALID-PORT"},
		{"not a query", "127.0.0.2", "hello", ""},
		{"too long", "127.0.0.2", strings.Repeat("1", 400) + " , 1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := identQuery(t, addr, tt.from, tt.query); got != tt.want {
				t.Errorf("answer %q, want %q", got, tt.want)
			}
		})
	}

	// Once the connection is closed, nobody owns it.
	c.Close()
	select {
	case <-connDone:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection did not end")
	}
	if got := identQuery(t, addr, "127.0.0.2", q); got != q+" : ERROR : NO-USER" {
		t.Errorf("after close: %q", got)
	}

	// Stopping the transport stops identd.
	cancel()
	wait()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("identd still accepts after the transport stopped")
	}
}

// TestIdentUsername: with identd on, a session sends the user's ident as its
// USER name; without, the network's username.
func TestIdentUsername(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, on := range []bool{false, true} {
		f := newFake(t)
		if on {
			f.tr.cfg.Budget.IdentdListener = ln
		}
		f.send(`<presence from='` + alicePhone + `' to='` + roomJID + `/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
		fc := f.conn()
		want := "xgate"
		if on {
			want = identFor("alice@example.org")
		}
		if fc.c.Config().User != want {
			t.Errorf("identd %v: USER %q, want %q", on, fc.c.Config().User, want)
		}
	}
}
