package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestArchiveSQLite(t *testing.T)   { runArchiveSuite(t, sqliteBackend()) }
func TestArchivePostgres(t *testing.T) { runArchiveSuite(t, postgresBackend()) }

func runArchiveSuite(t *testing.T, b testBackend) {
	tests := []struct {
		name string
		run  func(*testing.T, Archives)
	}{
		{"Paging", testArchivePaging},
		{"Filters", testArchiveFilters},
		{"UnknownIDs", testArchiveUnknownIDs},
		{"Idempotent", testArchiveIdempotent},
		{"Prune", testArchivePrune},
		{"Delete", testArchiveDelete},
		{"Isolation", testArchiveIsolation},
		{"Writer", testArchiveWriterOnStore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := b.open(t)
			a, ok := s.(Archives)
			if !ok {
				t.Fatalf("%T does not implement Archives", s)
			}
			tc.run(t, a)
		})
	}
}

// archiveLines returns n entries of alice in room@irc, ids prefix00.., one
// second apart from base, alternately said by bob and carol.
func archiveLines(prefix string, n int) []ArchiveEntry {
	var es []ArchiveEntry
	for i := range n {
		with := "room@irc/bob"
		if i%2 == 1 {
			with = "room@irc/carol"
		}
		es = append(es, ArchiveEntry{ID: fmt.Sprintf("%s%02d", prefix, i), Transport: "irc", User: "alice@x",
			Conversation: "room@irc", With: with, Time: base.Add(time.Duration(i) * time.Second),
			Payload: []byte(fmt.Sprintf("<message>%s %d</message>", prefix, i))})
	}
	return es
}

func mustAppend(t *testing.T, a Archives, es ...ArchiveEntry) {
	t.Helper()
	if err := a.AppendArchive(context.Background(), es); err != nil {
		t.Fatalf("AppendArchive(%d entries): %v", len(es), err)
	}
}

func mustQuery(t *testing.T, a Archives, q ArchiveQuery) ArchivePage {
	t.Helper()
	p, err := a.QueryArchive(context.Background(), q)
	if err != nil {
		t.Fatalf("QueryArchive(%+v): %v", q, err)
	}
	return p
}

func ids(es []ArchiveEntry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func idRange(prefix string, from, to int) []string {
	out := []string{}
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%02d", prefix, i))
	}
	return out
}

func ptr(s string) *string { return &s }

// room is the query of alice's copy of room@irc.
var room = ArchiveQuery{Transport: "irc", User: "alice@x", Conversation: "room@irc"}

func testArchivePaging(t *testing.T, a Archives) {
	lines := archiveLines("m", 25)
	// Other conversations and users interleaved, so that seqs have gaps.
	for i, e := range lines {
		other := e
		other.ID, other.Conversation = fmt.Sprintf("o%02d", i), "other@irc"
		bob := e
		bob.User = "bob@x"
		mustAppend(t, a, e, other, bob)
	}

	got := mustQuery(t, a, room)
	if !slices.Equal(ids(got.Entries), idRange("m", 0, 25)) || !got.Complete || got.Count != 25 {
		t.Fatalf("whole archive = %v, complete %v, count %d; want m00..m24, true, 25", ids(got.Entries), got.Complete, got.Count)
	}
	for i, e := range got.Entries {
		w := lines[i]
		w.Seq = e.Seq
		if !e.Time.Equal(w.Time) || e.Transport != w.Transport || e.User != w.User || e.Conversation != w.Conversation ||
			e.With != w.With || string(e.Payload) != string(w.Payload) || e.ID != w.ID {
			t.Errorf("entry %d = %+v; want %+v", i, e, w)
		}
		if i > 0 && e.Seq <= got.Entries[i-1].Seq {
			t.Errorf("entry %d: seq %d not after %d", i, e.Seq, got.Entries[i-1].Seq)
		}
	}

	steps := []struct {
		name     string
		after    string
		before   *string
		want     []string
		complete bool
	}{
		{"first page", "", nil, idRange("m", 0, 10), false},
		{"second page", "m09", nil, idRange("m", 10, 20), false},
		{"third page", "m19", nil, idRange("m", 20, 25), true},
		{"after the last", "m24", nil, []string{}, true},
		{"last page", "", ptr(""), idRange("m", 15, 25), false},
		{"page before it", "", ptr("m15"), idRange("m", 5, 15), false},
		{"first page backwards", "", ptr("m05"), idRange("m", 0, 5), true},
		{"before the first", "", ptr("m00"), []string{}, true},
		{"between after and before", "m03", ptr("m20"), idRange("m", 10, 20), false},
		{"between, all of it", "m03", ptr("m08"), idRange("m", 4, 8), true},
	}
	for _, st := range steps {
		q := room
		q.AfterID, q.BeforeID, q.Max = st.after, st.before, 10
		p := mustQuery(t, a, q)
		if !slices.Equal(ids(p.Entries), st.want) || p.Complete != st.complete || p.Count != 25 {
			t.Errorf("%s: %v, complete %v, count %d; want %v, %v, 25", st.name, ids(p.Entries), p.Complete, p.Count, st.want, st.complete)
		}
	}

	// Max: default 100, capped at 1000.
	big := make([]ArchiveEntry, 1100)
	for i := range big {
		big[i] = ArchiveEntry{ID: fmt.Sprintf("b%04d", i), Transport: "irc", User: "alice@x", Conversation: "big@irc", Time: base}
	}
	mustAppend(t, a, big...)
	for _, tc := range []struct{ max, want int }{{0, 100}, {-1, 100}, {7, 7}, {1000, 1000}, {5000, 1000}} {
		p := mustQuery(t, a, ArchiveQuery{Transport: "irc", User: "alice@x", Conversation: "big@irc", Max: tc.max})
		if len(p.Entries) != tc.want || p.Complete || p.Count != 1100 || p.Entries[0].ID != "b0000" {
			t.Errorf("Max %d: %d entries, complete %v, count %d; want %d, false, 1100", tc.max, len(p.Entries), p.Complete, p.Count, tc.want)
		}
	}
}

func testArchiveFilters(t *testing.T, a Archives) {
	mustAppend(t, a, archiveLines("m", 20)...)
	bob := func(from, to int) []string { // bob said the even lines
		out := []string{}
		for i := from; i < to; i += 2 {
			out = append(out, fmt.Sprintf("m%02d", i))
		}
		return out
	}
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	tests := []struct {
		name     string
		q        ArchiveQuery
		want     []string
		complete bool
		count    int
	}{
		{"with", ArchiveQuery{With: "room@irc/bob", Max: 4}, bob(0, 8), false, 10},
		{"with, next page", ArchiveQuery{With: "room@irc/bob", Max: 4, AfterID: "m06"}, bob(8, 16), false, 10},
		{"with, after an id of another sender", ArchiveQuery{With: "room@irc/bob", Max: 4, AfterID: "m07"}, bob(8, 16), false, 10},
		{"with, last page", ArchiveQuery{With: "room@irc/bob", Max: 4, BeforeID: ptr("")}, bob(12, 20), false, 10},
		{"with, first page backwards", ArchiveQuery{With: "room@irc/bob", Max: 4, BeforeID: ptr("m04")}, bob(0, 4), true, 10},
		{"with nobody", ArchiveQuery{With: "room@irc/dave"}, []string{}, true, 0},
		{"start and end inclusive", ArchiveQuery{Start: at(5), End: at(9)}, idRange("m", 5, 10), true, 5},
		{"start only", ArchiveQuery{Start: at(17)}, idRange("m", 17, 20), true, 3},
		{"end only, paged", ArchiveQuery{End: at(3), Max: 2}, idRange("m", 0, 2), false, 4},
		{"end only, last page", ArchiveQuery{End: at(3), Max: 2, BeforeID: ptr("")}, idRange("m", 2, 4), false, 4},
		{"start within a millisecond", ArchiveQuery{Start: at(5).Add(time.Millisecond), End: at(7)}, idRange("m", 6, 8), true, 2},
		{"with and time", ArchiveQuery{With: "room@irc/carol", Start: at(4), End: at(12)}, []string{"m05", "m07", "m09", "m11"}, true, 4},
		{"time and after", ArchiveQuery{Start: at(4), End: at(12), AfterID: "m10"}, idRange("m", 11, 13), true, 9},
		{"empty range", ArchiveQuery{Start: at(9), End: at(5)}, []string{}, true, 0},
	}
	for _, tc := range tests {
		q := tc.q
		q.Transport, q.User, q.Conversation = room.Transport, room.User, room.Conversation
		p := mustQuery(t, a, q)
		if !slices.Equal(ids(p.Entries), tc.want) || p.Complete != tc.complete || p.Count != tc.count {
			t.Errorf("%s: %v, complete %v, count %d; want %v, %v, %d", tc.name, ids(p.Entries), p.Complete, p.Count,
				tc.want, tc.complete, tc.count)
		}
	}
}

func testArchiveUnknownIDs(t *testing.T, a Archives) {
	ctx := context.Background()
	mustAppend(t, a, archiveLines("m", 3)...)
	mustAppend(t, a, ArchiveEntry{ID: "elsewhere", Transport: "irc", User: "alice@x", Conversation: "other@irc"})
	tests := []struct {
		name string
		q    ArchiveQuery
	}{
		{"after", ArchiveQuery{AfterID: "nope"}},
		{"before", ArchiveQuery{BeforeID: ptr("nope")}},
		{"after an id of another conversation", ArchiveQuery{AfterID: "elsewhere"}},
		{"before, with a known after", ArchiveQuery{AfterID: "m00", BeforeID: ptr("nope")}},
	}
	for _, tc := range tests {
		q := tc.q
		q.Transport, q.User, q.Conversation = room.Transport, room.User, room.Conversation
		if p, err := a.QueryArchive(ctx, q); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %+v, %v; want ErrNotFound", tc.name, p, err)
		}
	}
	// An unknown conversation is an empty archive, not an error.
	p, err := a.QueryArchive(ctx, ArchiveQuery{Transport: "irc", User: "alice@x", Conversation: "nobody@irc"})
	if err != nil || len(p.Entries) != 0 || !p.Complete || p.Count != 0 {
		t.Errorf("empty conversation: %+v, %v; want empty and complete", p, err)
	}
	if _, err := a.QueryArchive(ctx, ArchiveQuery{Transport: "irc", User: "alice@x"}); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("query without conversation: %v; want an error other than ErrNotFound", err)
	}
}

func testArchiveIdempotent(t *testing.T, a Archives) {
	ctx := context.Background()
	e := archiveLines("m", 5)
	mustAppend(t, a, e[0], e[1])
	replay := e[1]
	replay.Payload = []byte("replayed")
	mustAppend(t, a, replay, e[2])
	dup := e[3]
	dup.Payload = []byte("second copy in the batch")
	mustAppend(t, a, e[3], dup)
	mustAppend(t, a) // nothing: no error

	bad := e[4]
	bad.Conversation = ""
	if err := a.AppendArchive(ctx, []ArchiveEntry{e[4], bad}); err == nil {
		t.Error("append with an empty conversation: no error")
	}
	p := mustQuery(t, a, room)
	if !slices.Equal(ids(p.Entries), idRange("m", 0, 4)) || p.Count != 4 {
		t.Fatalf("archive = %v, count %d; want m00..m03 (e4's batch refused)", ids(p.Entries), p.Count)
	}
	for i, got := range p.Entries {
		if string(got.Payload) != string(e[i].Payload) {
			t.Errorf("%s: payload %q; want the first copy %q", got.ID, got.Payload, e[i].Payload)
		}
	}
	// A zero time is stored as now.
	before := time.Now().Add(-time.Second)
	mustAppend(t, a, ArchiveEntry{ID: "now", Transport: "irc", User: "alice@x", Conversation: "room@irc"})
	q := room
	q.BeforeID, q.Max = ptr(""), 1
	if p := mustQuery(t, a, q); len(p.Entries) != 1 || p.Entries[0].ID != "now" || p.Entries[0].Time.Before(before) {
		t.Errorf("entry without time: %+v; want the last, stamped now", p.Entries)
	}
}

func testArchivePrune(t *testing.T, a Archives) {
	ctx := context.Background()
	// More old lines than one delete chunk, in two conversations and users,
	// written in one statement (AppendArchive of thousands of lines is slow
	// under the race detector).
	nOld := archiveDeleteChunk + 3
	_, err := a.(backend).writer().Exec(ctx, fmt.Sprintf(`WITH RECURSIVE n (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
INSERT INTO archive (transport, user_jid, conversation, stanza_id, with_jid, sent, payload)
SELECT 'irc', CASE WHEN i %% 3 = 0 THEN 'bob@x' ELSE 'alice@x' END, CASE WHEN i %% 3 = 0 THEN 'bob-room@irc' ELSE 'room@irc' END,
    'old' || i, '', %d - i, NULL FROM n`, nOld-1, base.Add(-time.Hour).UnixMilli()))
	if err != nil {
		t.Fatalf("insert old lines: %v", err)
	}
	mustAppend(t, a, archiveLines("m", 3)...) // base, base+1s, base+2s
	n, err := a.PruneArchive(ctx, base.Add(time.Second))
	if err != nil || n != int64(nOld)+1 {
		t.Fatalf("PruneArchive = %d, %v; want %d", n, err, nOld+1)
	}
	if p := mustQuery(t, a, room); !slices.Equal(ids(p.Entries), []string{"m01", "m02"}) || p.Count != 2 {
		t.Errorf("after prune: %v; want m01, m02", ids(p.Entries))
	}
	if n, err := a.PruneArchive(ctx, base.Add(time.Second)); err != nil || n != 0 {
		t.Errorf("PruneArchive again = %d, %v; want 0", n, err)
	}
	// A pruned id can be stored again, and an old anchor is gone.
	mustAppend(t, a, ArchiveEntry{ID: "m00", Transport: "irc", User: "alice@x", Conversation: "room@irc", Time: base.Add(time.Hour)})
	q := room
	q.AfterID = "m01"
	if p := mustQuery(t, a, q); !slices.Equal(ids(p.Entries), []string{"m02", "m00"}) {
		t.Errorf("after re-adding m00: %v; want m02, m00 (seq order)", ids(p.Entries))
	}
	q.AfterID = "old1"
	if _, err := a.QueryArchive(ctx, q); !errors.Is(err, ErrNotFound) {
		t.Errorf("after a pruned id: %v; want ErrNotFound", err)
	}
}

func testArchiveDelete(t *testing.T, a Archives) {
	ctx := context.Background()
	mustAppend(t, a, archiveLines("m", 4)...)
	mustAppend(t, a,
		ArchiveEntry{ID: "p1", Transport: "irc", User: "alice@x", Conversation: "bob@irc", With: "bob@irc"},
		ArchiveEntry{ID: "p1", Transport: "irc", User: "bob@x", Conversation: "alice@irc", With: "alice@irc"},
		ArchiveEntry{ID: "p1", Transport: "sms", User: "alice@x", Conversation: "+1555@sms"},
	)
	n, err := a.DeleteArchive(ctx, "irc", "alice@x")
	if err != nil || n != 5 {
		t.Fatalf("DeleteArchive = %d, %v; want 5", n, err)
	}
	if p := mustQuery(t, a, room); len(p.Entries) != 0 || p.Count != 0 {
		t.Errorf("alice's room after delete: %v", ids(p.Entries))
	}
	for _, q := range []ArchiveQuery{
		{Transport: "irc", User: "bob@x", Conversation: "alice@irc"},
		{Transport: "sms", User: "alice@x", Conversation: "+1555@sms"},
	} {
		if p := mustQuery(t, a, q); !slices.Equal(ids(p.Entries), []string{"p1"}) {
			t.Errorf("%s/%s after alice's irc delete: %v; want p1 kept", q.Transport, q.User, ids(p.Entries))
		}
	}
	if n, err := a.DeleteArchive(ctx, "irc", "alice@x"); err != nil || n != 0 {
		t.Errorf("DeleteArchive again = %d, %v; want 0", n, err)
	}
}

func testArchiveIsolation(t *testing.T, a Archives) {
	// The same id and conversation in several users' and transports' copies.
	copies := []ArchiveEntry{
		{ID: "x", Transport: "irc", User: "alice@x", Conversation: "room@irc", Payload: []byte("alice irc")},
		{ID: "x", Transport: "irc", User: "bob@x", Conversation: "room@irc", Payload: []byte("bob irc")},
		{ID: "x", Transport: "irc2", User: "alice@x", Conversation: "room@irc", Payload: []byte("alice irc2")},
		{ID: "y", Transport: "irc", User: "alice@x", Conversation: "room2@irc", Payload: []byte("alice room2")},
	}
	mustAppend(t, a, copies...)
	for _, c := range copies {
		p := mustQuery(t, a, ArchiveQuery{Transport: c.Transport, User: c.User, Conversation: c.Conversation})
		if len(p.Entries) != 1 || p.Count != 1 || string(p.Entries[0].Payload) != string(c.Payload) {
			t.Errorf("%s/%s/%s: %+v; want only %q", c.Transport, c.User, c.Conversation, p.Entries, c.Payload)
		}
	}
}

// testArchiveWriterOnStore runs an ArchiveWriter on the backend: a query after
// Flush sees every line added before it, in order.
func testArchiveWriterOnStore(t *testing.T, a Archives) {
	ctx, cancel := context.WithCancel(context.Background())
	w := NewArchiveWriter(a, ArchiveWriterOptions{MaxBatch: 100})
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	lines := archiveLines("w", 250)
	for _, e := range lines {
		if err := w.Add(ctx, e); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	q := room
	q.Max = 1000
	if p := mustQuery(t, a, q); !slices.Equal(ids(p.Entries), ids(lines)) {
		t.Errorf("after Flush: %d entries; want the 250 added, in order", len(p.Entries))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
