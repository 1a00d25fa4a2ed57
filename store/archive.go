package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ArchiveEntry is one archived message in one user's copy of a conversation.
type ArchiveEntry struct {
	Seq          int64  // assigned by Append (increasing in insertion order); 0 on input
	ID           string // unique per (Transport, User): the stanza-id shown to XMPP (XEP-0359)
	Transport    string
	User         string    // bare JID owning this copy
	Conversation string    // bare JID of the room or contact
	With         string    // JID of the sender or peer (room/nick, a contact JID, or the user's own)
	Time         time.Time // when the message was sent (server-time); zero: now. Stored to the millisecond.
	Payload      []byte    // the stanza as the transport sends it, opaque
}

// ArchiveQuery selects entries of one conversation, XEP-0313 style.
type ArchiveQuery struct {
	Transport, User, Conversation string    // required
	With                          string    // optional: only entries whose With equals this
	Start, End                    time.Time // optional inclusive time bounds
	AfterID                       string    // RSM <after/>: entries after this ID
	BeforeID                      *string   // RSM <before/>: non-nil selects the page before this ID; "" = the LAST page
	Max                           int       // page size; <= 0 means 100; capped at 1000
}

// ArchivePage is one page of a query, oldest first.
type ArchivePage struct {
	Entries []ArchiveEntry
	// Complete is true when no more entries exist in the paging direction
	// (forward: after the last; backward (BeforeID set): before the first).
	Complete bool
	Count    int // how many entries match the query without paging (RSM <count/>)
}

// Archives is the per-user message archive. Both backends implement it; a
// Store from Open can be asserted to it.
//
// Seq follows insertion order as long as one process appends (one
// ArchiveWriter); with several processes on one PostgreSQL database, entries
// appended concurrently may commit out of seq order.
type Archives interface {
	// AppendArchive stores entries in ONE transaction. An entry whose
	// (Transport, User, ID) is already stored is skipped (idempotent replay).
	// It fills nothing back. Transport, User, Conversation and ID must not be
	// empty; otherwise nothing is stored.
	AppendArchive(ctx context.Context, entries []ArchiveEntry) error
	// QueryArchive returns a page; an AfterID/BeforeID that is not in the
	// archive (of this conversation) is ErrNotFound. With both AfterID and
	// BeforeID set, the page lies between them.
	QueryArchive(ctx context.Context, q ArchiveQuery) (ArchivePage, error)
	// PruneArchive deletes entries older than before (Time); returns how many.
	PruneArchive(ctx context.Context, before time.Time) (int64, error)
	// DeleteArchive deletes every entry of user on transport (unregistration);
	// returns how many.
	DeleteArchive(ctx context.Context, transport, user string) (int64, error)
}

var (
	_ Archives = (*SQLite)(nil)
	_ Archives = (*Postgres)(nil)
)

// Page sizes of QueryArchive.
const (
	archiveDefaultMax = 100
	archiveMaxMax     = 1000
	// archiveDeleteChunk bounds the rows one DELETE statement removes, so that
	// pruning a large archive never holds SQLite's write lock (or PostgreSQL
	// row locks) for long while the ArchiveWriter waits.
	archiveDeleteChunk = 5000
)

// checkArchiveEntry reports an entry AppendArchive would refuse.
func checkArchiveEntry(e *ArchiveEntry) error {
	if e.Transport == "" || e.User == "" || e.Conversation == "" || e.ID == "" {
		return errors.New("store: archive: transport, user, conversation and id must not be empty")
	}
	return nil
}

func checkArchiveEntries(entries []ArchiveEntry) error {
	for i := range entries {
		if err := checkArchiveEntry(&entries[i]); err != nil {
			return fmt.Errorf("%w (entry %d)", err, i)
		}
	}
	return nil
}

const archiveInsertHead = `INSERT INTO archive (transport, user_jid, conversation, stanza_id, with_jid, sent, payload) VALUES `

// archiveInsertSQL is the SQLite insert of n rows. Appends use n = 64, 32,
// ..., 1 only, so the statement cache holds at most seven of them.
func archiveInsertSQL(n int) string {
	var b strings.Builder
	b.Grow(len(archiveInsertHead) + n*40 + 80)
	b.WriteString(archiveInsertHead)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := range 7 {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(i*7 + j + 1))
		}
		b.WriteByte(')')
	}
	b.WriteString(` ON CONFLICT (transport, user_jid, stanza_id) DO NOTHING`)
	return b.String()
}

// archiveChunk is the largest power of two <= min(n, 64): the size of the next
// multi-row insert.
func archiveChunk(n int) int {
	c := 64
	for c > n {
		c /= 2
	}
	return c
}

// AppendArchive implements Archives: multi-row inserts in one transaction on
// the writer connection.
func (s *SQLite) AppendArchive(ctx context.Context, entries []ArchiveEntry) error {
	if err := checkArchiveEntries(entries); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	now := time.Now().UnixMilli()
	args := make([]any, 0, 7*archiveChunk(len(entries)))
	err := s.inTx(ctx, func(q querier) error {
		for rest := entries; len(rest) > 0; {
			n := archiveChunk(len(rest))
			args = args[:0]
			for i := range rest[:n] {
				e := &rest[i]
				sent := now
				if !e.Time.IsZero() {
					sent = e.Time.UnixMilli()
				}
				args = append(args, e.Transport, e.User, e.Conversation, e.ID, e.With, sent, e.Payload)
			}
			if _, err := q.Exec(ctx, archiveInsertSQL(n), args...); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: archive: append: %w", err)
	}
	return nil
}

// pgArchiveInsert inserts a whole batch as arrays: one statement (so one
// implicit transaction) and one round trip whatever the batch size. Rows are
// inserted in array order, so seq follows the order of entries.
const pgArchiveInsert = `INSERT INTO archive (transport, user_jid, conversation, stanza_id, with_jid, sent, payload)
SELECT t, u, c, i, w, s, p
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bytea[])
    WITH ORDINALITY AS x (t, u, c, i, w, s, p, n)
ORDER BY n
ON CONFLICT (transport, user_jid, stanza_id) DO NOTHING`

// AppendArchive implements Archives: one INSERT of arrays.
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
	if _, err := p.writer().Exec(ctx, pgArchiveInsert, ts, us, cs, ids, ws, sent, payloads); err != nil {
		return fmt.Errorf("store: archive: append: %w", err)
	}
	return nil
}

// archiveAnchor finds the seq of an RSM id within the queried conversation.
const archiveAnchor = `SELECT seq FROM archive WHERE transport = $1 AND user_jid = $2 AND stanza_id = $3 AND conversation = $4`

// archiveFilter returns the FROM and WHERE clauses of a query and their
// arguments. Only the filters in use appear, so that no row is tested against
// an unused bound; there are at most eight shapes (twice as many pages: two
// directions), a bounded set of texts for the statement caches. Each shape is
// served by one index: archive_conversation, or archive_with with a With filter.
func archiveFilter(q ArchiveQuery) (string, []any) {
	var b strings.Builder
	b.WriteString(` FROM archive WHERE transport = $1 AND user_jid = $2 AND conversation = $3`)
	args := []any{q.Transport, q.User, q.Conversation}
	add := func(cond string, v any) {
		args = append(args, v)
		b.WriteString(` AND ` + cond + ` $` + strconv.Itoa(len(args)))
	}
	if q.With != "" {
		add("with_jid =", q.With)
	}
	if !q.Start.IsZero() {
		add("sent >=", q.Start.UnixMilli())
	}
	if !q.End.IsZero() {
		add("sent <=", q.End.UnixMilli())
	}
	return b.String(), args
}

// QueryArchive implements Archives.
func (c common) QueryArchive(ctx context.Context, q ArchiveQuery) (ArchivePage, error) {
	if q.Transport == "" || q.User == "" || q.Conversation == "" {
		return ArchivePage{}, errors.New("store: archive: query: transport, user and conversation must not be empty")
	}
	limit := q.Max
	if limit <= 0 {
		limit = archiveDefaultMax
	}
	limit = min(limit, archiveMaxMax)
	rd := c.b.reader()
	anchor := func(id string) (int64, error) {
		var seq int64
		err := rd.QueryRow(ctx, archiveAnchor, q.Transport, q.User, id, q.Conversation).Scan(&seq)
		return seq, err
	}
	lo, hi := int64(0), int64(math.MaxInt64)
	var err error
	if q.AfterID != "" {
		if lo, err = anchor(q.AfterID); err != nil {
			return ArchivePage{}, wrapErr("archive: query: after id", err)
		}
	}
	backward := q.BeforeID != nil
	if backward && *q.BeforeID != "" {
		if hi, err = anchor(*q.BeforeID); err != nil {
			return ArchivePage{}, wrapErr("archive: query: before id", err)
		}
	}

	var page ArchivePage
	where, args := archiveFilter(q)
	if err := rd.QueryRow(ctx, `SELECT count(*)`+where, args...).Scan(&page.Count); err != nil {
		return ArchivePage{}, fmt.Errorf("store: archive: query: count: %w", err)
	}
	if page.Count == 0 {
		page.Complete = true
		return page, nil
	}
	// One more than the page: whether it exists says Complete.
	n := len(args)
	query := `SELECT seq, stanza_id, with_jid, sent, payload` + where +
		` AND seq > $` + strconv.Itoa(n+1) + ` AND seq < $` + strconv.Itoa(n+2) + ` ORDER BY seq`
	if backward {
		query += ` DESC`
	}
	query += ` LIMIT $` + strconv.Itoa(n+3)
	rs, err := rd.Query(ctx, query, append(args, lo, hi, limit+1)...)
	if err != nil {
		return ArchivePage{}, fmt.Errorf("store: archive: query: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		e := ArchiveEntry{Transport: q.Transport, User: q.User, Conversation: q.Conversation}
		var sent int64
		if err := rs.Scan(&e.Seq, &e.ID, &e.With, &sent, &e.Payload); err != nil {
			return ArchivePage{}, fmt.Errorf("store: archive: query: %w", err)
		}
		e.Time = time.UnixMilli(sent).UTC()
		page.Entries = append(page.Entries, e)
	}
	if err := rs.Err(); err != nil {
		return ArchivePage{}, fmt.Errorf("store: archive: query: %w", err)
	}
	page.Complete = len(page.Entries) <= limit
	if !page.Complete {
		page.Entries = page.Entries[:limit]
	}
	if backward {
		for i, j := 0, len(page.Entries)-1; i < j; i, j = i+1, j-1 {
			page.Entries[i], page.Entries[j] = page.Entries[j], page.Entries[i]
		}
	}
	return page, nil
}

// PruneArchive implements Archives, deleting in chunks.
func (c common) PruneArchive(ctx context.Context, before time.Time) (int64, error) {
	n, err := c.deleteArchiveChunks(ctx, `DELETE FROM archive WHERE seq IN (
SELECT seq FROM archive WHERE sent < $1 LIMIT $2)`, before.UnixMilli())
	if err != nil {
		return n, fmt.Errorf("store: archive: prune: %w", err)
	}
	return n, nil
}

// DeleteArchive implements Archives, deleting in chunks.
func (c common) DeleteArchive(ctx context.Context, transport, user string) (int64, error) {
	n, err := c.deleteArchiveChunks(ctx, `DELETE FROM archive WHERE seq IN (
SELECT seq FROM archive WHERE transport = $1 AND user_jid = $2 LIMIT $3)`, transport, user)
	if err != nil {
		return n, fmt.Errorf("store: archive: delete %s: %w", transport, err)
	}
	return n, nil
}

// deleteArchiveChunks runs query (whose last parameter is the chunk size)
// until it deletes less than a chunk, and returns the total.
func (c common) deleteArchiveChunks(ctx context.Context, query string, args ...any) (int64, error) {
	args = append(args, archiveDeleteChunk)
	var total int64
	for {
		n, err := c.b.writer().Exec(ctx, query, args...)
		total += n
		if err != nil {
			return total, err
		}
		if n < archiveDeleteChunk {
			return total, nil
		}
	}
}
