package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkArchiveQueryRareWith measures the worst case of a `with` filter
// since schema v4 (no index on with_jid): the last page of a sender who said
// one line, the 11th, of 100,000 in one conversation, so that the whole
// conversation is scanned (in index order, testing with_key only).
func BenchmarkArchiveQueryRareWith(b *testing.B) {
	const lines = 100_000
	for _, be := range archiveBenchBackends(b) {
		b.Run(be.driver, func(b *testing.B) {
			s := be.open(b)
			a := s.(Archives)
			ctx := context.Background()
			conv := "#big%irc@irc.xgate.example"
			es := make([]ArchiveEntry, 0, 1000)
			for i := range lines {
				with := fmt.Sprintf("%s/nick%d", conv, i%10)
				if i == 10 {
					with = conv + "/rare"
				}
				es = append(es, ArchiveEntry{ID: fmt.Sprintf("q%d", i), Transport: "irc", User: "alice@example.org",
					Conversation: conv, With: with, Time: base.Add(time.Duration(i) * time.Millisecond),
					Payload: []byte(fmt.Sprintf("<message>line %d</message>", i))})
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
			q := ArchiveQuery{Transport: "irc", User: "alice@example.org", Conversation: conv, With: conv + "/rare",
				BeforeID: ptr(""), Max: 50}
			b.ReportAllocs()
			for b.Loop() {
				p, err := a.QueryArchive(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Entries) != 1 || p.Count != 1 || p.Entries[0].ID != "q10" {
					b.Fatalf("page %v, count %d; want q10, 1", ids(p.Entries), p.Count)
				}
			}
		})
	}
}
