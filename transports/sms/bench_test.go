package sms

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"xgate/integration/harness"
	"xgate/store"
	"xgate/transports"
)

// BenchmarkOutboxToTwilio measures the outbound path with the rate limit
// lifted: messages accepted into the durable outbox (SQLite), then delivered
// by the outbox worker through Deliver (registration lookup, idempotency
// check, twilio-go CreateMessage against the stand-in, SID pairing).
// It reports accepted/s and delivered/s.
func BenchmarkOutboxToTwilio(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchOutbox(b, "") })
	b.Run("postgres", func(b *testing.B) {
		if _, err := exec.LookPath("/usr/lib/postgresql/15/bin/initdb"); err != nil && os.Getenv(harness.PostgresDSNEnv) == "" {
			harness.Missing(b, "PostgreSQL (initdb)")
		}
		benchOutbox(b, harness.StartPostgres(b))
	})
}

func benchOutbox(b *testing.B, pgDSN string) {
	e := newEnvOn(b, pgDSN, func(c *Config) { c.Rate = 1e6 })
	ctx := context.Background()
	q := e.st.Outbox()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		m := msg(fmt.Sprintf("b%d", i), fmt.Sprintf("+1555000%04d", 5000+i%16), fmt.Sprintf("bench %d", i))
		payload, _ := transports.EncodeMessage(m)
		now := time.Now()
		if _, _, err := q.Enqueue(ctx, store.QueueItem{Transport: Name, Key: transports.OrderKey(m), Payload: payload, NextAttempt: now, Created: now}); err != nil {
			b.Fatal(err)
		}
	}
	accepted := time.Since(start)
	w := &transports.Worker{Queue: q, Transport: Name, QueueName: "outbox", Owner: "bench",
		Handle: transports.DeliverFunc(e.t), RateKey: transports.RateKeyFunc(e.t), Concurrency: 8, Poll: 10 * time.Millisecond}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	dstart := time.Now()
	go func() { done <- w.Run(wctx) }()
	e.tw.WaitMessages(b, 5*time.Minute, func(ms []harness.TwilioMessage) (bool, string) {
		return len(ms) >= b.N, fmt.Sprintf("%d of %d delivered", len(ms), b.N)
	})
	delivered := time.Since(dstart)
	cancel()
	<-done
	b.StopTimer()
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")
	b.ReportMetric(float64(b.N)/delivered.Seconds(), "delivered/s")
}
