package irc

import "testing"

func TestListWithoutConnection(t *testing.T) {
	f := newFake(t)
	server := fakeHost + "@" + fakeDomain
	f.send(`<iq from='` + alicePhone + `' to='` + server + `' type='get' id='l1'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`)
	fc := f.conn()
	if fc.s.wantNick != "alice" {
		t.Fatalf("LIST connection nick %q, want one from the JID", fc.s.wantNick)
	}
	f.register(fc, "alice")
	if l := f.line(); l != "LIST" {
		t.Fatalf("list line: %q", l)
	}
	f.recv(fc, ":srv 322 alice #a 5 :ay", ":srv 323 alice :End of LIST")
	if items := itemJIDs(f.expect("the list", isIQ("l1"))); items != "#a%irc.test@irc.gw" {
		t.Fatalf("items %q", items)
	}
	f.flush(fc)
	f.tr.mu.Lock()
	u := f.tr.users["alice@example.org"]
	f.tr.mu.Unlock()
	if u != nil && len(u.sessions) != 0 {
		t.Fatal("the LIST connection stayed open")
	}
}

func TestListConnectionAdoptedByJoin(t *testing.T) {
	f := newFake(t)
	server := fakeHost + "@" + fakeDomain
	f.send(`<iq from='` + alicePhone + `' to='` + server + `' type='get' id='l1'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`)
	fc := f.conn()
	f.register(fc, "alice")
	if l := f.line(); l != "LIST" {
		t.Fatalf("list line: %q", l)
	}
	// A join before the answer: the connection is kept, with the room's nick.
	f.send(`<presence from='` + alicePhone + `' to='` + roomJID + `/ally'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	if l := f.line(); l != "NICK ally" {
		t.Fatalf("nick line: %q", l)
	}
	if l := f.line(); l != "JOIN #chan" {
		t.Fatalf("join line: %q", l)
	}
	f.recv(fc, ":srv 323 alice :End of LIST", ":alice!a@h NICK ally", ":ally!a@h JOIN #chan", ":srv 353 ally = #chan :ally", ":srv 366 ally #chan :End")
	f.expect("the list", isIQ("l1"))
	f.expect("ally's self-presence", isPresence(roomJID+"/ally", alicePhone, ""))
	f.flush(fc)
	if fc.s.listOnly || fc.s.quitting {
		t.Fatal("the adopted connection is closing")
	}
}
