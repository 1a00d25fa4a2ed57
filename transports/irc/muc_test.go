package irc

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

const (
	alicePhone  = "alice@example.org/phone"
	aliceLaptop = "alice@example.org/laptop"
	roomJID     = "#chan%" + fakeHost + "@" + fakeDomain
)

// joined plays a complete join of alice/phone to #chan with bob (@), carol
// (+), dave (~) and eve (%) in it, and consumes the join sequence.
func joined(t *testing.T, opts ...func(*Config)) (*fakeNet, fakeConn) {
	t.Helper()
	f := newFake(t, opts...)
	f.send(`<presence from='` + alicePhone + `' to='` + roomJID + `/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	fc := f.conn()
	f.register(fc, "alice", "PREFIX=(qaohv)~&@%+", "CHANTYPES=#&", "CASEMAPPING=rfc1459", "CHANMODES=beI,k,l,imnst")
	if l := f.line(); l != "JOIN #chan" {
		t.Fatalf("join line: %q", l)
	}
	f.recv(fc,
		":alice!a@h JOIN #chan",
		":srv 332 alice #chan :the topic",
		":srv 333 alice #chan bob!b@h 1700000000",
		":srv 353 alice = #chan :alice @bob +carol ~dave %eve",
		":srv 366 alice #chan :End of NAMES list",
	)
	want := []struct{ nick, aff, role string }{
		{"bob", "admin", "moderator"}, {"carol", "member", "participant"},
		{"dave", "owner", "moderator"}, {"eve", "member", "moderator"},
	}
	for _, w := range want {
		p := f.out()
		item := p.find("item")
		if p.attr("from") != roomJID+"/"+w.nick || item == nil || item.attr("affiliation") != w.aff || item.attr("role") != w.role {
			t.Fatalf("occupant %s: got %s", w.nick, p)
		}
	}
	self := f.out()
	if !isPresence(roomJID+"/alice", alicePhone, "")(self) || self.codes() != "110,100" || self.find("item").attr("jid") != alicePhone {
		t.Fatalf("self-presence: %s", self)
	}
	subj := f.out()
	if subj.attr("from") != roomJID+"/bob" || subj.find("subject").text != "the topic" || subj.attr("type") != "groupchat" {
		t.Fatalf("subject: %s", subj)
	}
	return f, fc
}

func TestJoinSequence(t *testing.T) {
	f, fc := joined(t)
	f.quiet(fc)
}

func TestOccupantEvents(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		from  string
		typ   string
		codes string
		check func(t *testing.T, p *el)
	}{
		{"join", []string{":frank!f@h JOIN #chan"}, roomJID + "/frank", "", "", func(t *testing.T, p *el) {
			if p.find("item").attr("role") != "participant" {
				t.Errorf("role: %s", p)
			}
		}},
		{"part with reason", []string{":bob!b@h PART #chan :bye now"}, roomJID + "/bob", "unavailable", "", func(t *testing.T, p *el) {
			if p.find("status").text != "bye now" || p.find("item").attr("role") != "none" {
				t.Errorf("part: %s", p)
			}
		}},
		{"quit", []string{":carol!c@h QUIT :gone"}, roomJID + "/carol", "unavailable", "", nil},
		{"kick", []string{":bob!b@h KICK #chan carol :behave"}, roomJID + "/carol", "unavailable", "307", func(t *testing.T, p *el) {
			if p.find("reason").text != "behave" {
				t.Errorf("kick reason: %s", p)
			}
		}},
		{"nick change", []string{":bob!b@h NICK robert"}, roomJID + "/bob", "unavailable", "303", func(t *testing.T, p *el) {
			if p.find("item").attr("nick") != "robert" || p.find("item").attr("affiliation") != "admin" {
				t.Errorf("303: %s", p)
			}
		}},
		{"voice", []string{":bob!b@h MODE #chan +v frank", ":frank!f@h JOIN #chan"}, roomJID + "/frank", "", "", nil},
		{"op", []string{":bob!b@h MODE #chan +o-v carol carol"}, roomJID + "/carol", "", "", func(t *testing.T, p *el) {
			if it := p.find("item"); it.attr("role") != "moderator" || it.attr("affiliation") != "admin" {
				t.Errorf("+o: %s", p)
			}
		}},
		{"deop", []string{":dave!d@h MODE #chan -o bob"}, roomJID + "/bob", "", "", func(t *testing.T, p *el) {
			if it := p.find("item"); it.attr("role") != "participant" || it.attr("affiliation") != "none" {
				t.Errorf("-o: %s", p)
			}
		}},
		{"key and halfop in one mode", []string{":bob!b@h MODE #chan +kh secret carol"}, roomJID + "/carol", "", "", func(t *testing.T, p *el) {
			if it := p.find("item"); it.attr("role") != "moderator" || it.attr("affiliation") != "member" {
				t.Errorf("+kh: %s", p)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, fc := joined(t)
			f.recv(fc, tt.lines...)
			p := f.expect("from "+tt.from, isPresence(tt.from, alicePhone, tt.typ))
			if p.codes() != tt.codes {
				t.Errorf("codes %q, want %q: %s", p.codes(), tt.codes, p)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

func TestNickChangeAvailableAfter(t *testing.T) {
	f, fc := joined(t)
	f.recv(fc, ":bob!b@h NICK robert")
	f.expect("303", isPresence(roomJID+"/bob", alicePhone, "unavailable"))
	p := f.out()
	if !isPresence(roomJID+"/robert", alicePhone, "")(p) || p.find("item").attr("role") != "moderator" {
		t.Fatalf("new nick: %s", p)
	}
}

func TestOwnNickChange(t *testing.T) {
	f, fc := joined(t)
	// Any other presence update is not a NICK.
	f.send(`<presence from='` + alicePhone + `' to='` + roomJID + `/alice'><show>away</show></presence>`)
	f.send(`<presence from='` + alicePhone + `' to='` + roomJID + `/alicia'/>`)
	if l := f.line(); l != "NICK alicia" {
		t.Fatalf("nick line: %q", l)
	}
	f.recv(fc, ":alice!a@h NICK alicia")
	p := f.expect("own 303", isPresence(roomJID+"/alice", alicePhone, "unavailable"))
	if p.codes() != "110,303" || p.find("item").attr("nick") != "alicia" {
		t.Fatalf("own 303: %s", p)
	}
	p = f.out()
	if !isPresence(roomJID+"/alicia", alicePhone, "")(p) || p.codes() != "110" {
		t.Fatalf("own new presence: %s", p)
	}
	// A refused nick is a conflict for the resource that asked.
	f.send(`<presence from='` + alicePhone + `' to='` + roomJID + `/bob'/>`)
	f.expectLine("NICK bob")
	f.recv(fc, ":srv 433 alicia bob :Nickname already in use")
	p = f.expect("conflict", isPresence(roomJID+"/bob", alicePhone, "error"))
	if p.find("conflict") == nil {
		t.Fatalf("nick in use: %s", p)
	}
}

func TestOwnKick(t *testing.T) {
	f, fc := joined(t)
	f.recv(fc, ":bob!b@h KICK #chan alice :out")
	p := f.expect("own kick", isPresence(roomJID+"/alice", alicePhone, "unavailable"))
	if p.codes() != "110,307" || p.find("reason").text != "out" {
		t.Fatalf("own kick: %s", p)
	}
	// Last room: the connection is closed and the user's goroutine retires
	// (it owns its sessions, so the test looks only at the transport's map,
	// under the transport's lock).
	f.flush(fc)
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.tr.mu.Lock()
		u := f.tr.users["alice@example.org"]
		f.tr.mu.Unlock()
		if u == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the user's session survived the last room")
		}
		runtime.Gosched()
	}
}

func TestMessages(t *testing.T) {
	f, fc := joined(t)
	f.recv(fc, ":bob!b@h PRIVMSG #chan :hello \x02there\x02")
	m := f.expect("groupchat", isMessage(roomJID+"/bob", alicePhone))
	if m.find("body").text != "hello *there*" || m.attr("type") != "groupchat" {
		t.Fatalf("groupchat: %s", m)
	}
	if sid := m.find("stanza-id"); sid == nil || sid.attr("by") != roomJID || sid.attr("id") == "" {
		t.Errorf("no stanza-id by the roomJID: %s", m)
	}
	f.recv(fc, ":bob!b@h PRIVMSG alice :psst")
	m = f.expect("chat", isMessage("bob%"+fakeHost+"@"+fakeDomain, "alice@example.org"))
	if m.attr("type") != "chat" || m.find("body").text != "psst" {
		t.Fatalf("private: %s", m)
	}
	f.recv(fc, ":bob!b@h NOTICE #chan :heads up")
	m = f.expect("notice", isMessage(roomJID+"/bob", alicePhone))
	if m.find("body").text != "[notice] heads up" {
		t.Fatalf("notice: %s", m)
	}
	f.send(`<message from='` + alicePhone + `' to='` + roomJID + `' type='groupchat' id='m1'><body>hi all</body><origin-id xmlns='urn:xmpp:sid:0' id='o1'/></message>`)
	if l := f.line(); l != "PRIVMSG #chan :hi all" {
		t.Fatalf("privmsg: %q", l)
	}
	m = f.expect("reflection", isMessage(roomJID+"/alice", alicePhone))
	if m.attr("id") != "m1" || m.find("origin-id").attr("id") != "o1" {
		t.Fatalf("reflection: %s", m)
	}
	f.send(`<message from='` + alicePhone + `' to='` + roomJID + `/bob' type='chat'><body>in roomJID</body></message>`)
	if l := f.line(); l != "PRIVMSG bob :in roomJID" {
		t.Fatalf("in-room private: %q", l)
	}
	f.send(`<message from='` + alicePhone + `' to='` + roomJID + `' type='groupchat'><subject>new</subject></message>`)
	if l := f.line(); l != "TOPIC #chan new" {
		t.Fatalf("topic: %q", l)
	}
}

func TestSecondResource(t *testing.T) {
	f, fc := joined(t)
	f.send(`<presence from='` + aliceLaptop + `' to='` + roomJID + `/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	// The channel is joined already: no JOIN, the laptop gets the roomJID.
	for range 4 {
		if p := f.out(); p.attr("to") != aliceLaptop || p.name.Local != "presence" {
			t.Fatalf("occupant to laptop: %s", p)
		}
	}
	self := f.out()
	if !isPresence(roomJID+"/alice", aliceLaptop, "")(self) || self.codes() != "110,100" {
		t.Fatalf("laptop self-presence: %s", self)
	}
	f.expect("subject", isMessage(roomJID+"/bob", aliceLaptop))
	// Reflections go to both.
	f.send(`<message from='` + alicePhone + `' to='` + roomJID + `' type='groupchat' id='m2'><body>both</body></message>`)
	got := map[string]bool{}
	for range 2 {
		m := f.expect("reflection", isMessage(roomJID+"/alice", ""))
		got[m.attr("to")] = true
	}
	if !got[alicePhone] || !got[aliceLaptop] {
		t.Fatalf("reflections went to %v", got)
	}
	f.expectLine("PRIVMSG #chan both")
	// A resource that did not join is refused.
	f.send(`<message from='alice@example.org/tablet' to='` + roomJID + `' type='groupchat' id='m3'><body>sneaky</body></message>`)
	e := f.expect("error", isMessage(roomJID, "alice@example.org/tablet"))
	if e.attr("type") != "error" || e.find("not-acceptable") == nil {
		t.Fatalf("unjoined resource: %s", e)
	}
	f.send(`<iq from='alice@example.org/tablet' to='` + roomJID + `/alice' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`)
	e = f.expect("ping error", func(e *el) bool { return e.name.Local == "iq" })
	if e.attr("type") != "error" {
		t.Fatalf("self-ping of an unjoined resource: %s", e)
	}
	f.send(`<iq from='` + aliceLaptop + `' to='` + roomJID + `/alice' type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>`)
	e = f.expect("ping result", func(e *el) bool { return e.name.Local == "iq" })
	if e.attr("type") != "result" {
		t.Fatalf("self-ping: %s", e)
	}
	// The phone leaves: no PART while the laptop is in.
	f.send(`<presence from='` + alicePhone + `' to='` + roomJID + `/alice' type='unavailable'/>`)
	p := f.expect("phone out", isPresence(roomJID+"/alice", alicePhone, "unavailable"))
	if p.codes() != "110" {
		t.Fatalf("phone leaving: %s", p)
	}
	f.flush(fc)
	select {
	case l := <-f.lines:
		t.Fatalf("line while a resource remains: %q", l)
	default:
	}
	// The laptop goes offline (its broadcast unavailable reaches a contact):
	// its rooms are left, the last one quits.
	f.send(`<presence from='` + aliceLaptop + `' to='bob%` + fakeHost + `@` + fakeDomain + `' type='unavailable'/>`)
	f.expect("laptop out", isPresence(roomJID+"/alice", aliceLaptop, "unavailable"))
	f.flush(fc)
	if _, ok := fc.s.u.sessions[fakeHost]; ok {
		t.Fatal("session kept after the last resource went offline")
	}
}

func TestJoinErrors(t *testing.T) {
	tests := []struct {
		line, cond string
	}{
		{":srv 474 alice #chan :Cannot join channel (+b)", "forbidden"},
		{":srv 475 alice #chan :Cannot join channel (+k)", "not-authorized"},
		{":srv 473 alice #chan :Cannot join channel (+i)", "registration-required"},
		{":srv 471 alice #chan :Cannot join channel (+l)", "service-unavailable"},
		{":srv 405 alice #chan :You have joined too many channels", "service-unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.cond+tt.line[5:8], func(t *testing.T) {
			f := newFake(t)
			f.send(`<presence from='` + alicePhone + `' to='` + roomJID + `/alice'/>`)
			fc := f.conn()
			f.register(fc, "alice")
			f.expectLine("JOIN #chan")
			f.recv(fc, tt.line)
			p := f.expect("error", isPresence(roomJID+"/alice", alicePhone, "error"))
			if p.find(tt.cond) == nil || !strings.Contains(p.find("text").text, "Cannot join") && !strings.Contains(p.find("text").text, "too many") {
				t.Fatalf("%s: %s", tt.cond, p)
			}
		})
	}
}

func TestConnectionLostAndRejoin(t *testing.T) {
	f, fc := joined(t)
	f.closed(fc, errors.New("EOF"))
	p := f.expect("332", isPresence(roomJID+"/alice", alicePhone, "unavailable"))
	if p.codes() != "110,332" {
		t.Fatalf("lost: %s", p)
	}
	// The reconnection is after the backoff; a failed attempt is silent.
	fc2 := f.conn()
	f.closed(fc2, errors.New("connection refused"))
	fc3 := f.conn()
	f.quiet(fc3)
	f.register(fc3, "alice")
	f.expectLine("JOIN #chan")
	f.recv(fc3, ":alice!a@h JOIN #chan", ":srv 353 alice = #chan :alice @bob", ":srv 366 alice #chan :End")
	f.expect("bob again", isPresence(roomJID+"/bob", alicePhone, ""))
	self := f.expect("self again", isPresence(roomJID+"/alice", alicePhone, ""))
	if self.codes() != "110,100" {
		t.Fatalf("rejoin: %s", self)
	}
}

func TestFirstConnectionFails(t *testing.T) {
	f := newFake(t)
	f.send(`<presence from='` + alicePhone + `' to='` + roomJID + `/alice'/>`)
	fc := f.conn()
	f.closed(fc, errors.New("connection refused"))
	p := f.expect("error", isPresence(roomJID+"/alice", alicePhone, "error"))
	if p.find("remote-server-not-found") == nil {
		t.Fatalf("connect failure: %s", p)
	}
	f.flush(fc)
	f.noConn()
}
