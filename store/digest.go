package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DigestEntry is one message waiting in a digest buffer: transports that
// batch (email digests) collect a conversation's messages here and send them
// as one.
type DigestEntry struct {
	ID        int64
	Transport string
	User      string // bare JID
	Peer      string // contact localpart
	// Dedup, when not empty, makes AppendDigest idempotent: a second entry
	// with the same Dedup for the transport is not stored while the first is
	// buffered.
	Dedup   string
	Payload []byte
	Created time.Time
}

// DigestGroup summarises the buffer of one (Transport, User, Peer).
type DigestGroup struct {
	Transport, User, Peer string
	Count                 int
	Oldest, Newest        time.Time // Created of the oldest and newest entry
}

// ErrDigestChanged is returned by SealDigest when the entries it was asked to
// seal are no longer all buffered (another process sealed them first).
var ErrDigestChanged = errors.New("store: digest entries changed")

// Digests is the digest buffer, the opaque routing tokens and a small
// per-transport key/value state. Both backends implement it; a Store from Open
// can be asserted to it.
type Digests interface {
	// AppendDigest buffers e. inserted is false when an entry with the same
	// non-empty Dedup is already buffered.
	AppendDigest(ctx context.Context, e DigestEntry) (inserted bool, err error)
	// DigestGroups lists the non-empty buffers of transport.
	DigestGroups(ctx context.Context, transport string) ([]DigestGroup, error)
	// DigestEntries returns up to limit entries of one buffer, oldest first.
	DigestEntries(ctx context.Context, transport, user, peer string, limit int) ([]DigestEntry, error)
	// SealDigest, in one transaction, removes the entries ids (which must be
	// the oldest entries of the buffer (transport, user, peer), as
	// DigestEntries returned them) and enqueues it in the outbox. If any of the
	// entries is gone it changes nothing and returns ErrDigestChanged. So a
	// digest is either still buffered or queued for sending, never both and
	// never neither.
	SealDigest(ctx context.Context, transport, user, peer string, ids []int64, it QueueItem) (id int64, err error)

	// RouteToken returns user's token on transport, storing candidate as it
	// when the user has none yet.
	RouteToken(ctx context.Context, transport, user, candidate string) (string, error)
	// RouteUser returns the user a token belongs to, or ErrNotFound.
	RouteUser(ctx context.Context, transport, token string) (string, error)

	// GetState returns a stored value, or ErrNotFound.
	GetState(ctx context.Context, transport, name string) (string, error)
	// PutState stores a value.
	PutState(ctx context.Context, transport, name, value string) error
}

var (
	_ Digests = (*SQLite)(nil)
	_ Digests = (*Postgres)(nil)
)

func (c common) AppendDigest(ctx context.Context, e DigestEntry) (bool, error) {
	if e.Transport == "" || e.User == "" || e.Peer == "" {
		return false, errors.New("store: append digest: transport, user and peer must not be empty")
	}
	n, err := c.b.writer().Exec(ctx, `INSERT INTO digest_entries (transport, user_jid, peer, dedup, payload, created)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (transport, dedup) WHERE dedup <> '' DO NOTHING`,
		e.Transport, e.User, e.Peer, e.Dedup, e.Payload, ms(nowOr(e.Created)))
	if err != nil {
		return false, fmt.Errorf("store: append digest: %w", err)
	}
	return n > 0, nil
}

func (c common) DigestGroups(ctx context.Context, transport string) ([]DigestGroup, error) {
	rs, err := c.b.reader().Query(ctx, `SELECT user_jid, peer, count(*), min(created), max(created)
FROM digest_entries WHERE transport = $1 GROUP BY user_jid, peer ORDER BY min(id)`, transport)
	if err != nil {
		return nil, fmt.Errorf("store: digest groups: %w", err)
	}
	defer rs.Close()
	var out []DigestGroup
	for rs.Next() {
		g := DigestGroup{Transport: transport}
		var oldest, newest int64
		if err := rs.Scan(&g.User, &g.Peer, &g.Count, &oldest, &newest); err != nil {
			return nil, fmt.Errorf("store: digest groups: %w", err)
		}
		g.Oldest, g.Newest = fromMS(oldest), fromMS(newest)
		out = append(out, g)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: digest groups: %w", err)
	}
	return out, nil
}

func (c common) DigestEntries(ctx context.Context, transport, user, peer string, limit int) ([]DigestEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	rs, err := c.b.reader().Query(ctx, `SELECT id, dedup, payload, created FROM digest_entries
WHERE transport = $1 AND user_jid = $2 AND peer = $3 ORDER BY id LIMIT $4`, transport, user, peer, limit)
	if err != nil {
		return nil, fmt.Errorf("store: digest entries: %w", err)
	}
	defer rs.Close()
	var out []DigestEntry
	for rs.Next() {
		e := DigestEntry{Transport: transport, User: user, Peer: peer}
		var created int64
		if err := rs.Scan(&e.ID, &e.Dedup, &e.Payload, &created); err != nil {
			return nil, fmt.Errorf("store: digest entries: %w", err)
		}
		e.Created = fromMS(created)
		out = append(out, e)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: digest entries: %w", err)
	}
	return out, nil
}

// sealDigest is SealDigest's transaction; enqueue inserts it into the outbox
// within the same transaction and returns its id.
func sealDigest(ctx context.Context, q querier, transport, user, peer string, ids []int64,
	enqueue func(q querier) (int64, error)) (int64, error) {
	if len(ids) == 0 {
		return 0, errors.New("no entries")
	}
	var id int64
	for _, eid := range ids {
		n, err := q.Exec(ctx, `DELETE FROM digest_entries WHERE id = $1 AND transport = $2 AND user_jid = $3 AND peer = $4`,
			eid, transport, user, peer)
		if err != nil {
			return 0, err
		}
		if n != 1 {
			return 0, ErrDigestChanged
		}
	}
	id, err := enqueue(q)
	if err == ErrNotFound {
		return 0, errors.New("outbox item with this remote id exists already")
	}
	return id, err
}

func (s *SQLite) SealDigest(ctx context.Context, transport, user, peer string, ids []int64, it QueueItem) (int64, error) {
	var id int64
	err := s.inTx(ctx, func(q querier) error {
		var err error
		id, err = sealDigest(ctx, q, transport, user, peer, ids, func(q querier) (int64, error) {
			var id int64
			err := q.QueryRow(ctx, s.outbox.sql.enqueue, enqueueArgs(it)...).Scan(&id)
			return id, err
		})
		return err
	})
	if err != nil {
		return 0, wrapSeal(err)
	}
	return id, nil
}

func (p *Postgres) SealDigest(ctx context.Context, transport, user, peer string, ids []int64, it QueueItem) (int64, error) {
	var id int64
	err := p.inTx(ctx, func(q querier) error {
		var err error
		id, err = sealDigest(ctx, q, transport, user, peer, ids, func(q querier) (int64, error) {
			// The same advisory lock as Enqueue: head flags stay consistent.
			_, err := q.Exec(ctx, p.outbox.lockKeySQL(`(VALUES ($1::text, $2::text)) AS k (transport, order_key)`),
				it.Transport, it.Key)
			if err != nil {
				return 0, err
			}
			var id int64
			err = q.QueryRow(ctx, p.outbox.sql.enqueue, enqueueArgs(it)...).Scan(&id)
			return id, err
		})
		return err
	})
	if err != nil {
		return 0, wrapSeal(err)
	}
	return id, nil
}

func wrapSeal(err error) error {
	if errors.Is(err, ErrDigestChanged) {
		return ErrDigestChanged
	}
	return fmt.Errorf("store: seal digest: %w", err)
}

func (c common) RouteToken(ctx context.Context, transport, user, candidate string) (string, error) {
	if transport == "" || user == "" || candidate == "" {
		return "", errors.New("store: route token: transport, user and candidate must not be empty")
	}
	var tok string
	err := c.b.inTx(ctx, func(q querier) error {
		err := q.QueryRow(ctx, `SELECT token FROM routes WHERE transport = $1 AND user_jid = $2`, transport, user).Scan(&tok)
		if err != ErrNotFound {
			return err
		}
		tok = candidate
		_, err = q.Exec(ctx, `INSERT INTO routes (transport, user_jid, token, created) VALUES ($1, $2, $3, $4)`,
			transport, user, candidate, time.Now().UnixMilli())
		return err
	})
	if err != nil {
		// A concurrent first use by another process: read the winner's token.
		if c.b.isUniqueViolation(err) {
			if e := c.b.reader().QueryRow(ctx, `SELECT token FROM routes WHERE transport = $1 AND user_jid = $2`,
				transport, user).Scan(&tok); e == nil {
				return tok, nil
			}
		}
		return "", fmt.Errorf("store: route token: %w", err)
	}
	return tok, nil
}

func (c common) RouteUser(ctx context.Context, transport, token string) (string, error) {
	var user string
	err := c.b.reader().QueryRow(ctx, `SELECT user_jid FROM routes WHERE transport = $1 AND token = $2`, transport, token).Scan(&user)
	if err != nil {
		return "", wrapErr("route user", err)
	}
	return user, nil
}

func (c common) GetState(ctx context.Context, transport, name string) (string, error) {
	var v string
	err := c.b.reader().QueryRow(ctx, `SELECT value FROM transport_state WHERE transport = $1 AND name = $2`, transport, name).Scan(&v)
	if err != nil {
		return "", wrapErr("get state", err)
	}
	return v, nil
}

func (c common) PutState(ctx context.Context, transport, name, value string) error {
	_, err := c.b.writer().Exec(ctx, `INSERT INTO transport_state (transport, name, value, updated) VALUES ($1, $2, $3, $4)
ON CONFLICT (transport, name) DO UPDATE SET value = excluded.value, updated = excluded.updated`,
		transport, name, value, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("store: put state: %w", err)
	}
	return nil
}
