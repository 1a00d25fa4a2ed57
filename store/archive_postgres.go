package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The PostgreSQL append is one pipelined batch (one round trip, one implicit
// transaction) of three statements over the same arrays: the users, the
// conversations, then the lines. Each statement sees the rows the previous
// ones created, and rows another process committed meanwhile (READ
// COMMITTED takes a snapshot per statement); ON CONFLICT DO NOTHING waits for
// a concurrent insert of the same key. Counts are kept by statement triggers.
const (
	pgArchiveUsers = `INSERT INTO archive_users (transport, user_jid)
SELECT DISTINCT t, u FROM unnest($1::text[], $2::text[]) AS x (t, u)
ORDER BY 1, 2
ON CONFLICT (transport, user_jid) DO NOTHING`
	pgArchiveConvs = `INSERT INTO archive_convs (user_id, conversation)
SELECT DISTINCT u.id, x.c FROM unnest($1::text[], $2::text[], $3::text[]) AS x (t, u, c)
JOIN archive_users u ON u.transport = x.t AND u.user_jid = x.u
ORDER BY 1, 2
ON CONFLICT (user_id, conversation) DO NOTHING`
	// Rows are inserted in array order, so seq follows the order of entries.
	pgArchiveLines = `INSERT INTO archive_lines (user_id, conv_id, stanza_id, with_jid, sent, payload)
SELECT c.user_id, c.id, x.i, x.w, x.s, x.p
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bytea[])
    WITH ORDINALITY AS x (t, u, c, i, w, s, p, n)
JOIN archive_users u ON u.transport = x.t AND u.user_jid = x.u
JOIN archive_convs c ON c.user_id = u.id AND c.conversation = x.c
ORDER BY x.n
ON CONFLICT (user_id, stanza_id) DO NOTHING`
)

// pgArchiveWith is the condition of a `with` filter: archive_lines.with_key
// (see 0004_archive_interned.sql), from the index, before with_jid itself.
const pgArchiveWith = `with_key = length({}::text)::bigint * 16777216
    + ascii(right({}::text, 1))::bigint * 65536
    + ascii(left(right({}::text, 2), 1))::bigint * 256
    + ascii(left(right({}::text, 3), 1)) AND with_jid = {}`

// AppendArchive implements Archives.
func (p *Postgres) AppendArchive(ctx context.Context, entries []ArchiveEntry) error {
	if err := checkArchiveEntries(entries); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	n := len(entries)
	var (
		ts, us, cs, ids, ws = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		sent                = make([]int64, n)
		payloads            = make([][]byte, n)
		now                 = time.Now().UnixMilli()
	)
	for i := range entries {
		e := &entries[i]
		ts[i], us[i], cs[i], ids[i], ws[i], payloads[i] = e.Transport, e.User, e.Conversation, e.ID, e.With, e.Payload
		sent[i] = now
		if !e.Time.IsZero() {
			sent[i] = e.Time.UnixMilli()
		}
	}
	b := &pgx.Batch{}
	b.Queue(pgArchiveUsers, ts, us)
	b.Queue(pgArchiveConvs, ts, us, cs)
	b.Queue(pgArchiveLines, ts, us, cs, ids, ws, sent, payloads)
	if err := p.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store: archive: append: %w", err)
	}
	return nil
}

// DeleteArchive implements Archives: the user's lines in chunks, then the
// user's emptied conversations and the user.
func (p *Postgres) DeleteArchive(ctx context.Context, transport, user string) (int64, error) {
	n, uid, err := p.common.deleteArchiveLines(ctx, transport, user)
	if err != nil || uid == 0 {
		return n, err
	}
	if err := p.inTx(ctx, func(q querier) error { return forgetArchiveUser(ctx, q, uid) }); err != nil {
		return n, fmt.Errorf("store: archive: delete %s: %w", transport, err)
	}
	return n, nil
}
