package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDigestsSQLite(t *testing.T)   { runDigestSuite(t, sqliteBackend()) }
func TestDigestsPostgres(t *testing.T) { runDigestSuite(t, postgresBackend()) }

func runDigestSuite(t *testing.T, b testBackend) {
	tests := []struct {
		name string
		run  func(*testing.T, Store, Digests)
	}{
		{"BufferAndSeal", testDigestSeal},
		{"Routes", testRoutes},
		{"State", testState},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := b.open(t)
			d, ok := s.(Digests)
			if !ok {
				t.Fatalf("%T does not implement Digests", s)
			}
			tc.run(t, s, d)
		})
	}
}

func testDigestSeal(t *testing.T, s Store, d Digests) {
	ctx := context.Background()
	add := func(user, peer, dedup, payload string, at time.Time) bool {
		t.Helper()
		ins, err := d.AppendDigest(ctx, DigestEntry{Transport: "email", User: user, Peer: peer, Dedup: dedup,
			Payload: []byte(payload), Created: at})
		if err != nil {
			t.Fatalf("AppendDigest: %v", err)
		}
		return ins
	}
	for i, p := range []string{"one", "two", "three"} {
		if !add("alice@x", "bob", "a"+p, p, base.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("append %s: not inserted", p)
		}
	}
	if add("alice@x", "bob", "aone", "dup", base) {
		t.Error("append with a buffered dedup key: inserted, want not")
	}
	add("carol@x", "bob", "", "c1", base)
	if _, err := d.AppendDigest(ctx, DigestEntry{Transport: "email", User: "alice@x"}); err == nil {
		t.Error("append without peer: no error")
	}

	groups, err := d.DigestGroups(ctx, "email")
	if err != nil || len(groups) != 2 {
		t.Fatalf("DigestGroups = %+v, %v; want 2 groups", groups, err)
	}
	g := groups[0]
	if g.User != "alice@x" || g.Peer != "bob" || g.Count != 3 || !g.Oldest.Equal(base) || !g.Newest.Equal(base.Add(2*time.Second)) {
		t.Errorf("group = %+v; want alice/bob, 3 entries, oldest base, newest base+2s", g)
	}
	if other, _ := d.DigestGroups(ctx, "sms"); len(other) != 0 {
		t.Errorf("groups of another transport: %+v", other)
	}

	es, err := d.DigestEntries(ctx, "email", "alice@x", "bob", 2)
	if err != nil || len(es) != 2 || string(es[0].Payload) != "one" || string(es[1].Payload) != "two" {
		t.Fatalf("DigestEntries(limit 2) = %+v, %v; want one, two", es, err)
	}
	item := QueueItem{Transport: "email-digest", Key: "alice@x bob", RemoteID: "<m1@x>", Payload: []byte("digest"), NextAttempt: base}
	id, err := d.SealDigest(ctx, "email", "alice@x", "bob", []int64{es[0].ID, es[1].ID}, item)
	if err != nil || id == 0 {
		t.Fatalf("SealDigest = %d, %v", id, err)
	}
	rest, _ := d.DigestEntries(ctx, "email", "alice@x", "bob", 10)
	if len(rest) != 1 || string(rest[0].Payload) != "three" {
		t.Errorf("after seal: %+v; want only three", rest)
	}
	claimed, err := s.Outbox().Claim(ctx, "email-digest", "w", base, time.Minute, 10)
	if err != nil || len(claimed) != 1 || string(claimed[0].Payload) != "digest" || claimed[0].RemoteID != "<m1@x>" {
		t.Errorf("outbox after seal = %+v, %v; want the digest", claimed, err)
	}
	// Sealing entries that are gone changes nothing.
	item.RemoteID = "<m2@x>"
	if _, err := d.SealDigest(ctx, "email", "alice@x", "bob", []int64{es[0].ID, rest[0].ID}, item); !errors.Is(err, ErrDigestChanged) {
		t.Errorf("seal of sealed entries: %v; want ErrDigestChanged", err)
	}
	if again, _ := d.DigestEntries(ctx, "email", "alice@x", "bob", 10); len(again) != 1 {
		t.Errorf("a failed seal removed entries: %+v", again)
	}
	if n, _ := s.Outbox().Depth(ctx, "email-digest"); n != 1 {
		t.Errorf("a failed seal enqueued: depth %d, want 1", n)
	}
	// A sealed entry's dedup key is free again (the entry is gone).
	if !add("alice@x", "bob", "aone", "one again", base) {
		t.Error("append after seal with an old dedup key: not inserted")
	}
}

func testRoutes(t *testing.T, _ Store, d Digests) {
	ctx := context.Background()
	tok, err := d.RouteToken(ctx, "email", "alice@x", "tok1")
	if err != nil || tok != "tok1" {
		t.Fatalf("RouteToken first = %q, %v; want tok1", tok, err)
	}
	if tok, _ := d.RouteToken(ctx, "email", "alice@x", "tok2"); tok != "tok1" {
		t.Errorf("RouteToken again = %q; want the stored tok1", tok)
	}
	if u, err := d.RouteUser(ctx, "email", "tok1"); err != nil || u != "alice@x" {
		t.Errorf("RouteUser = %q, %v", u, err)
	}
	if _, err := d.RouteUser(ctx, "email", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RouteUser of an unknown token: %v; want ErrNotFound", err)
	}
	if _, err := d.RouteToken(ctx, "email", "bob@x", "tok1"); err == nil {
		t.Error("a second user with the same token: no error")
	}
}

func testState(t *testing.T, _ Store, d Digests) {
	ctx := context.Background()
	if _, err := d.GetState(ctx, "email", "imap"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetState of nothing: %v", err)
	}
	for _, v := range []string{"1:10", "1:11"} {
		if err := d.PutState(ctx, "email", "imap", v); err != nil {
			t.Fatal(err)
		}
		if got, err := d.GetState(ctx, "email", "imap"); err != nil || got != v {
			t.Errorf("GetState = %q, %v; want %q", got, err, v)
		}
	}
}
