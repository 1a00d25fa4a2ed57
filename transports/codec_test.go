package transports

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"xgate/store"
)

func TestMessageCodecRoundTrip(t *testing.T) {
	cases := []Message{
		{},
		{ID: "a1", OriginID: "o1", From: "alice@example.org/phone", To: "+15551234567@sms.example.org",
			Type: "chat", Body: "héllo\n<&>", Subject: "s", Thread: "t", OOB: []string{"https://x/y.png"},
			WantReceipt: true, RemoteID: "SM123", Stamp: time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)},
	}
	for _, m := range cases {
		b, err := EncodeMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Stamp.Equal(m.Stamp) {
			t.Errorf("stamp %v, want %v", got.Stamp, m.Stamp)
		}
		got.Stamp, m.Stamp = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip: got %+v, want %+v", got, m)
		}
	}
}

func TestDecodeMessage(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    Message
		wantErr bool
	}{
		{name: "unknown fields are ignored", in: `{"id":"x","from":"a@b","to":"c@d","future":1}`,
			want: Message{ID: "x", From: "a@b", To: "c@d"}},
		{name: "garbage", in: `not json`, wantErr: true},
		{name: "wrong type", in: `{"oob":"x"}`, wantErr: true},
		{name: "empty", in: ``, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeMessage([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tc.wantErr)
			}
			if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add([]byte(`{"id":"x","from":"a@b/c","to":"d@e","body":"hi","stamp":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"oob":["u"],"want_receipt":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			return
		}
		if _, err := EncodeMessage(m); err != nil && m.Stamp.Year() >= 0 && m.Stamp.Year() <= 9999 {
			t.Fatalf("decoded message does not encode: %v", err)
		}
	})
}

func TestOrderKey(t *testing.T) {
	cases := []struct {
		m    Message
		want string
	}{
		{Message{From: "alice@example.org/phone", To: "+1555@sms.example.org"}, "alice@example.org +1555@sms.example.org"},
		{Message{From: "alice@example.org/a/b", To: "bob@mail.example.org"}, "alice@example.org bob@mail.example.org"},
		{Message{From: "alice@example.org", To: "x@h/r"}, "alice@example.org x@h"},
	}
	for _, tc := range cases {
		if got := OrderKey(tc.m); got != tc.want {
			t.Errorf("OrderKey(%+v) = %q, want %q", tc.m, got, tc.want)
		}
	}
}

type fakeTransport struct {
	got  []Message
	err  error
	rate time.Duration
}

func (f *fakeTransport) Name() string                            { return "fake" }
func (f *fakeTransport) Identity() Identity                      { return Identity{Category: "gateway", Type: "x"} }
func (f *fakeTransport) Run(ctx context.Context, _ Uplink) error { <-ctx.Done(); return nil }
func (f *fakeTransport) Deliver(_ context.Context, m Message) error {
	f.got = append(f.got, m)
	return f.err
}
func (f *fakeTransport) RateKey(m Message) (string, time.Duration) { return bare(m.From), f.rate }

func TestDeliverAndRateKeyFuncs(t *testing.T) {
	m := Message{ID: "1", From: "alice@example.org/x", To: "bob@gw", Body: "hi"}
	payload, err := EncodeMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	ft := &fakeTransport{err: errors.New("down"), rate: time.Second}
	deliver := DeliverFunc(ft)
	if err := deliver(context.Background(), store.QueueItem{Payload: payload}); err == nil || !IsTemporary(err) {
		t.Errorf("deliver error = %v, want the transport's temporary error", err)
	}
	if len(ft.got) != 1 || ft.got[0].Body != "hi" {
		t.Errorf("transport got %+v", ft.got)
	}
	err = deliver(context.Background(), store.QueueItem{Payload: []byte("{broken")})
	if cond, _ := ErrorOf(err); IsTemporary(err) || cond != "internal-server-error" {
		t.Errorf("unreadable payload: %v (%s), want permanent internal-server-error", err, cond)
	}
	rk := RateKeyFunc(ft)
	if key, iv := rk(store.QueueItem{Payload: payload}); key != "alice@example.org" || iv != time.Second {
		t.Errorf("rate key = %q %v", key, iv)
	}
	if key, _ := rk(store.QueueItem{Payload: []byte("x")}); key != "" {
		t.Errorf("unreadable payload paced by %q", key)
	}
}
