package irc

import (
	"testing"
	"time"

	"github.com/lrstanley/girc"

	"xgate/transports/irc/ircconn"
)

// FuzzIRCLine feeds arbitrary server lines to a session with a joined room:
// nothing may panic, whatever the server sends.
func FuzzIRCLine(f *testing.F) {
	for _, s := range []string{
		":bob!b@h MODE #chan +o-v+k carol carol key",
		":bob!b@h MODE #chan +",
		":srv 353 alice = #chan :@%+ ~",
		":srv 005 alice PREFIX=(ov) CHANMODES=,,, :x",
		":srv 322 alice #x notanumber",
		":bob!b@h KICK #chan",
		":bob!b@h NICK",
		":bob!b@h PRIVMSG #chan :\x01ACTION",
		":alice!a@h INVITE alice",
		":srv 482 alice",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e := girc.ParseEvent(line)
		if e == nil {
			return
		}
		tr, err := New(Config{Domain: fakeDomain, Networks: []Network{{Host: fakeHost, Plaintext: true}}})
		if err != nil {
			t.Fatal(err)
		}
		defer tr.stop()
		u := newUser(tr, "alice@example.org")
		s := newSession(u, fakeHost, fakeHost, Network{Host: fakeHost}.withDefaults(), "alice")
		s.client = ircconn.New(ircconn.Config{Addr: fakeHost + ":6667", Nick: "alice", User: "a"})
		s.caps = map[string]bool{"echo-message": true}
		s.w = newWriter(s.ctx, 10, time.Second, func(*girc.Event) {})
		u.sessions[fakeHost] = s
		r := newRoom(s, "#chan", "")
		r.joined = true
		r.res[alicePhone] = true
		r.occupants["bob"] = occupant{nick: "bob", prefix: "@"}
		s.rooms["#chan"] = r
		s.registered = true
		s.handleIRC(s.client, *e)
		for len(tr.out.q) > 0 {
			<-tr.out.q
		}
	})
}
