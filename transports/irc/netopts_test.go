package irc

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

func TestConfigBind(t *testing.T) {
	tests := []struct {
		bind string
		ok   bool
	}{
		{"", true}, {"127.0.0.2", true}, {"::1", true}, {"irc.example.org", false}, {"10.0.0.1:5", false},
	}
	for _, tt := range tests {
		err := Config{Domain: fakeDomain, Networks: []Network{{Host: fakeHost, Bind: tt.bind}}}.validate()
		if (err == nil) != tt.ok {
			t.Errorf("bind %q: error %v, want ok=%v", tt.bind, err, tt.ok)
		}
	}
}

// TestServerPasswordAndBind hands the network's PASS and bind address to the connection.
func TestServerPasswordAndBind(t *testing.T) {
	f := newFake(t)
	f.tr.cfg.Networks[0].ServerPassword = "s3cret pass"
	f.tr.cfg.Networks[0].Bind = "2001:db8::10"
	f.send(`<presence from='` + alicePhone + `' to='` + roomJID + `/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	fc := f.conn()
	if got := fc.c.Config().Pass; got != "s3cret pass" {
		t.Errorf("connection's PASS = %q", got)
	}
	if got := fc.c.Config().Bind; got != "2001:db8::10" {
		t.Errorf("connection's Bind = %q", got)
	}
}

// TestServerPasswordAndBindDial connects for real to a local listener: the
// first line is PASS with the password, and the connection comes from the
// bind address (127.0.0.2, on the loopback network).
func TestServerPasswordAndBindDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tr, err := New(Config{Domain: fakeDomain, Networks: []Network{{
		Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Plaintext: true,
		ServerPassword: "s3cret", Bind: "127.0.0.2",
	}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.stop)
	f := &fakeNet{t: t, tr: tr}
	type got struct {
		from  string
		lines []string
		err   error
	}
	done := make(chan got, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- got{err: err}
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		g := got{from: c.RemoteAddr().(*net.TCPAddr).IP.String()}
		r := bufio.NewReader(c)
		for len(g.lines) < 10 {
			l, err := r.ReadString('\n')
			if err != nil {
				g.err = err
				break
			}
			l = strings.TrimRight(l, "\r\n")
			g.lines = append(g.lines, l)
			if strings.HasPrefix(l, "USER ") {
				break
			}
		}
		done <- g
	}()
	f.send(`<presence from='` + alicePhone + `' to='#chan%127.0.0.1@` + fakeDomain + `/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	var g got
	select {
	case g = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("xgate did not connect")
	}
	if g.from != "127.0.0.2" {
		t.Errorf("connection from %s, want the bind address 127.0.0.2 (err %v)", g.from, g.err)
	}
	var pass string
	for _, l := range g.lines {
		if strings.HasPrefix(l, "PASS ") {
			pass = l
		}
	}
	if pass != "PASS s3cret" && pass != "PASS :s3cret" {
		t.Errorf("lines %q: want PASS s3cret", g.lines)
	}
}
