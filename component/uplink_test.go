package component

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"xgate/store"
	"xgate/transports"
)

func TestReceive(t *testing.T) {
	tg := newTestGateway(t, newFakeTransport(), nil)
	ctx := context.Background()
	in := transports.Message{From: "+1555@sms.example.org", To: "alice@example.org", Body: "hi", RemoteID: "SM1"}
	ok, err := tg.Receive(ctx, in)
	if err != nil || !ok {
		t.Fatalf("Receive = %v, %v", ok, err)
	}
	ok, err = tg.Receive(ctx, in) // the network retried its webhook
	if err != nil || ok {
		t.Fatalf("duplicate Receive = %v, %v; want false, nil", ok, err)
	}
	items := tg.st.inbox.all()
	if len(items) != 1 {
		t.Fatalf("%d inbox items, want 1", len(items))
	}
	it := items[0]
	if it.Transport != "sms" || it.Key != "+1555@sms.example.org alice@example.org" || it.RemoteID != "SM1" || !it.Deadline.IsZero() {
		t.Errorf("item %+v", it)
	}
	m, _ := transports.DecodeMessage(it.Payload)
	if m.ID != "id1" || !m.Stamp.Equal(testNow) || m.Body != "hi" {
		t.Errorf("stored message %+v", m)
	}

	for _, bad := range []transports.Message{
		{From: "+1555@irc.example.org", To: "alice@example.org"}, // another domain
		{From: "sms.example.org", To: "alice@example.org"},       // no contact
		{From: "+1555@sms.example.org", To: "a@b@c"},
	} {
		if _, err := tg.Receive(ctx, bad); err == nil {
			t.Errorf("Receive(%+v) accepted", bad)
		}
	}
	tg.st.inbox.fail = errStoreDown
	if _, err := tg.Receive(ctx, transports.Message{From: "+1@sms.example.org", To: "alice@example.org"}); !errors.Is(err, errStoreDown) {
		t.Errorf("Receive with the store down: %v", err)
	}
}

func TestDeliverInbound(t *testing.T) {
	tests := []struct {
		name string
		m    transports.Message
		want string
	}{
		{
			name: "fresh",
			m: transports.Message{ID: "in1", From: "+1555@sms.example.org", To: "alice@example.org", Body: "hello & <bye>",
				Subject: "s", Thread: "th", OOB: []string{"https://example.org/p.jpg"}, Stamp: testNow.Add(-time.Second)},
			want: `<message from='+1555@sms.example.org' id='in1' to='alice@example.org' type='chat'><subject>s</subject>` +
				`<body>hello &amp; &lt;bye&gt;</body><thread>th</thread><x xmlns='jabber:x:oob'><url>https://example.org/p.jpg</url></x>` +
				`<stanza-id xmlns='urn:xmpp:sid:0' by='sms.example.org' id='in1'/><markable xmlns='urn:xmpp:chat-markers:0'/></message>`,
		},
		{
			name: "late: delayed",
			m:    transports.Message{ID: "in2", From: "+1555@sms.example.org", To: "alice@example.org/phone", Type: "normal", Body: "old", Stamp: testNow.Add(-time.Hour)},
			want: `<message from='+1555@sms.example.org' id='in2' to='alice@example.org/phone' type='normal'><body>old</body>` +
				`<stanza-id xmlns='urn:xmpp:sid:0' by='sms.example.org' id='in2'/>` +
				`<delay xmlns='urn:xmpp:delay' from='sms.example.org' stamp='2025-03-01T11:00:00.000Z'/><markable xmlns='urn:xmpp:chat-markers:0'/></message>`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTestGateway(t, newFakeTransport(), nil)
			payload, _ := transports.EncodeMessage(tc.m)
			if err := tg.deliverInbound(context.Background(), store.QueueItem{Payload: payload}); err != nil {
				t.Fatal(err)
			}
			check(t, tg.rec.take(), []string{tc.want})
		})
	}
}

func TestDeliverInboundErrors(t *testing.T) {
	tg := newTestGateway(t, newFakeTransport(), nil)
	payload, _ := transports.EncodeMessage(transports.Message{ID: "x", From: "+1@sms.example.org", To: "alice@example.org", Body: "b"})
	tg.rec.sendErr = transports.ErrStreamDown
	err := tg.deliverInbound(context.Background(), store.QueueItem{Payload: payload})
	if err == nil || !transports.IsTemporary(err) {
		t.Errorf("stream down: %v, want a temporary error", err)
	}
	tg.rec.sendErr = nil
	if got := tg.rec.take(); len(got) != 0 {
		t.Errorf("sent %v", got)
	}

	// The stream comes back while the attempt waits: delivered.
	tg.rec.sendErr = transports.ErrStreamDown
	tg.waitUp = func(context.Context) error {
		tg.rec.mu.Lock()
		tg.rec.sendErr = nil
		tg.rec.mu.Unlock()
		return nil
	}
	if err := tg.deliverInbound(context.Background(), store.QueueItem{Payload: payload}); err != nil {
		t.Errorf("stream back up: %v", err)
	}
	if got := tg.rec.take(); len(got) != 1 {
		t.Errorf("sent %d stanzas, want 1", len(got))
	}

	err = tg.deliverInbound(context.Background(), store.QueueItem{Payload: []byte("{not json")})
	if err == nil || transports.IsTemporary(err) {
		t.Errorf("bad payload: %v, want a permanent error", err)
	}
	bad, _ := transports.EncodeMessage(transports.Message{From: "@@", To: "alice@example.org"})
	if err := tg.deliverInbound(context.Background(), store.QueueItem{Payload: bad}); err == nil || transports.IsTemporary(err) {
		t.Errorf("bad address: %v, want a permanent error", err)
	}
	if got := tg.rec.take(); len(got) != 0 {
		t.Errorf("sent %v", got)
	}
}

// deliverQueued delivers every inbox item queued so far, as the inbox worker
// would, and empties the fake inbox.
func deliverQueued(t *testing.T, tg *testGateway) {
	t.Helper()
	items, err := tg.st.inbox.Claim(context.Background(), tg.t.Name(), "test", time.Now().Add(time.Hour), time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if err := tg.deliverInbound(context.Background(), it); err != nil {
			t.Fatalf("deliver queued item %d: %v", it.ID, err)
		}
		_ = tg.st.inbox.Complete(context.Background(), it.ID)
	}
}

func TestReceiptAndFail(t *testing.T) {
	tg := newTestGateway(t, newFakeTransport(), nil)
	ctx := context.Background()
	out := transports.Message{ID: "m1", From: alice, To: "+1555@sms.example.org", Type: "chat", Body: "hi", WantReceipt: true}

	// Notices are queued even while the stream is down.
	tg.rec.sendErr = transports.ErrStreamDown
	if err := tg.Receipt(ctx, out); err != nil {
		t.Fatal(err)
	}
	if err := tg.Receipt(ctx, out); err != nil { // a repeated status callback
		t.Fatal(err)
	}
	noReceipt := out
	noReceipt.WantReceipt = false
	if err := tg.Receipt(ctx, noReceipt); err != nil {
		t.Fatal(err)
	}
	tg.rec.sendErr = nil
	deliverQueued(t, tg)
	check(t, tg.rec.take(), []string{
		`<message from='+1555@sms.example.org' id='r-m1' to='alice@example.org/phone' type='chat'><received xmlns='urn:xmpp:receipts' id='m1'/></message>`,
	})

	for i, tc := range []struct {
		err  error
		want string
	}{
		{transports.Permanent("item-not-found", "+1555 is not a mobile number", nil), errElem("cancel", "item-not-found", "+1555 is not a mobile number")},
		{transports.Temporary("the SMS provider did not answer", errors.New("503")), errElem("wait", "remote-server-timeout", "the SMS provider did not answer")},
		{errors.New("secret details"), errElem("cancel", "undefined-condition", "the message could not be delivered")},
		{transports.Permanent("made-up", "odd", nil), errElem("cancel", "undefined-condition", "odd")},
	} {
		failed := out
		failed.ID = fmt.Sprintf("m1-%d", i)
		if err := tg.Fail(ctx, failed, tc.err); err != nil {
			t.Fatal(err)
		}
		deliverQueued(t, tg)
		check(t, tg.rec.take(), []string{`<message from='+1555@sms.example.org' id='` + failed.ID + `' to='alice@example.org/phone' type='error'>` + tc.want + `</message>`})
	}
}
