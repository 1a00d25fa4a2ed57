package irc

import "testing"

// TestTopicFromXMPP: a subject change becomes TOPIC and is confirmed by the
// server's TOPIC (the subject to every joined resource); a refusal (482)
// answers the sender with a message error carrying the server's text; an
// unchanged subject is confirmed without asking the server; and a refusal
// does not steal the answer of a muc#admin request queued after it.
func TestTopicFromXMPP(t *testing.T) {
	f, fc := joined(t)
	f.flush(fc)

	f.send(`<message from='` + alicePhone + `' to='` + roomJID + `' type='groupchat' id='t1'><subject>new topic</subject></message>`)
	if l := f.line(); l != "TOPIC #chan :new topic" {
		t.Fatalf("topic line: %q", l)
	}
	f.quiet(fc) // nothing before the server answers
	f.recv(fc, ":alice!a@h TOPIC #chan :new topic")
	m := f.expect("subject", isMessage(roomJID+"/alice", alicePhone))
	if m.attr("type") != "groupchat" || m.find("subject") == nil || m.find("subject").text != "new topic" {
		t.Fatalf("confirmation: %s", m)
	}
	f.quiet(fc)

	// Refused, then a kick queued behind it: each gets its own answer.
	f.send(`<message from='` + alicePhone + `' to='` + roomJID + `' type='groupchat' id='t2'><subject>locked</subject></message>`)
	f.expectLine("TOPIC #chan")
	f.send(`<iq from='` + alicePhone + `' to='` + roomJID + `' type='set' id='k1'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='carol' role='none'/></query></iq>`)
	f.expectLine("KICK #chan carol")
	f.recv(fc, ":srv 482 alice #chan :You're not channel operator")
	e := f.expect("topic error", func(e *el) bool { return e.name.Local == "message" && e.attr("type") == "error" })
	if e.attr("id") != "t2" || e.attr("to") != alicePhone || e.find("forbidden") == nil ||
		e.find("text") == nil || e.find("text").text != "#chan: You're not channel operator" {
		t.Fatalf("topic refusal: %s", e)
	}
	f.recv(fc, ":alice!a@h KICK #chan carol :")
	r := f.expect("kick result", func(e *el) bool { return e.name.Local == "iq" })
	if r.attr("id") != "k1" || r.attr("type") != "result" {
		t.Fatalf("kick answer: %s", r)
	}

	// Unchanged: confirmed at once, no line to the server.
	f.send(`<message from='` + alicePhone + `' to='` + roomJID + `' type='groupchat' id='t3'><subject>new topic</subject></message>`)
	m = f.expect("subject again", isMessage(roomJID+"/alice", alicePhone))
	if m.find("subject") == nil || m.find("subject").text != "new topic" {
		t.Fatalf("unchanged subject: %s", m)
	}
	select {
	case l := <-f.lines:
		t.Fatalf("an unchanged subject was sent to the server: %q", l)
	default:
	}
}
