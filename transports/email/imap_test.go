package email

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// memIMAP is an in-memory IMAP server with one account (catch@gw.test /
// pass) holding INBOX and Done.
type memIMAP struct {
	addr string
	user *imapmemserver.User
}

func startIMAP(t *testing.T) *memIMAP {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("catch@gw.test", "pass")
	for _, mb := range []string{"INBOX", "Done"} {
		if err := u.Create(mb, nil); err != nil {
			t.Fatal(err)
		}
	}
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
		Logger:       discardLogger{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &memIMAP{addr: ln.Addr().String(), user: u}
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

type literal struct {
	*bytes.Reader
}

func (m *memIMAP) append(t *testing.T, mailbox, raw string) {
	t.Helper()
	raw = strings.ReplaceAll(raw, "\n", "\r\n")
	if _, err := m.user.Append(mailbox, literal{bytes.NewReader([]byte(raw))}, &imap.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
}

// flags returns the flags of every message of mailbox, by UID.
func (m *memIMAP) flags(t *testing.T, mailbox string) map[imap.UID][]imap.Flag {
	t.Helper()
	c, err := imapclient.DialInsecure(m.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("catch@gw.test", "pass").Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	out := map[imap.UID][]imap.Flag{}
	if sel.NumMessages == 0 {
		return out
	}
	var all imap.SeqSet
	all.AddRange(1, sel.NumMessages)
	msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		out[m.UID] = m.Flags
	}
	return out
}

func imapMail(to, id, body string) string {
	return fmt.Sprintf("From: Bob <bob@example.com>\nTo: %s\nSubject: hi\nMessage-ID: <%s>\nContent-Type: text/plain\n\n%s\n", to, id, body)
}

// imapRun runs a transport watching srv (with done as its done mailbox)
// until the returned stop is called.
func imapRun(t *testing.T, st Store, srv *memIMAP, done string, up *fakeUplink) (*Transport, func()) {
	t.Helper()
	tr := newTransport(t, st, Config{Relay: "127.0.0.1:1", RelayTLS: TLSNone,
		IMAP:     IMAPConfig{Addr: srv.addr, TLS: TLSNone, Username: "catch@gw.test", Password: "pass", DoneMailbox: done},
		Defaults: Settings{Senders: SendersAnyone}})
	// imapmemserver does not report mail that arrived between the last
	// command and IDLE (Dovecot does, see integration/email_imap_test.go):
	// look again soon.
	tr.imapRescan = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- tr.Run(ctx, up) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return tr, stop
}

func waitReceived(t *testing.T, up *fakeUplink, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if got, _ := up.snapshot(); len(got) >= n {
			return
		}
		select {
		case <-up.changed:
		case <-deadline:
			got, _ := up.snapshot()
			t.Fatalf("received %d messages, want %d: %+v", len(got), n, got)
		}
	}
}

// waitState polls the stored last UID until it is want.
func waitLastUID(t *testing.T, tr *Transport, want imap.UID) {
	t.Helper()
	_, kl := tr.imapStateKeys()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, _ := tr.st.GetState(context.Background(), Name, kl)
		if v == strconv.Itoa(int(want)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("last uid = %q, want %d", v, want)
		}
		time.Sleep(10 * time.Millisecond) // polling a store value with a deadline
	}
}

// TestIMAP: mail waiting in the catch-all and mail arriving during IDLE reach
// the uplink and are flagged \Seen after; mail for nobody is flagged and
// skipped; a restart delivers nothing again; a UIDVALIDITY change rescans the
// unseen mail only.
func TestIMAP(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	srv := startIMAP(t)
	up := newFakeUplink()
	tr0 := newTransport(t, st, Config{Relay: "127.0.0.1:1"})
	route, err := tr0.routeAddress(ctx, "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}

	srv.append(t, "INBOX", imapMail(route, "m1@example.com", "waiting before start"))
	srv.append(t, "INBOX", imapMail("nobody@elsewhere.test", "m2@example.com", "not for us"))
	tr, stop := imapRun(t, st, srv, "", up)
	waitReceived(t, up, 1)
	waitLastUID(t, tr, 2)
	srv.append(t, "INBOX", imapMail(`"Alice" <`+route+`>`, "m3@example.com", "arrived while idling"))
	waitReceived(t, up, 2)
	waitLastUID(t, tr, 3)

	got, _ := up.snapshot()
	if got[0].To != "alice@example.org" || got[0].From != `bob\40example.com@mail.gw.test` || got[0].Body != "waiting before start" ||
		got[1].Body != "arrived while idling" || got[0].RemoteID != "email:alice@example.org:m1@example.com" {
		t.Errorf("received %+v", got)
	}
	for uid, fl := range srv.flags(t, "INBOX") {
		if !hasFlag(fl, imap.FlagSeen) {
			t.Errorf("uid %d not flagged \\Seen: %v", uid, fl)
		}
	}

	// Restart: nothing is handed over again.
	stop()
	tr, stop = imapRun(t, st, srv, "", up)
	srv.append(t, "INBOX", imapMail(route, "m4@example.com", "after restart"))
	waitReceived(t, up, 3)
	waitLastUID(t, tr, 4)
	stop()
	up.mu.Lock()
	calls := up.receives
	up.mu.Unlock()
	if calls != 3 {
		t.Errorf("Receive called %d times for 3 mails; want each once", calls)
	}

	// UIDVALIDITY change: only the unseen mail is scanned (m5), and nothing
	// already delivered is delivered twice.
	kv, kl := tr.imapStateKeys()
	if err := st.PutState(ctx, Name, kv, "12345"); err != nil {
		t.Fatal(err)
	}
	srv.append(t, "INBOX", imapMail(route, "m5@example.com", "after uidvalidity change"))
	tr, _ = imapRun(t, st, srv, "", up)
	waitReceived(t, up, 4)
	waitLastUID(t, tr, 5)
	if v, _ := st.GetState(ctx, Name, kl); v != "5" {
		t.Errorf("last uid %q", v)
	}
	up.mu.Lock()
	calls = up.receives
	up.mu.Unlock()
	if calls != 4 {
		t.Errorf("Receive called %d times for 4 mails after a rescan", calls)
	}
}

// TestIMAPDoneMailbox: handled mail is moved to the done mailbox.
func TestIMAPDoneMailbox(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	srv := startIMAP(t)
	up := newFakeUplink()
	tr0 := newTransport(t, st, Config{Relay: "127.0.0.1:1"})
	route, err := tr0.routeAddress(ctx, "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	srv.append(t, "INBOX", imapMail(route, "d1@example.com", "move me"))
	tr, _ := imapRun(t, st, srv, "Done", up)
	waitReceived(t, up, 1)
	waitLastUID(t, tr, 1)
	if n := len(srv.flags(t, "INBOX")); n != 0 {
		t.Errorf("INBOX still holds %d messages", n)
	}
	if n := len(srv.flags(t, "Done")); n != 1 {
		t.Errorf("Done holds %d messages, want 1", n)
	}
}

func hasFlag(fl []imap.Flag, f imap.Flag) bool {
	for _, x := range fl {
		if x == f {
			return true
		}
	}
	return false
}

var _ io.Reader = literal{}
