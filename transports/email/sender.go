package email

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"xgate/store"
	"xgate/transports"
)

// newSender is the worker that submits sealed digests (outbox transport
// DigestQueue): the durable send path, with the retry and give-up policy of
// transports.Worker.
func (t *Transport) newSender(up transports.Uplink) *transports.Worker {
	return &transports.Worker{
		Queue:     t.st.Outbox(),
		Transport: DigestQueue,
		QueueName: "outbox",
		Owner:     t.cfg.Owner,
		Handle:    t.sendDigest,
		OnGiveUp: func(ctx context.Context, it store.QueueItem, err error) {
			t.digestFailed(ctx, up, it, err)
		},
		RetryMin:    t.cfg.RetryMin,
		RetryMax:    t.cfg.RetryMax,
		Concurrency: 4,
		Lease:       max(5*time.Minute, 3*t.cfg.Timeout),
		Poll:        5 * time.Second,
		Logger:      t.log.With("queue", "digests"),
		Now:         t.now,
	}
}

func decodeSealed(b []byte) (sealedDigest, error) {
	var d sealedDigest
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("email: decode digest: %w", err)
	}
	return d, nil
}

// sendDigest submits one digest.
func (t *Transport) sendDigest(ctx context.Context, it store.QueueItem) error {
	d, err := decodeSealed(it.Payload)
	if err != nil {
		return transports.Permanent("internal-server-error", "the email could not be read back", err)
	}
	err = classify(d.To, t.submit(ctx, d.From, d.To, d.Raw))
	if err != nil {
		t.log.Debug("digest not sent", "user", d.User, "to", d.To, "err", err)
		return err
	}
	t.log.Info("digest sent", "user", d.User, "to", d.To, "messages", len(d.Messages), "message_id", d.MessageID)
	return nil
}

// digestFailed tells the user about every message of a digest that will not
// be sent.
func (t *Transport) digestFailed(ctx context.Context, up transports.Uplink, it store.QueueItem, err error) {
	d, derr := decodeSealed(it.Payload)
	if derr != nil {
		t.log.Error("a digest failed and cannot be read back", "err", derr)
		return
	}
	t.log.Warn("digest failed", "user", d.User, "to", d.To, "err", err)
	for _, m := range d.Messages {
		if ferr := up.Fail(ctx, m, err); ferr != nil {
			t.log.Warn("could not tell the user about a failed email", "user", d.User, "err", ferr)
		}
	}
}
