package irc

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xgate/store"
	"xgate/transports"
)

const aliceBare = "alice@example.org"

// withBouncer gives the fake transport a real SQLite store (settings and
// archive) and runs its archive writer for the test.
func withBouncer(t *testing.T) (func(*Config), *store.SQLite) {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "xgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return func(c *Config) {
		c.Bouncer = Bouncer{Store: st, Archive: st, History: 20}
		c.SecretsKey = bytes.Repeat([]byte{3}, 32)
	}, st
}

// startArchive runs the transport's archive writer until the test ends.
func startArchive(t *testing.T, f *fakeNet) {
	ctx, cancel := context.WithCancel(context.Background())
	done := f.tr.runArchive(ctx)
	t.Cleanup(func() { cancel(); <-done })
}

// command runs an ad-hoc command's steps: forms[i] is submitted at step i+1.
func command(t *testing.T, tr *Transport, user, node string, forms ...map[string]string) (*transports.Form, string, error) {
	t.Helper()
	var cmd transports.Command
	for _, c := range tr.Commands() {
		if c.Node == node {
			cmd = c
		}
	}
	if cmd.Execute == nil {
		t.Fatalf("no command %s", node)
	}
	next, note, err := cmd.Execute(context.Background(), user, 0, nil)
	for i, form := range forms {
		if err != nil || next == nil {
			return next, note, err
		}
		values := map[string]string{}
		for k, v := range next.Values {
			values[k] = v
		}
		for k, v := range form {
			values[k] = v
		}
		next, note, err = cmd.Execute(context.Background(), user, i+1, values)
	}
	return next, note, err
}

func noLine(t *testing.T, f *fakeNet, fc fakeConn) {
	t.Helper()
	f.flush(fc)
	select {
	case l := <-f.lines:
		t.Fatalf("unexpected IRC line %q", l)
	default:
	}
}

func TestPersistentRoomHistoryAndMAM(t *testing.T) {
	opt, _ := withBouncer(t)
	f, fc := joined(t, opt)
	startArchive(t, f)
	if _, note, err := command(t, f.tr, aliceBare, cmdConfigureRoom, map[string]string{"room": "#chan%" + fakeHost}, map[string]string{"persistent": "1"}); err != nil || !strings.Contains(note, "persistent") {
		t.Fatalf("configure room: %q %v", note, err)
	}

	// The last resource goes offline: no PART, the room stays.
	f.send(`<presence type='unavailable' from='` + alicePhone + `' to='bob%` + fakeHost + `@` + fakeDomain + `'/>`)
	f.expect("alice's unavailable presence", isPresence(roomJID+"/alice", alicePhone, "unavailable"))
	noLine(t, f, fc)

	f.recv(fc, ":bob!b@h PRIVMSG #chan :said while away", ":bob!b@h PRIVMSG alice :psst")
	pm := f.expect("the private message", isMessage("bob%"+fakeHost+"@"+fakeDomain, aliceBare))
	if pm.find("body").text != "psst" {
		t.Fatalf("private message: %s", pm)
	}

	// The laptop joins: the line is replayed, delayed, before the subject.
	f.send(`<presence from='` + aliceLaptop + `' to='` + roomJID + `/alice'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='5'/></x></presence>`)
	f.expect("the laptop's self-presence", isPresence(roomJID+"/alice", aliceLaptop, ""))
	h := f.out()
	if !isMessage(roomJID+"/bob", aliceLaptop)(h) || h.find("body").text != "said while away" || h.find("delay") == nil {
		t.Fatalf("history: %s", h)
	}
	sid := h.find("stanza-id").attr("id")
	if s := f.out(); s.find("subject") == nil {
		t.Fatalf("subject after the history: %s", s)
	}

	// MAM on the room: the same line with the same id.
	f.send(`<iq type='set' id='m1' from='` + aliceLaptop + `' to='` + roomJID + `'><query xmlns='urn:xmpp:mam:2' queryid='q'><set xmlns='http://jabber.org/protocol/rsm'><max>10</max></set></query></iq>`)
	res := f.expect("a MAM result", isMessage(roomJID, aliceLaptop))
	if r := res.find("result"); r == nil || r.attr("id") != sid || r.attr("queryid") != "q" || res.find("body").text != "said while away" {
		t.Fatalf("MAM result: %s", res)
	}
	fin := f.expect("the MAM fin", func(e *el) bool { return e.name.Local == "iq" && e.attr("id") == "m1" })
	if fin.attr("type") != "result" || fin.find("fin").attr("complete") != "true" || fin.find("count").text != "1" {
		t.Fatalf("MAM fin: %s", fin)
	}

	// MAM on the nick: the private message.
	f.send(`<iq type='set' id='m2' from='` + aliceLaptop + `' to='bob%` + fakeHost + `@` + fakeDomain + `'><query xmlns='urn:xmpp:mam:2'/></iq>`)
	res = f.expect("a private MAM result", isMessage("bob%"+fakeHost+"@"+fakeDomain, aliceLaptop))
	if res.find("body").text != "psst" || res.find("message").attr("from") != "bob%"+fakeHost+"@"+fakeDomain {
		t.Fatalf("private MAM result: %s", res)
	}

	tests := []struct{ name, query, cond string }{
		{"unknown after-id", `<set xmlns='http://jabber.org/protocol/rsm'><after>nope</after></set>`, "item-not-found"},
		{"bad start", `<x xmlns='jabber:x:data' type='submit'><field var='start'><value>yesterday</value></field></x>`, "bad-request"},
		{"unknown field", `<x xmlns='jabber:x:data' type='submit'><field var='fulltext'><value>x</value></field></x>`, "bad-request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.send(`<iq type='set' id='e' from='` + aliceLaptop + `' to='` + roomJID + `'><query xmlns='urn:xmpp:mam:2'>` + tt.query + `</query></iq>`)
			e := f.expect("the error", func(e *el) bool { return e.name.Local == "iq" && e.attr("id") == "e" })
			if e.attr("type") != "error" || e.find(tt.cond) == nil {
				t.Fatalf("want %s: %s", tt.cond, e)
			}
		})
	}

	// No longer persistent: the last resource leaving parts the channel.
	if _, _, err := command(t, f.tr, aliceBare, cmdConfigureRoom, map[string]string{"room": roomJID}, map[string]string{"persistent": "0"}); err != nil {
		t.Fatal(err)
	}
	f.send(`<presence type='unavailable' from='` + aliceLaptop + `' to='` + roomJID + `/alice'/>`)
	f.expect("the laptop's unavailable presence", isPresence(roomJID+"/alice", aliceLaptop, "unavailable"))
}

func TestPersistentRoomsRejoinedAtStart(t *testing.T) {
	opt, st := withBouncer(t)
	f := newFake(t, opt)
	ctx := context.Background()
	if err := f.tr.updateSettings(ctx, aliceBare, func(s map[string]string, _ func(string, string) (string, error)) error {
		s[roomSettingKey("#chan%"+fakeHost, "persistent")] = "1"
		s[roomSettingKey("#chan%"+fakeHost, "nick")] = "alicebnc"
		s[netKey(fakeHost, "commands")] = "MODE alicebnc +i"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A new transport restored from the store, as xgate starts.
	reg, err := st.GetRegistration(ctx, "irc", aliceBare)
	if err != nil {
		t.Fatal(err)
	}
	f2 := newFake(t, opt)
	f2.tr.Restore(transports.Registration{User: reg.User, Settings: reg.Settings})
	f2.tr.rejoinPersistent()
	fc := f2.conn()
	if fc.s.wantNick != "alicebnc" {
		t.Fatalf("rejoined as %q, want the stored nick", fc.s.wantNick)
	}
	f2.register(fc, "alicebnc")
	if l := f2.line(); l != "MODE alicebnc +i" {
		t.Fatalf("the command after connecting: %q", l)
	}
	if l := f2.line(); l != "JOIN #chan" {
		t.Fatalf("rejoin: %q", l)
	}
	// Nobody is in the room, and nothing is sent to XMPP.
	f2.recv(fc, ":alicebnc!a@h JOIN #chan", ":srv 353 alicebnc = #chan :alicebnc @bob", ":srv 366 alicebnc #chan :End")
	f2.quiet(fc)
}

func TestConfigureNetwork(t *testing.T) {
	opt, st := withBouncer(t)
	f := newFake(t, opt)
	// The second form shows the current values.
	form, _, err := command(t, f.tr, aliceBare, cmdConfigureNetwork, map[string]string{"network": fakeHost})
	if err != nil || form == nil || form.Values["network"] != fakeHost || form.Values["tls"] != "0" {
		t.Fatalf("form: %+v %v", form, err)
	}
	_, note, err := command(t, f.tr, aliceBare, cmdConfigureNetwork, map[string]string{"network": fakeHost}, map[string]string{
		"nick": "al", "realname": "Alice A.", "sasl_account": "acct", "sasl_password": "s3cret-pw",
		"server_password": "srv-pw", "tls": "1", "port": "7000", "burst": "5", "interval": "3s",
		"autojoin": "#a\n#b key", "commands": "MODE al +x",
	})
	if err != nil || !strings.Contains(note, "Saved") {
		t.Fatalf("save: %q %v", note, err)
	}
	reg, err := st.GetRegistration(context.Background(), "irc", aliceBare)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range reg.Settings {
		if strings.Contains(v, "s3cret-pw") || strings.Contains(v, "srv-pw") || strings.Contains(v, "MODE al") {
			t.Errorf("a password is stored in clear: %s", k)
		}
	}
	n, _ := f.tr.network(fakeHost)
	eff := f.tr.netSettingsFor(aliceBare, fakeHost).apply(n)
	if eff.Plaintext || eff.Port != 7000 || eff.Realname != "Alice A." || eff.ServerPassword != "srv-pw" || eff.Burst != 5 || eff.Interval.String() != "3s" {
		t.Errorf("effective network: %+v", eff)
	}
	if acct, pass := (&user{t: f.tr, jid: aliceBare}).saslFor(fakeHost); acct != "acct" || pass != "s3cret-pw" {
		t.Errorf("sasl %q %q", acct, pass)
	}
	if got := f.tr.netSettingsFor(aliceBare, fakeHost).commands; len(got) != 1 || got[0] != "MODE al +x" {
		t.Errorf("commands %q", got)
	}
	if got := f.tr.persistentRooms()[aliceBare]; len(got) != 2 {
		t.Errorf("auto-join rooms %v", got)
	}

	bad := []struct{ field, value string }{
		{"port", "99999"}, {"interval", "soon"}, {"burst", "-1"}, {"autojoin", "nochannel"}, {"nick", "a b"},
	}
	for _, b := range bad {
		_, _, err := command(t, f.tr, aliceBare, cmdConfigureNetwork, map[string]string{"network": fakeHost}, map[string]string{b.field: b.value})
		var fe *transports.FieldError
		if !errors.As(err, &fe) || fe.Field != b.field {
			t.Errorf("%s=%q: want a field error, got %v", b.field, b.value, err)
		}
	}
	_, _, err = command(t, f.tr, aliceBare, cmdConfigureNetwork, map[string]string{"network": "elsewhere.example"})
	var fe *transports.FieldError
	if !errors.As(err, &fe) || fe.Field != "network" {
		t.Errorf("a network not configured: %v", err)
	}

	// Forgetting the passwords removes them.
	if _, _, err := command(t, f.tr, aliceBare, cmdConfigureNetwork, map[string]string{"network": fakeHost}, map[string]string{"forget_passwords": "1", "sasl_account": ""}); err != nil {
		t.Fatal(err)
	}
	if ns := f.tr.netSettingsFor(aliceBare, fakeHost); ns.saslPassword != "" || ns.serverPassword != "" {
		t.Errorf("passwords kept: %+v", ns)
	}
}

func TestTLSCannotBeTurnedOff(t *testing.T) {
	opt, _ := withBouncer(t)
	f := newFake(t, opt, func(c *Config) { c.Networks[0].Plaintext = false })
	_, _, err := command(t, f.tr, aliceBare, cmdConfigureNetwork, map[string]string{"network": fakeHost}, map[string]string{"tls": "0"})
	var fe *transports.FieldError
	if !errors.As(err, &fe) || fe.Field != "tls" {
		t.Fatalf("want a tls field error, got %v", err)
	}
}

func TestDisconnectAndConnections(t *testing.T) {
	opt, _ := withBouncer(t)
	f, fc := joined(t, opt)
	_, note, err := command(t, f.tr, "admin@example.org", cmdConnections)
	if err != nil || !strings.Contains(note, aliceBare+" → "+fakeHost+" as alice: connected, 1 rooms") {
		t.Fatalf("connections: %q %v", note, err)
	}
	form, _, err := command(t, f.tr, aliceBare, cmdDisconnect)
	if err != nil || form == nil || len(form.Fields[0].Options) != 1 || form.Fields[0].Options[0] != fakeHost {
		t.Fatalf("disconnect form: %+v %v", form, err)
	}
	if _, note, err := command(t, f.tr, aliceBare, cmdDisconnect, map[string]string{"network": fakeHost, "reason": "bye"}); err != nil || !strings.Contains(note, "Disconnected") {
		t.Fatalf("disconnect: %q %v", note, err)
	}
	p := f.expect("the 332 presence", isPresence(roomJID+"/alice", alicePhone, "unavailable"))
	if p.codes() != "110,332" || !strings.Contains(p.String(), "<status>bye</status>") {
		t.Fatalf("presence: %s", p)
	}
	f.flush(fc)
	if _, note, _ := command(t, f.tr, "admin@example.org", cmdConnections); note != "No IRC connection." {
		t.Fatalf("after the disconnection: %q", note)
	}
	if _, _, err := command(t, f.tr, "admin@example.org", cmdDisconnectUser, map[string]string{"user": aliceBare}); err == nil {
		t.Fatal("disconnecting a user without connections succeeded")
	}
	for _, c := range f.tr.Commands() {
		if admin := c.Node == cmdConnections || c.Node == cmdDisconnectUser; c.Admin != admin {
			t.Errorf("%s: admin %v", c.Node, c.Admin)
		}
	}
}

func TestUnregisterForgetsEverything(t *testing.T) {
	opt, st := withBouncer(t)
	f, fc := joined(t, opt)
	startArchive(t, f)
	f.recv(fc, ":bob!b@h PRIVMSG #chan :archived")
	f.expect("bob's line", isMessage(roomJID+"/bob", alicePhone))
	ctx := context.Background()
	if err := f.tr.archive.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	empty := ""
	q := store.ArchiveQuery{Transport: "irc", User: aliceBare, Conversation: strings.ToLower(roomJID), BeforeID: &empty}
	if page, err := st.QueryArchive(ctx, q); err != nil || len(page.Entries) != 1 {
		t.Fatalf("archive before unregistering: %d entries, %v", len(page.Entries), err)
	}
	if err := f.tr.updateSettings(ctx, aliceBare, func(s map[string]string, _ func(string, string) (string, error)) error {
		s[roomSettingKey("#chan%"+fakeHost, "persistent")] = "1"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.tr.Unregister(ctx, transports.Registration{User: aliceBare}); err != nil {
		t.Fatal(err)
	}
	f.expect("the 332 presence", isPresence(roomJID+"/alice", alicePhone, "unavailable"))
	page, err := st.QueryArchive(ctx, q)
	if err != nil || len(page.Entries) != 0 {
		t.Fatalf("archive after unregistering: %d entries, %v", len(page.Entries), err)
	}
	if rooms := f.tr.persistentRooms(); len(rooms) != 0 {
		t.Fatalf("persistent rooms kept: %v", rooms)
	}
}

func TestSASLExternalCertificate(t *testing.T) {
	opt, st := withBouncer(t)
	f := newFake(t, opt, func(c *Config) { c.Networks[0].Plaintext = false })
	cfgNet := map[string]string{"network": fakeHost}

	_, note, err := command(t, f.tr, aliceBare, cmdConfigureNetwork, cfgNet, map[string]string{"sasl_mechanism": "EXTERNAL"})
	if err != nil || !strings.Contains(note, "CERT ADD ") {
		t.Fatalf("EXTERNAL: %q %v", note, err)
	}
	fp := note[strings.Index(note, "CERT ADD ")+len("CERT ADD ") : strings.Index(note, ") before")]
	if len(fp) != 64 {
		t.Fatalf("fingerprint %q is not a SHA-256 in hex", fp)
	}
	reg, err := st.GetRegistration(context.Background(), "irc", aliceBare)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range reg.Settings {
		if strings.Contains(v, "PRIVATE KEY") {
			t.Errorf("the client key is stored in clear: %s", k)
		}
	}
	// The form shows the fingerprint; the session presents the certificate
	// and logs in with EXTERNAL.
	form, _, _ := command(t, f.tr, aliceBare, cmdConfigureNetwork, cfgNet)
	if form.Values["client_certificate"] != fp || form.Values["sasl_mechanism"] != "EXTERNAL" {
		t.Errorf("form values %v", form.Values)
	}
	s := newSession(&user{t: f.tr, jid: aliceBare}, fakeHost, fakeHost, f.tr.cfg.Networks[0].withDefaults(), "alice")
	mech, cert := s.sasl(true)
	if mech == nil || mech.Mech != "EXTERNAL" || cert == nil || certFingerprint(*cert) != fp {
		t.Fatalf("sasl: %v, certificate %v", mech, cert)
	}
	if _, cert := s.sasl(false); cert != nil {
		t.Error("a certificate offered without TLS")
	}

	// A new certificate on request; PLAIN keeps it for CertFP.
	_, note, err = command(t, f.tr, aliceBare, cmdConfigureNetwork, cfgNet, map[string]string{"sasl_mechanism": "PLAIN", "new_certificate": "1"})
	if err != nil || strings.Contains(note, fp) || !strings.Contains(note, "CERT ADD") {
		t.Fatalf("new certificate: %q %v", note, err)
	}
	if mech, cert := s.sasl(true); mech != nil || cert == nil {
		t.Fatalf("PLAIN without a password: mechanism %v, certificate %v", mech, cert)
	}

	// EXTERNAL over plaintext is refused.
	f2 := newFake(t, opt)
	_, _, err = command(t, f2.tr, aliceBare, cmdConfigureNetwork, cfgNet, map[string]string{"sasl_mechanism": "EXTERNAL"})
	var fe *transports.FieldError
	if !errors.As(err, &fe) || fe.Field != "sasl_mechanism" {
		t.Fatalf("EXTERNAL without TLS: %v", err)
	}
}

func TestArchiveRetention(t *testing.T) {
	opt, st := withBouncer(t)
	f := newFake(t, opt, func(c *Config) { c.ArchiveRetention = 24 * time.Hour })
	ctx := context.Background()
	conv := strings.ToLower(roomJID)
	old, fresh := time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)
	if err := st.AppendArchive(ctx, []store.ArchiveEntry{
		{ID: "old", Transport: "irc", User: aliceBare, Conversation: conv, With: roomJID + "/bob", Time: old, Payload: []byte("old")},
		{ID: "fresh", Transport: "irc", User: aliceBare, Conversation: conv, With: roomJID + "/bob", Time: fresh, Payload: []byte("fresh")},
	}); err != nil {
		t.Fatal(err)
	}
	f.tr.pruneArchive(ctx) // what the archive goroutine does every hour
	empty := ""
	page, err := st.QueryArchive(ctx, store.ArchiveQuery{Transport: "irc", User: aliceBare, Conversation: conv, BeforeID: &empty})
	if err != nil || len(page.Entries) != 1 || page.Entries[0].ID != "fresh" {
		t.Fatalf("after pruning: %+v %v", page.Entries, err)
	}
}

func TestPersistentRoomRemembersNick(t *testing.T) {
	opt, _ := withBouncer(t)
	f, fc := joined(t, opt)
	if _, _, err := command(t, f.tr, aliceBare, cmdConfigureRoom, map[string]string{"room": roomJID}, map[string]string{"persistent": "1"}); err != nil {
		t.Fatal(err)
	}
	key := "#chan%" + fakeHost
	if n := f.tr.roomSettingsFor(aliceBare, key).nick; n != "alice" {
		t.Fatalf("stored nick %q, want the session's", n)
	}
	f.recv(fc, ":alice!a@h NICK alice2")
	f.flush(fc)
	if n := f.tr.roomSettingsFor(aliceBare, key).nick; n != "alice2" {
		t.Fatalf("stored nick %q after NICK, want alice2", n)
	}
}

func TestCommandsOnNetworkAndRoom(t *testing.T) {
	f := newFake(t)
	tests := []struct {
		local string
		net   string
		room  string
	}{
		{fakeHost, fakeHost, ""},
		{"#chan%" + fakeHost, "", "#chan%" + fakeHost},
		{"#Chan%" + fakeHost, "", "#chan%" + fakeHost},
		{"bob%" + fakeHost, "", ""},
		{"elsewhere.example", "", ""},
	}
	for _, tt := range tests {
		v, ok := f.tr.networkContact(tt.local)
		if ok != (tt.net != "") || v["network"] != tt.net {
			t.Errorf("network command on %s: %v %v", tt.local, v, ok)
		}
		v, ok = f.tr.roomContact(tt.local)
		if ok != (tt.room != "") || v["room"] != tt.room {
			t.Errorf("room command on %s: %v %v", tt.local, v, ok)
		}
	}
	// The component runs them: the transport lets command IQs through.
	for _, iq := range []string{
		`<iq type='set' id='c' from='` + alicePhone + `' to='` + roomJID + `'><command xmlns='http://jabber.org/protocol/commands' node='irc-configure-room'/></iq>`,
		`<iq type='get' id='c' from='` + alicePhone + `' to='` + roomJID + `'><query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/></iq>`,
	} {
		if f.tr.HandleStanza(context.Background(), parseStanza(t, iq)) {
			t.Errorf("the transport took %s", iq)
		}
	}
}

func TestMentions(t *testing.T) {
	fold := (&session{casemap: "rfc1459"}).fold
	tests := []struct {
		body string
		want bool
	}{
		{"alice: ping", true},
		{"hey ALICE, look", true},
		{"ask Alice.", true},
		{"malice aforethought", false},
		{"alice_ is someone else", false},
		{"alice2", false},
		{"no one", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := mentions(tt.body, "alice", fold); got != tt.want {
			t.Errorf("mentions(%q) = %v, want %v", tt.body, got, tt.want)
		}
	}
}

func TestMentionWhileOffline(t *testing.T) {
	opt, _ := withBouncer(t)
	f, fc := joined(t, opt)
	startArchive(t, f)
	if _, _, err := command(t, f.tr, aliceBare, cmdConfigureRoom, map[string]string{"room": roomJID}, map[string]string{"persistent": "1"}); err != nil {
		t.Fatal(err)
	}
	// While a client is in the room, a mention is only the room line.
	f.recv(fc, ":bob!b@h PRIVMSG #chan :alice: here?")
	f.expect("the line", isMessage(roomJID+"/bob", alicePhone))
	f.quiet(fc)
	f.send(`<presence type='unavailable' from='` + alicePhone + `' to='` + roomJID + `/alice'/>`)
	f.expect("alice's unavailable presence", isPresence(roomJID+"/alice", alicePhone, "unavailable"))
	f.recv(fc, ":bob!b@h PRIVMSG #chan :nothing for her", ":bob!b@h PRIVMSG #chan :Alice, ping")
	m := f.expect("the mention", isMessage(roomJID, aliceBare))
	if m.attr("type") != "chat" || m.find("body").text != "bob mentioned you in #chan: Alice, ping" {
		t.Fatalf("mention: %s", m)
	}
	f.quiet(fc)
}
