package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestArchiveUpgradeFromV3SQLite(t *testing.T)   { testArchiveUpgradeFromV3(t, sqliteBackend()) }
func TestArchiveUpgradeFromV3Postgres(t *testing.T) { testArchiveUpgradeFromV3(t, postgresBackend()) }

// testArchiveUpgradeFromV3 fills the v3 archive table (0003_archive.sql is
// frozen) and migrates to the newest version: lines, seqs, counts and
// deduplication carry over, and the seq goes on after v3's highest (even a
// deleted one).
func testArchiveUpgradeFromV3(t *testing.T, b testBackend) {
	t.Parallel()
	ctx := context.Background()
	dsn := b.newDSN(t)
	s, _ := b.openDSN(t, dsn, OpenOptions{NoMigrate: true})
	all := migrationsOf(t, s)
	setMigrations(t, s, all[:3])
	if from, to, err := s.Migrate(ctx); err != nil || from != 0 || to != 3 {
		t.Fatalf("Migrate to v3 = %d, %d, %v; want 0, 3", from, to, err)
	}
	// v3 rows: alice's room (bob and carol), alice's query with dave, bob's
	// copy of the room on two transports; then the newest line is deleted.
	type row struct{ transport, user, conv, id, with string }
	rows := []row{
		{"irc", "alice@x", "room@irc", "m0", "room@irc/bob"},
		{"irc", "alice@x", "room@irc", "m1", "room@irc/carol"},
		{"irc", "bob@x", "room@irc", "m1", "room@irc/carol"},
		{"irc", "alice@x", "dave@irc", "p0", "dave@irc"},
		{"irc", "alice@x", "room@irc", "m2", "room@irc/bob"},
		{"irc2", "bob@x", "room@irc", "m2", ""},
		{"irc", "alice@x", "room@irc", "gone", "room@irc/bob"},
	}
	w := s.(backend).writer()
	for i, r := range rows {
		var payload any
		if i%2 == 0 {
			payload = []byte("<message>" + r.id + "</message>")
		}
		if _, err := w.Exec(ctx, `INSERT INTO archive (transport, user_jid, conversation, stanza_id, with_jid, sent, payload)
VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.transport, r.user, r.conv, r.id, r.with, base.Add(time.Duration(i)*time.Second).UnixMilli(), payload); err != nil {
			t.Fatalf("v3 insert %d: %v", i, err)
		}
	}
	var lastSeq int64
	if err := w.QueryRow(ctx, `SELECT max(seq) FROM archive`).Scan(&lastSeq); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Exec(ctx, `DELETE FROM archive WHERE stanza_id = 'gone'`); err != nil {
		t.Fatal(err)
	}

	setMigrations(t, s, all)
	if from, to, err := s.Migrate(ctx); err != nil || from != 3 || to != len(all) {
		t.Fatalf("Migrate from v3 = %d, %d, %v; want 3, %d", from, to, err, len(all))
	}
	cur, _ := b.openDSN(t, dsn, OpenOptions{})
	a := cur.(Archives)

	alice := ArchiveQuery{Transport: "irc", User: "alice@x", Conversation: "room@irc"}
	p := mustQuery(t, a, alice)
	if !slices.Equal(ids(p.Entries), []string{"m0", "m1", "m2"}) || p.Count != 3 || !p.Complete {
		t.Fatalf("alice's room after upgrade: %v, count %d", ids(p.Entries), p.Count)
	}
	if e := p.Entries[0]; e.With != "room@irc/bob" || string(e.Payload) != "<message>m0</message>" || !e.Time.Equal(base) ||
		p.Entries[1].Payload != nil || p.Entries[0].Seq >= p.Entries[1].Seq {
		t.Errorf("migrated entries: %+v", p.Entries)
	}
	withBob := alice
	withBob.With = "room@irc/bob"
	if p := mustQuery(t, a, withBob); !slices.Equal(ids(p.Entries), []string{"m0", "m2"}) || p.Count != 2 {
		t.Errorf("with bob after upgrade: %v, count %d; want m0, m2, 2", ids(p.Entries), p.Count)
	}
	for _, q := range []ArchiveQuery{
		{Transport: "irc", User: "bob@x", Conversation: "room@irc"},
		{Transport: "irc2", User: "bob@x", Conversation: "room@irc"},
		{Transport: "irc", User: "alice@x", Conversation: "dave@irc"},
	} {
		if p := mustQuery(t, a, q); len(p.Entries) != 1 || p.Count != 1 {
			t.Errorf("%+v after upgrade: %v, count %d; want one line", q, ids(p.Entries), p.Count)
		}
	}
	// A replayed v3 id is skipped; a new line comes after v3's last seq.
	mustAppend(t, a,
		ArchiveEntry{ID: "m1", Transport: "irc", User: "alice@x", Conversation: "room@irc", Payload: []byte("replayed")},
		ArchiveEntry{ID: "m3", Transport: "irc", User: "alice@x", Conversation: "room@irc", With: "room@irc/bob"})
	p = mustQuery(t, a, alice)
	if !slices.Equal(ids(p.Entries), []string{"m0", "m1", "m2", "m3"}) || p.Count != 4 || p.Entries[1].Payload != nil {
		t.Fatalf("after appends: %v, count %d", ids(p.Entries), p.Count)
	}
	if seq := p.Entries[3].Seq; seq <= lastSeq {
		t.Errorf("new line seq %d; want after v3's last %d", seq, lastSeq)
	}
	if p := mustQuery(t, a, withBob); p.Count != 3 {
		t.Errorf("with bob count after append: %d; want 3", p.Count)
	}
	if n, err := a.DeleteArchive(ctx, "irc", "alice@x"); err != nil || n != 5 {
		t.Errorf("DeleteArchive = %d, %v; want 5", n, err)
	}
}

func TestArchiveCountsSQLite(t *testing.T)   { testArchiveCounts(t, sqliteBackend()) }
func TestArchiveCountsPostgres(t *testing.T) { testArchiveCounts(t, postgresBackend()) }

// testArchiveCounts checks the kept counts (conversation, with) against the
// lines through appends with duplicates, prune and delete; that a deleted
// user leaves no conversation or user row behind; and that the user can
// archive again afterwards (SQLite's id cache is reset).
func testArchiveCounts(t *testing.T, b testBackend) {
	t.Parallel()
	ctx := context.Background()
	s := b.open(t)
	a := s.(Archives)
	lines := archiveLines("m", 10) // bob the even lines, carol the odd; base+i s
	mustAppend(t, a, lines[:6]...)
	mustAppend(t, a, lines[4:]...) // m04, m05 again
	bobQ := room
	bobQ.With = "room@irc/bob"
	check := func(step string, total, bob int) {
		t.Helper()
		if p := mustQuery(t, a, room); p.Count != total || len(p.Entries) != total {
			t.Errorf("%s: count %d, %d entries; want %d", step, p.Count, len(p.Entries), total)
		}
		if p := mustQuery(t, a, bobQ); p.Count != bob || len(p.Entries) != bob {
			t.Errorf("%s: with bob count %d, %d entries; want %d", step, p.Count, len(p.Entries), bob)
		}
	}
	check("appended with duplicates", 10, 5)
	if n, err := a.PruneArchive(ctx, base.Add(3*time.Second)); err != nil || n != 3 {
		t.Fatalf("PruneArchive = %d, %v; want 3", n, err)
	}
	check("pruned", 7, 3)
	if n, err := a.PruneArchive(ctx, base.Add(time.Hour)); err != nil || n != 7 {
		t.Fatalf("PruneArchive all = %d, %v; want 7", n, err)
	}
	check("pruned all", 0, 0)
	mustAppend(t, a, lines[:2]...)
	check("appended after prune", 2, 1)

	if n, err := a.DeleteArchive(ctx, "irc", "alice@x"); err != nil || n != 2 {
		t.Fatalf("DeleteArchive = %d, %v; want 2", n, err)
	}
	var users, convs, withs int
	rd := s.(backend).reader()
	if err := rd.QueryRow(ctx, `SELECT (SELECT count(*) FROM archive_users), (SELECT count(*) FROM archive_convs),
(SELECT count(*) FROM archive_with_counts)`).Scan(&users, &convs, &withs); err != nil {
		t.Fatal(err)
	}
	if users != 0 || convs != 0 || withs != 0 {
		t.Errorf("after DeleteArchive: %d users, %d conversations, %d with counts; want none", users, convs, withs)
	}
	check("deleted", 0, 0)
	mustAppend(t, a, lines[:3]...)
	check("appended after delete", 3, 2)
}

func TestArchiveConcurrentStoresPostgres(t *testing.T) {
	t.Parallel()
	b := postgresBackend()
	dsn := b.newDSN(t)
	s1, _ := b.openDSN(t, dsn, OpenOptions{})
	s2, _ := b.openDSN(t, dsn, OpenOptions{})
	testArchiveConcurrent(t, s1.(Archives), s2.(Archives))
}

func TestArchiveConcurrentSQLite(t *testing.T) {
	t.Parallel()
	a := sqliteBackend().open(t).(Archives)
	testArchiveConcurrent(t, a, a)
}

// testArchiveConcurrent appends batches from several goroutines (two
// processes on PostgreSQL) to the same new users and conversations: no line
// is lost, none doubled, counts agree.
func testArchiveConcurrent(t *testing.T, a1, a2 Archives) {
	ctx := context.Background()
	const workers, batches, per = 4, 10, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		a := a1
		if g%2 == 1 {
			a = a2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for bn := range batches {
				var es []ArchiveEntry
				for i := range per {
					for _, u := range []string{"alice@x", "bob@x"} {
						es = append(es, ArchiveEntry{ID: fmt.Sprintf("g%d-%d-%d", g, bn, i), Transport: "irc", User: u,
							Conversation: fmt.Sprintf("room%d@irc", i%3), With: fmt.Sprintf("room@irc/n%d", i%2), Time: base})
					}
				}
				// Half of every batch again (idempotence under concurrency).
				if err := a.AppendArchive(ctx, es); err != nil {
					errs <- err
					return
				}
				if err := a.AppendArchive(ctx, es[:per]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, u := range []string{"alice@x", "bob@x"} {
		total := 0
		for c := range 3 {
			q := ArchiveQuery{Transport: "irc", User: u, Conversation: fmt.Sprintf("room%d@irc", c), Max: 1000}
			p := mustQuery(t, a1, q)
			if p.Count != len(p.Entries) {
				t.Errorf("%s room%d: count %d, %d entries", u, c, p.Count, len(p.Entries))
			}
			q.With = "room@irc/n0"
			pw := mustQuery(t, a1, q)
			n0 := 0
			for _, e := range p.Entries {
				if e.With == "room@irc/n0" {
					n0++
				}
			}
			if pw.Count != n0 || len(pw.Entries) != n0 {
				t.Errorf("%s room%d with n0: count %d, %d entries; want %d", u, c, pw.Count, len(pw.Entries), n0)
			}
			total += p.Count
		}
		if want := workers * batches * per; total != want {
			t.Errorf("%s: %d lines; want %d", u, total, want)
		}
	}
}

func TestArchiveWithKeysSQLite(t *testing.T)   { testArchiveWithKeys(t, sqliteBackend()) }
func TestArchiveWithKeysPostgres(t *testing.T) { testArchiveWithKeys(t, postgresBackend()) }

// testArchiveWithKeys checks `with` filters where with_key (length and last
// three characters) cannot tell the senders apart, and on short and
// non-ASCII JIDs.
func testArchiveWithKeys(t *testing.T, b testBackend) {
	t.Parallel()
	a := b.open(t).(Archives)
	withs := []string{"room@irc/abob", "room@irc/xbob", "", "a", "room@irc/zoë", "room@irc/Zoë", "room@irc/日本語"}
	var es []ArchiveEntry
	for i := range 3 * len(withs) {
		es = append(es, ArchiveEntry{ID: fmt.Sprintf("m%02d", i), Transport: "irc", User: "alice@x", Conversation: "room@irc",
			With: withs[i%len(withs)], Time: base.Add(time.Duration(i) * time.Second)})
	}
	mustAppend(t, a, es...)
	for i, w := range withs {
		want := []string{fmt.Sprintf("m%02d", i), fmt.Sprintf("m%02d", i+len(withs)), fmt.Sprintf("m%02d", i+2*len(withs))}
		q := room
		q.With = w
		if w == "" {
			// An empty With is no filter.
			if p := mustQuery(t, a, q); p.Count != len(es) {
				t.Errorf("with %q: count %d; want all %d", w, p.Count, len(es))
			}
			continue
		}
		if p := mustQuery(t, a, q); !slices.Equal(ids(p.Entries), want) || p.Count != 3 {
			t.Errorf("with %q: %v, count %d; want %v, 3", w, ids(p.Entries), p.Count, want)
		}
		q.Start = base.Add(time.Duration(len(withs)) * time.Second)
		if p := mustQuery(t, a, q); !slices.Equal(ids(p.Entries), want[1:]) || p.Count != 2 {
			t.Errorf("with %q from line %d: %v, count %d; want %v, 2", w, len(withs), ids(p.Entries), p.Count, want[1:])
		}
		q.Start, q.BeforeID, q.Max = time.Time{}, ptr(""), 1
		if p := mustQuery(t, a, q); !slices.Equal(ids(p.Entries), want[2:]) || p.Complete || p.Count != 3 {
			t.Errorf("with %q, last page of 1: %v, complete %v, count %d; want %v", w, ids(p.Entries), p.Complete, p.Count, want[2:])
		}
	}
}
