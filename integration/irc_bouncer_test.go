package integration

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"xgate/integration/harness"
)

const (
	nsMAM     = "urn:xmpp:mam:2"
	nsRSM     = "http://jabber.org/protocol/rsm"
	nsForward = "urn:xmpp:forward:0"
)

// runCommand runs the XEP-0050 command node on domain as c: each of steps is
// the values submitted to the form the previous step showed. It returns the
// last <command/> (completed, with its note).
func runCommand(t *testing.T, c *harness.Client, domain, node string, steps ...map[string]string) *harness.Element {
	t.Helper()
	r := c.IQ(t, "<iq type='set' to='"+domain+"'><command xmlns='"+nsCommands+"' node='"+node+"' action='execute'/></iq>")
	cmd := r.ChildNS(nsCommands, "command")
	if r.Type() != "result" || cmd == nil {
		t.Fatalf("%s: execute: %s", node, r)
	}
	for i, values := range steps {
		if cmd.Attr("status") != "executing" {
			t.Fatalf("%s: step %d: the command is %s: %s", node, i+1, cmd.Attr("status"), r)
		}
		var b strings.Builder
		keys := make([]string, 0, len(values))
		for k := range values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		// Fields the form shows and the step does not set are sent back
		// with their shown values, as a client does.
		if x := cmd.ChildNS(nsData, "x"); x != nil {
			for _, f := range x.ChildrenNamed("field") {
				if _, ok := values[f.Attr("var")]; ok || f.Attr("var") == "" {
					continue
				}
				b.WriteString("<field var='" + f.Attr("var") + "'>")
				for _, v := range f.ChildrenNamed("value") {
					b.WriteString("<value>" + xmlText(v.Text) + "</value>")
				}
				b.WriteString("</field>")
			}
		}
		for _, k := range keys {
			b.WriteString("<field var='" + k + "'>")
			for _, v := range strings.Split(values[k], "\n") {
				b.WriteString("<value>" + xmlText(v) + "</value>")
			}
			b.WriteString("</field>")
		}
		r = c.IQ(t, "<iq type='set' to='"+domain+"'><command xmlns='"+nsCommands+"' node='"+node+"' sessionid='"+
			cmd.Attr("sessionid")+"'><x xmlns='"+nsData+"' type='submit'>"+b.String()+"</x></command></iq>")
		cmd = r.ChildNS(nsCommands, "command")
		if r.Type() != "result" || cmd == nil {
			t.Fatalf("%s: step %d: %s", node, i+1, r)
		}
	}
	if cmd.Attr("status") != "completed" {
		t.Fatalf("%s: not completed after %d steps: %s", node, len(steps), r)
	}
	return cmd
}

func xmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;").Replace(s)
}

// mamPage sends a MAM query with RSM to archive and returns the results
// and the <fin/>.
func mamPage(t *testing.T, c *harness.Client, archive, queryID, rsm string) ([]*harness.Element, *harness.Element) {
	t.Helper()
	c.Send(t, "<iq type='set' id='"+queryID+"' to='"+archive+"'><query xmlns='"+nsMAM+"' queryid='"+queryID+"'>"+
		"<set xmlns='"+nsRSM+"'>"+rsm+"</set></query></iq>")
	fin := c.Expect(t, 10*time.Second, harness.All(harness.Name("iq"), harness.ID(queryID)))
	if fin.Type() != "result" {
		t.Fatalf("MAM query to %s: %s", archive, fin)
	}
	results := c.Received(func(e *harness.Element) bool {
		r := e.ChildNS(nsMAM, "result")
		return e.Name.Local == "message" && r != nil && r.Attr("queryid") == queryID
	})
	return results, fin.ChildNS(nsMAM, "fin")
}

// forwardedBody is the body of the message a MAM result forwards.
func forwardedBody(m *harness.Element) string {
	return m.ChildNS(nsMAM, "result").ChildNS(nsForward, "forwarded").Child("message").ChildText("body")
}

// TestIRCBouncer runs issue 6's bouncer against Prosody and a private ngircd:
// alice makes a room persistent with the ad-hoc command, goes offline, and
// xgate stays in the channel; what bob says meanwhile (in the room and to
// her privately) is in her archive: the rejoin replays it as history and
// XEP-0313 queries page through it; after an xgate restart the persistent
// room is rejoined by itself.
func TestIRCBouncer(t *testing.T) {
	e := newIRCEnv(t, harness.Prosody, "#bnc", "")
	alice, bob := e.alice, e.bob
	const wait = 10 * time.Second
	room := "#bnc%127.0.0.1@" + ircDomain

	alice.Send(t, "<presence to='"+room+"/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	alice.Expect(t, 20*time.Second, harness.Presence(room+"/alice", ""))
	bob.Expect(t, wait, "JOIN")

	t.Run("make persistent", func(t *testing.T) {
		// On the room's JID, as biboumi users do: the command is listed
		// there and starts with the room's form.
		items := alice.IQ(t, "<iq type='get' to='"+room+"'><query xmlns='"+nsDiscoItems+"' node='"+nsCommands+"'/></iq>")
		if !strings.Contains(items.String(), "irc-configure-room") {
			t.Fatalf("commands on the room: %s", items)
		}
		cmd := runCommand(t, alice, room, "irc-configure-room",
			map[string]string{"persistent": "1"})
		if note := cmd.ChildText("note"); !strings.Contains(note, "persistent") {
			t.Errorf("note: %q", note)
		}
	})

	t.Run("offline stays joined", func(t *testing.T) {
		alice.Close(t)
		bob.Send(t, "PRIVMSG #bnc :line one")
		bob.Send(t, "PRIVMSG #bnc :line two")
		bob.Send(t, "PRIVMSG #bnc :alice: line three")
		bob.Send(t, "PRIVMSG alice :are you there?")
		bob.Send(t, "NAMES #bnc")
		names := bob.Expect(t, wait, " 353 ")
		if !strings.Contains(names, "alice") {
			t.Fatalf("alice left #bnc when her client went offline: %q", names)
		}
	})

	alice = harness.Login(t, e.srv, "alice", alicePass, "laptop")
	t.Run("history on rejoin", func(t *testing.T) {
		// The private message went to her account while she was offline.
		pm := alice.Expect(t, wait, harness.All(harness.Message("bob%127.0.0.1@"+ircDomain), harness.Body("are you there?")))
		if pm.Type() != "chat" {
			t.Errorf("private message: %s", pm)
		}
		// So did the mention of her nick in the persistent room.
		alice.Expect(t, wait, harness.All(harness.Message("#bnc%127.0.0.1@"+ircDomain), harness.Body("bob mentioned you in #bnc: alice: line three")))
		alice.Send(t, "<presence to='"+room+"/alice'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='10'/></x></presence>")
		alice.Expect(t, wait, harness.Presence(room+"/alice", ""))
		var got []string
		for len(got) < 3 {
			m, ok := alice.Next(wait, harness.All(harness.Message(room+"/bob"), harness.HasChild("delay")))
			if !ok {
				t.Fatalf("history: got %q, want the 3 lines said while offline", got)
			}
			got = append(got, m.ChildText("body"))
		}
		if strings.Join(got, "|") != "line one|line two|alice: line three" {
			t.Errorf("history %q", got)
		}
		alice.Expect(t, wait, harness.All(harness.Name("message"), harness.From(room), harness.HasChild("subject")))
	})

	t.Run("mam paging", func(t *testing.T) {
		first, fin := mamPage(t, alice, room, "q1", "<max>2</max>")
		if len(first) != 2 || fin.Attr("complete") == "true" {
			t.Fatalf("first page: %d results, fin %s", len(first), fin)
		}
		if forwardedBody(first[0]) != "line one" || forwardedBody(first[1]) != "line two" {
			t.Errorf("first page: %s / %s", first[0], first[1])
		}
		last := fin.ChildNS(nsRSM, "set").ChildText("last")
		rest, fin := mamPage(t, alice, room, "q2", "<max>2</max><after>"+last+"</after>")
		if len(rest) != 1 || forwardedBody(rest[0]) != "alice: line three" || fin.Attr("complete") != "true" {
			t.Fatalf("second page: %d results, fin %s", len(rest), fin)
		}
		if c := fin.ChildNS(nsRSM, "set").ChildText("count"); c != "3" {
			t.Errorf("count %q, want 3", c)
		}
		back, _ := mamPage(t, alice, room, "q3", "<max>1</max><before/>")
		if len(back) != 1 || forwardedBody(back[0]) != "alice: line three" {
			t.Errorf("last page: %v", back)
		}
	})

	t.Run("private messages archived", func(t *testing.T) {
		pms, fin := mamPage(t, alice, "bob%127.0.0.1@"+ircDomain, "q4", "<max>10</max>")
		if len(pms) != 1 || forwardedBody(pms[0]) != "are you there?" || fin.Attr("complete") != "true" {
			t.Fatalf("private archive: %d results, fin %s", len(pms), fin)
		}
		if from := pms[0].ChildNS(nsMAM, "result").ChildNS(nsForward, "forwarded").Child("message").From(); from != "bob%127.0.0.1@"+ircDomain {
			t.Errorf("forwarded from %q", from)
		}
	})

	top := t // clients outlive the subtest that logs them in
	t.Run("restart rejoins", func(t *testing.T) {
		alice.Close(t)
		e.xg.Restart(t)
		e.xg.WaitHealthy(t, healthyAfter)
		// Nobody is online: xgate joins #bnc again by itself.
		bob.Expect(t, 30*time.Second, "JOIN")
		bob.Send(t, "PRIVMSG #bnc :after the restart")
		alice = harness.Login(top, e.srv, "alice", alicePass, "phone")
		// ngircd paces bob's lines: wait until xgate has archived it.
		deadline := time.Now().Add(wait)
		for i := 0; ; i++ {
			res, _ := mamPage(t, alice, room, fmt.Sprintf("w%d", i), "<max>1</max><before/>")
			if len(res) == 1 && forwardedBody(res[0]) == "after the restart" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the line said after the restart is not archived: %v", res)
			}
			time.Sleep(50 * time.Millisecond) // polling an outside process, not synchronisation
		}
		alice.Send(t, "<presence to='"+room+"/alice'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='1'/></x></presence>")
		h := alice.Expect(t, wait, harness.All(harness.Message(room+"/bob"), harness.HasChild("delay")))
		if h.ChildText("body") != "after the restart" {
			t.Errorf("history after the restart: %s", h)
		}
	})

	t.Run("not persistent leaves", func(t *testing.T) {
		runCommand(t, alice, ircDomain, "irc-configure-room",
			map[string]string{"room": room},
			map[string]string{"persistent": "0"})
		alice.Send(t, "<presence type='unavailable' to='"+room+"/alice'/>")
		bob.Expect(t, wait, "QUIT")
	})
}
