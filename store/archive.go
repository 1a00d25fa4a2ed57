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

// QueryArchive, PruneArchive and the deletion of lines are shared; each
// backend appends (archive_sqlite.go, archive_postgres.go). The tables are
// described in migrations/*/0004_archive_interned.sql.

// archiveConv finds the conversation of a query: its id, its user's id, and
// its number of lines.
const archiveConv = `SELECT c.id, c.user_id, c.entries FROM archive_convs c JOIN archive_users u ON u.id = c.user_id
WHERE u.transport = $1 AND u.user_jid = $2 AND c.conversation = $3`

// archiveAnchor finds the seq of an RSM id within the queried conversation.
const archiveAnchor = `SELECT seq FROM archive_lines WHERE user_id = $1 AND stanza_id = $2 AND conv_id = $3`

// archiveWithCount is the count of a `with` query without time bounds.
const archiveWithCount = `SELECT entries FROM archive_with_counts WHERE conv_id = $1 AND with_jid = $2`

// archiveFilter returns the FROM and WHERE clauses of a query and their
// arguments. Only the filters in use appear, so that no row is tested against
// an unused bound; there are at most eight shapes (twice as many pages: two
// directions), a bounded set of texts for the statement caches. Every shape
// is served by archive_lines_conv: (conv_id, seq) with sent and with_key, a
// digest of with_jid, in the index.
//
// withCond is the backend's condition on with_jid, the parameter written {}.
func archiveFilter(q ArchiveQuery, conv int64, withCond string) (string, []any) {
	var b strings.Builder
	b.WriteString(` FROM archive_lines WHERE conv_id = $1`)
	args := []any{conv}
	add := func(cond string, v any) {
		args = append(args, v)
		b.WriteString(` AND ` + cond + ` $` + strconv.Itoa(len(args)))
	}
	if q.With != "" {
		args = append(args, q.With)
		b.WriteString(` AND ` + strings.ReplaceAll(withCond, "{}", "$"+strconv.Itoa(len(args))))
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
	backward := q.BeforeID != nil
	rd := c.b.reader()

	var conv, uid int64
	var entries int
	err := rd.QueryRow(ctx, archiveConv, q.Transport, q.User, q.Conversation).Scan(&conv, &uid, &entries)
	if err == ErrNotFound {
		// No line ever: an empty archive, where no RSM id exists.
		if q.AfterID != "" || (backward && *q.BeforeID != "") {
			return ArchivePage{}, wrapErr("archive: query: anchor", ErrNotFound)
		}
		return ArchivePage{Complete: true}, nil
	}
	if err != nil {
		return ArchivePage{}, fmt.Errorf("store: archive: query: %w", err)
	}
	anchor := func(id string) (int64, error) {
		var seq int64
		err := rd.QueryRow(ctx, archiveAnchor, uid, id, conv).Scan(&seq)
		return seq, err
	}
	lo, hi := int64(0), int64(math.MaxInt64)
	if q.AfterID != "" {
		if lo, err = anchor(q.AfterID); err != nil {
			return ArchivePage{}, wrapErr("archive: query: after id", err)
		}
	}
	if backward && *q.BeforeID != "" {
		if hi, err = anchor(*q.BeforeID); err != nil {
			return ArchivePage{}, wrapErr("archive: query: before id", err)
		}
	}

	var page ArchivePage
	withCond := pgArchiveWith
	if _, ok := c.b.(*SQLite); ok {
		withCond = sqliteArchiveWith
	}
	where, args := archiveFilter(q, conv, withCond)
	switch {
	case !q.Start.IsZero() || !q.End.IsZero():
		err = rd.QueryRow(ctx, `SELECT count(*)`+where, args...).Scan(&page.Count)
	case q.With != "":
		err = rd.QueryRow(ctx, archiveWithCount, conv, q.With).Scan(&page.Count)
		if err == ErrNotFound {
			err = nil
		}
	default:
		page.Count = entries
	}
	if err != nil {
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

// PruneArchive implements Archives, deleting in chunks. Conversations and
// users stay (their ids are reused by later lines).
func (c common) PruneArchive(ctx context.Context, before time.Time) (int64, error) {
	n, err := c.deleteArchiveChunks(ctx, `DELETE FROM archive_lines WHERE seq IN (
SELECT seq FROM archive_lines WHERE sent < $1 LIMIT $2)`, before.UnixMilli())
	if err != nil {
		return n, fmt.Errorf("store: archive: prune: %w", err)
	}
	return n, nil
}

// deleteArchiveLines deletes every line of user on transport in chunks and
// returns how many, and the user's id (0: the user has no archive).
func (c common) deleteArchiveLines(ctx context.Context, transport, user string) (int64, int64, error) {
	var uid int64
	err := c.b.writer().QueryRow(ctx, `SELECT id FROM archive_users WHERE transport = $1 AND user_jid = $2`, transport, user).Scan(&uid)
	if err == ErrNotFound {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("store: archive: delete %s: %w", transport, err)
	}
	n, err := c.deleteArchiveChunks(ctx, `DELETE FROM archive_lines WHERE seq IN (
SELECT seq FROM archive_lines WHERE user_id = $1 LIMIT $2)`, uid)
	if err != nil {
		return n, uid, fmt.Errorf("store: archive: delete %s: %w", transport, err)
	}
	return n, uid, nil
}

// forgetArchiveUser removes the user's conversations and the user once they
// have no lines left (lines appended meanwhile keep them).
func forgetArchiveUser(ctx context.Context, q querier, uid int64) error {
	if _, err := q.Exec(ctx, `DELETE FROM archive_with_counts WHERE conv_id IN (
SELECT id FROM archive_convs WHERE user_id = $1 AND entries = 0)`, uid); err != nil {
		return err
	}
	if _, err := q.Exec(ctx, `DELETE FROM archive_convs WHERE user_id = $1 AND entries = 0`, uid); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `DELETE FROM archive_users WHERE id = $1
AND NOT EXISTS (SELECT 1 FROM archive_convs WHERE user_id = $1)`, uid)
	return err
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
