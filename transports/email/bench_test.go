package email

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"xgate/store"
)

// BenchmarkDigestPipeline: 10,000 chats from 100 users to 1,000 recipients
// (10 per conversation) are buffered with Deliver in SQLite, then sealed into
// 1,000 digests and submitted to an in-process SMTP server. One op is the
// whole run; it reports the chats/s of buffering, the chats/s and digests/s
// of sealing plus submission, and the process's peak RSS.
//
//	go test -run '^$' -bench DigestPipeline -benchtime 1x ./transports/email/
func BenchmarkDigestPipeline(b *testing.B) {
	const (
		chats      = 10_000
		users      = 100
		recipients = 1_000
	)
	for b.Loop() {
		b.StopTimer()
		ctx, cancel := context.WithCancel(context.Background())
		st0, err := store.Open(ctx, store.DriverSQLite, filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		st := st0.(Store)
		r := startRelay(b)
		clock := &testClock{t: time.Now()}
		tr, err := New(Config{Domain: "mail.gw.test", Relay: r.addr, RelayTLS: TLSNone, Now: clock.Now,
			Defaults: Settings{MaxAge: 24 * time.Hour, MaxMessages: 1000}.WithQuiet(time.Hour)}, st)
		if err != nil {
			b.Fatal(err)
		}
		up := newFakeUplink()
		done := make(chan error, 1)
		go func() { done <- tr.Run(ctx, up) }()
		b.StartTimer()

		start := time.Now()
		for i := range chats {
			m := chat(fmt.Sprintf("user%d@example.org", i%users), fmt.Sprintf(`rcpt%d\40example.com`, i%recipients),
				fmt.Sprint("m", i), fmt.Sprintf("message number %d, with a few words of text in it", i))
			if err := tr.Deliver(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
		buffered := time.Since(start)

		start = time.Now()
		clock.Add(2 * time.Hour) // every conversation is due now
		tr.wake()
		for n := 0; n < recipients; n++ {
			select {
			case <-r.mail:
			case <-time.After(time.Minute):
				b.Fatalf("%d of %d digests submitted", n, recipients)
			}
		}
		sent := time.Since(start)

		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
		st.Close()
		b.ReportMetric(chats/buffered.Seconds(), "buffered-chats/s")
		b.ReportMetric(chats/sent.Seconds(), "sent-chats/s")
		b.ReportMetric(recipients/sent.Seconds(), "digests/s")
		var ru syscall.Rusage
		if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
			b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
		}
		b.StartTimer()
	}
}
