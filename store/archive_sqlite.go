package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// archiveIDs caches the ids of archive_users and archive_convs on SQLite, so
// that an append resolves them once per process instead of once per batch.
// It is only valid for a single process on the file (the SQLite deployment).
//
// mu is held for a whole append or user deletion, taken BEFORE the writer
// connection (so the two never deadlock): ids created by a transaction that
// then fails, or removed by a deletion, are never seen by another append.
type archiveIDs struct {
	mu    sync.Mutex
	users map[[2]string]int64      // (transport, user) -> archive_users.id
	convs map[archiveConvKey]int64 // (user id, conversation) -> archive_convs.id
	// lineSQL[n] is archiveLineSQL(n) for the chunk sizes: not rebuilt per
	// statement. Read-only.
	lineSQL map[int]string
}

type archiveConvKey struct {
	user int64
	conv string
}

func newArchiveIDs() *archiveIDs {
	c := &archiveIDs{users: map[[2]string]int64{}, convs: map[archiveConvKey]int64{}, lineSQL: map[int]string{}}
	for n := archiveChunkMax; n >= 1; n /= 2 {
		c.lineSQL[n] = archiveLineSQL(n)
	}
	return c
}

// reset forgets every id; mu is held.
func (c *archiveIDs) reset() {
	clear(c.users)
	clear(c.convs)
}

const (
	sqliteArchiveUserID   = `SELECT id FROM archive_users WHERE transport = $1 AND user_jid = $2`
	sqliteArchiveUserNew  = `INSERT INTO archive_users (transport, user_jid) VALUES ($1, $2) RETURNING id`
	sqliteArchiveConvID   = `SELECT id FROM archive_convs WHERE user_id = $1 AND conversation = $2`
	sqliteArchiveConvNew  = `INSERT INTO archive_convs (user_id, conversation) VALUES ($1, $2) RETURNING id`
	sqliteArchiveLineCols = 6
)

// sqliteArchiveWith is the condition of a `with` filter: archive_lines.with_key
// (see 0004_archive_interned.sql), from the index, before with_jid itself.
const sqliteArchiveWith = `with_key = length({}) * 16777216
    + coalesce(unicode(substr({}, -1, 1)), 0) * 65536
    + coalesce(unicode(substr({}, -2, 1)), 0) * 256
    + coalesce(unicode(substr({}, -3, 1)), 0) AND with_jid = {}`

// resolveArchiveID returns the id of key in q (a transaction), creating the row.
func resolveArchiveID(ctx context.Context, q querier, sel, ins string, a, b any) (int64, error) {
	var id int64
	err := q.QueryRow(ctx, sel, a, b).Scan(&id)
	if err == ErrNotFound {
		err = q.QueryRow(ctx, ins, a, b).Scan(&id)
	}
	return id, err
}

// archiveLineSQL is the SQLite insert of n lines. Appends use n = 128, 64,
// ..., 1 only, so the statement cache holds at most eight of them. The
// parameters are anonymous (?): the driver looks up the name of every
// parameter it binds, and for $N names SQLite's lookup is linear in the
// number of parameters (12% of an append's CPU time with $N).
func archiveLineSQL(n int) string {
	const head = `INSERT INTO archive_lines (user_id, conv_id, stanza_id, with_jid, sent, payload) VALUES `
	var b strings.Builder
	b.Grow(len(head) + n*14 + 40)
	b.WriteString(head)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?,?,?,?,?,?)`)
	}
	b.WriteString(` ON CONFLICT (user_id, stanza_id) DO NOTHING`)
	return b.String()
}

// archiveChunkMax is the largest multi-row insert.
const archiveChunkMax = 512

// archiveChunk is the largest power of two <= min(n, archiveChunkMax): the
// size of the next multi-row insert.
func archiveChunk(n int) int {
	c := archiveChunkMax
	for c > n {
		c /= 2
	}
	return c
}

// AppendArchive implements Archives: ids from the cache (or resolved in the
// transaction), then multi-row inserts, in one transaction on the writer
// connection. Counts are kept by triggers.
func (s *SQLite) AppendArchive(ctx context.Context, entries []ArchiveEntry) error {
	if err := checkArchiveEntries(entries); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	now := time.Now().UnixMilli()
	c := s.archIDs
	c.mu.Lock()
	defer c.mu.Unlock()
	args := make([]any, 0, sqliteArchiveLineCols*archiveChunk(len(entries)))
	err := s.inTx(ctx, func(q querier) error {
		for rest := entries; len(rest) > 0; {
			n := archiveChunk(len(rest))
			args = args[:0]
			for i := range rest[:n] {
				e := &rest[i]
				uk := [2]string{e.Transport, e.User}
				uid, ok := c.users[uk]
				if !ok {
					id, err := resolveArchiveID(ctx, q, sqliteArchiveUserID, sqliteArchiveUserNew, e.Transport, e.User)
					if err != nil {
						return err
					}
					uid, c.users[uk] = id, id
				}
				ck := archiveConvKey{uid, e.Conversation}
				cid, ok := c.convs[ck]
				if !ok {
					id, err := resolveArchiveID(ctx, q, sqliteArchiveConvID, sqliteArchiveConvNew, uid, e.Conversation)
					if err != nil {
						return err
					}
					cid, c.convs[ck] = id, id
				}
				sent := now
				if !e.Time.IsZero() {
					sent = e.Time.UnixMilli()
				}
				args = append(args, uid, cid, e.ID, e.With, sent, e.Payload)
			}
			if _, err := q.Exec(ctx, c.lineSQL[n], args...); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	})
	if err != nil {
		c.reset() // ids added by the failed transaction may not exist
		return fmt.Errorf("store: archive: append: %w", err)
	}
	return nil
}

// DeleteArchive implements Archives: the user's lines in chunks, then (with
// the id cache locked) the user's emptied conversations and the user.
func (s *SQLite) DeleteArchive(ctx context.Context, transport, user string) (int64, error) {
	n, uid, err := s.common.deleteArchiveLines(ctx, transport, user)
	if err != nil || uid == 0 {
		return n, err
	}
	c := s.archIDs
	c.mu.Lock()
	defer c.mu.Unlock()
	err = s.inTx(ctx, func(q querier) error {
		c.reset()
		return forgetArchiveUser(ctx, q, uid)
	})
	if err != nil {
		return n, fmt.Errorf("store: archive: delete %s: %w", transport, err)
	}
	return n, nil
}
