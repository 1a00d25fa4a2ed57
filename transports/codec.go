package transports

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"xgate/store"
)

// EncodeMessage is the queue payload of m: its JSON form (see Message).
func EncodeMessage(m Message) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("transports: encode message: %w", err)
	}
	return b, nil
}

// DecodeMessage reads a queue payload written by EncodeMessage, by this or an
// older or newer xgate: unknown fields are ignored.
func DecodeMessage(b []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return Message{}, fmt.Errorf("transports: decode message: %w", err)
	}
	return m, nil
}

// OrderKey is the outbox ordering key of an outbound message: the sender's and
// the recipient's bare JIDs, so messages from one user to one contact are
// delivered in the order they were sent, and others in parallel.
func OrderKey(m Message) string {
	return bare(m.From) + " " + bare(m.To)
}

// bare strips the resource from a JID (the first '/' starts it: neither the
// localpart nor the domainpart may contain one).
func bare(j string) string {
	b, _, _ := strings.Cut(j, "/")
	return b
}

// DeliverFunc adapts a transport to Worker.Handle for its outbox: it decodes
// the payload and calls t.Deliver. A payload that cannot be decoded can never
// be delivered, so it fails permanently.
func DeliverFunc(t Transport) func(ctx context.Context, it store.QueueItem) error {
	return func(ctx context.Context, it store.QueueItem) error {
		m, err := DecodeMessage(it.Payload)
		if err != nil {
			return Permanent("internal-server-error", "the queued message is unreadable", err)
		}
		return t.Deliver(ctx, m)
	}
}

// RateKeyFunc adapts a transport's RateKeyer to Worker.RateKey. An unreadable
// payload is not paced (it fails at once in DeliverFunc).
func RateKeyFunc(rk RateKeyer) func(it store.QueueItem) (string, time.Duration) {
	return func(it store.QueueItem) (string, time.Duration) {
		m, err := DecodeMessage(it.Payload)
		if err != nil {
			return "", 0
		}
		return rk.RateKey(m)
	}
}
