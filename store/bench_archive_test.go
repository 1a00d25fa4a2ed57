package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"xgate/integration/harness"
)

// archiveBenchBackends returns SQLite as in production (WAL,
// synchronous=NORMAL) and PostgreSQL on a private cluster with fsync and
// synchronous_commit on (see BenchmarkOutboxEnqueueClaimComplete).
func archiveBenchBackends(b *testing.B) []testBackend {
	durable := &harness.Postgres{Durable: true}
	b.Cleanup(func() {
		if err := durable.Close(); err != nil {
			b.Error(err)
		}
	})
	pg := postgresBackend()
	pg.newDSN = func(t testing.TB) string { return durable.NewDatabase(t) }
	return []testBackend{sqliteBackend(), pg}
}

// benchEntries returns n distinct entries spread over 20 users and 10
// conversations each, with a 300-byte payload (a typical groupchat stanza).
func benchEntries(prefix string, n int) []ArchiveEntry {
	payload := make([]byte, 300)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	es := make([]ArchiveEntry, n)
	for i := range es {
		conv := fmt.Sprintf("#chan%d%%irc.example.org@irc.xgate.example", i%10)
		es[i] = ArchiveEntry{
			ID: fmt.Sprintf("%s-%d", prefix, i), Transport: "irc",
			User: fmt.Sprintf("user%d@example.org", (i/10)%20), Conversation: conv,
			With: fmt.Sprintf("%s/nick%d", conv, i%7), Time: base.Add(time.Duration(i) * time.Millisecond), Payload: payload,
		}
	}
	return es
}

// BenchmarkArchiveAppend measures AppendArchive with batches of 500 entries
// (what an ArchiveWriter commits under load). entries/s counts entries.
func BenchmarkArchiveAppend(b *testing.B) {
	for _, be := range archiveBenchBackends(b) {
		b.Run(be.driver, func(b *testing.B) {
			a := be.open(b).(Archives)
			ctx := context.Background()
			es := benchEntries("a", b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < len(es); i += 500 {
				if err := a.AppendArchive(ctx, es[i:min(i+500, len(es))]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkArchiveWriter measures an ArchiveWriter with default options end
// to end: b.N Adds from 4 goroutines (as several connections would), then
// Flush. entries/s counts entries committed.
func BenchmarkArchiveWriter(b *testing.B) {
	for _, be := range archiveBenchBackends(b) {
		b.Run(be.driver, func(b *testing.B) {
			a := be.open(b).(Archives)
			ctx, cancel := context.WithCancel(context.Background())
			w := NewArchiveWriter(a, ArchiveWriterOptions{})
			done := make(chan error, 1)
			go func() { done <- w.Run(ctx) }()
			es := benchEntries("w", b.N)
			b.ReportAllocs()
			b.ResetTimer()
			errs := make(chan error, 4)
			for g := range 4 {
				go func() {
					for i := g; i < len(es); i += 4 {
						if err := w.Add(ctx, es[i]); err != nil {
							errs <- err
							return
						}
					}
					errs <- nil
				}()
			}
			for range 4 {
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkArchiveQuery measures QueryArchive (count included) on one
// conversation of 100,000 lines said by 10 senders: the last page of 50 (a
// MAM query without <after/>, or join history), a page of 50 after an id in
// the middle, and the last page of 50 of one sender (a `with` filter). On
// PostgreSQL the table is vacuumed and analysed first, as autovacuum would
// have done on a live archive (without statistics, PostgreSQL plans the
// `with` page as a bitmap scan of the whole conversation).
func BenchmarkArchiveQuery(b *testing.B) {
	const lines = 100_000
	for _, be := range archiveBenchBackends(b) {
		b.Run(be.driver, func(b *testing.B) {
			s := be.open(b)
			a := s.(Archives)
			ctx := context.Background()
			es := make([]ArchiveEntry, 0, 1000)
			for i := range lines {
				es = append(es, ArchiveEntry{ID: fmt.Sprintf("q%d", i), Transport: "irc", User: "alice@example.org",
					Conversation: "#big%irc@irc.xgate.example", With: fmt.Sprintf("#big%%irc@irc.xgate.example/nick%d", i%10),
					Time: base.Add(time.Duration(i) * time.Millisecond), Payload: []byte(fmt.Sprintf("<message>line %d</message>", i))})
				if len(es) == cap(es) {
					if err := a.AppendArchive(ctx, es); err != nil {
						b.Fatal(err)
					}
					es = es[:0]
				}
			}
			if p, ok := s.(*Postgres); ok {
				if _, err := p.pool.Exec(ctx, "VACUUM ANALYZE archive_lines, archive_convs, archive_with_counts"); err != nil {
					b.Fatal(err)
				}
			}
			q := ArchiveQuery{Transport: "irc", User: "alice@example.org", Conversation: "#big%irc@irc.xgate.example", Max: 50}
			last, middle, with := q, q, q
			last.BeforeID = ptr("")
			middle.AfterID = fmt.Sprintf("q%d", lines/2)
			with.BeforeID, with.With = ptr(""), "#big%irc@irc.xgate.example/nick3"
			for _, c := range []struct {
				name  string
				q     ArchiveQuery
				count int
			}{
				{"last-page-50", last, lines},
				{"after-middle-50", middle, lines},
				{"with-last-page-50", with, lines / 10},
			} {
				b.Run(c.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						p, err := a.QueryArchive(ctx, c.q)
						if err != nil {
							b.Fatal(err)
						}
						if len(p.Entries) != 50 || p.Count != c.count {
							b.Fatalf("page of %d entries, count %d; want 50, %d", len(p.Entries), p.Count, c.count)
						}
					}
				})
			}
		})
	}
}
