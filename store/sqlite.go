package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite is the embedded Store (modernc.org/sqlite, pure Go), the default.
//
// It keeps two pools on one file in WAL mode: a writer pool of exactly one
// connection, through which every write and every transaction goes, and a pool
// of read-only connections for lookups. SQLite allows one writer at a time
// anyway; queueing writers in database/sql instead of in SQLite's busy handler
// means no SQLITE_BUSY storms and no lock upgrades that deadlock, and WAL lets
// the readers proceed while the writer writes. Transactions start IMMEDIATE, so
// a second process on the same file waits for the lock up front (busy_timeout,
// 5 s) rather than failing at its first write. Running several xgate processes
// on one SQLite file is not a supported deployment: use PostgreSQL for that.
type SQLite struct {
	common
	w, r          *sql.DB
	ws, rs        *stmtCache // prepared statements of w and r
	outbox, inbox *sqliteQueue
	migs          []migration
	archIDs       *archiveIDs
}

var _ Backend = (*SQLite)(nil)

// Pragmas set on every connection. busy_timeout comes first (the driver runs it
// first anyway) so that setting WAL waits for a concurrent opener. On the
// writer, temp_store(MEMORY) keeps statement journals (which every multi-row
// insert with a trigger or a possible abort writes) in memory rather than in
// a temporary file (a third of the archive append's time was write(2) to it),
// and wal_autocheckpoint(4000) (16 MB of WAL with 4 KiB pages instead of 4 MB)
// checkpoints a page rewritten by many commits once instead of four times
// (archive appends 20% faster).
const (
	sqliteWriterParams = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(4000)&_txlock=immediate"
	sqliteReaderParams = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=query_only(1)"
	sqliteTableExists  = `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`
)

// OpenSQLite opens (creating it if needed) the SQLite database at dsn, a file
// path, and migrates it. dsn may carry further modernc.org/sqlite query
// parameters; the ones above are appended to them. In-memory databases are not
// supported (the reader pool would see another database).
func OpenSQLite(ctx context.Context, dsn string) (*SQLite, error) {
	return OpenSQLiteWith(ctx, dsn, OpenOptions{})
}

// OpenSQLiteWith is OpenSQLite with options.
func OpenSQLiteWith(ctx context.Context, dsn string, opts OpenOptions) (*SQLite, error) {
	if dsn == "" {
		return nil, errors.New("store: sqlite: empty dsn (a file path)")
	}
	migs, err := loadMigrations(migrationFiles, "migrations/sqlite")
	if err != nil {
		return nil, err
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	s := &SQLite{migs: migs, archIDs: newArchiveIDs()}
	s.common = common{b: s}
	s.outbox = &sqliteQueue{s: s, sql: newQueueSQL("outbox", false)}
	s.inbox = &sqliteQueue{s: s, sql: newQueueSQL("inbox", false)}

	if s.w, err = sql.Open("sqlite", dsn+sep+sqliteWriterParams); err != nil {
		return nil, fmt.Errorf("store: sqlite: open %s: %w", dsn, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err := s.w.PingContext(ctx); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("store: sqlite: open %s: %w", dsn, err)
	}
	if s.r, err = sql.Open("sqlite", dsn+sep+sqliteReaderParams); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("store: sqlite: open %s: %w", dsn, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)
	s.ws, s.rs = newStmtCache(s.w), newStmtCache(s.r)

	if !opts.NoMigrate {
		if _, _, err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Ping checks that the database answers.
func (s *SQLite) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("store: sqlite: ping: %w", err)
	}
	return nil
}

// Close closes both pools.
func (s *SQLite) Close() error {
	return errors.Join(s.rs.close(), s.ws.close(), s.r.Close(), s.w.Close())
}

// SchemaVersion implements Migrator.
func (s *SQLite) SchemaVersion(ctx context.Context) (db, code int, err error) {
	v, err := readVersion(ctx, s.reader(), sqliteTableExists)
	return v, len(s.migs), err
}

// Migrate implements Migrator.
func (s *SQLite) Migrate(ctx context.Context) (from, to int, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("store: sqlite: migrate: %w", err)
	}
	// Not through the statement cache: a migration is a script of several
	// statements, and preparing it would run only the first.
	from, to, err = applyMigrations(ctx, sqlQuerier{tx}, s.migs)
	if err != nil {
		_ = tx.Rollback()
		return from, to, err
	}
	if err := tx.Commit(); err != nil {
		return from, from, fmt.Errorf("store: sqlite: migrate: %w", err)
	}
	return from, to, nil
}

func (s *SQLite) Outbox() Queue { return s.outbox }
func (s *SQLite) Inbox() Queue  { return s.inbox }

func (s *SQLite) reader() querier { return stmtQuerier{c: s.rs} }
func (s *SQLite) writer() querier { return stmtQuerier{c: s.ws} }

func (s *SQLite) inTx(ctx context.Context, fn func(q querier) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	err = fn(stmtQuerier{c: s.ws, tx: tx})
	if err != nil {
		_ = tx.Rollback()
	} else {
		err = tx.Commit()
	}
	s.ws.prepareWanted(ctx)
	return err
}

func (s *SQLite) isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// sqliteQueue is a Queue on table outbox or inbox of a SQLite store. Every
// method but Depth runs on the writer connection, so Claim and Complete are
// serialised and need no row locks.
type sqliteQueue struct {
	s   *SQLite
	sql queueSQL
}

func (q *sqliteQueue) Enqueue(ctx context.Context, it QueueItem) (id int64, inserted bool, err error) {
	w := q.s.writer()
	err = w.QueryRow(ctx, q.sql.enqueue, enqueueArgs(it)...).Scan(&id)
	if err == nil {
		return id, true, nil
	}
	if err != ErrNotFound {
		return 0, false, fmt.Errorf("store: enqueue %s: %w", q.sql.table, err)
	}
	// No row returned: the remote id is taken.
	err = w.QueryRow(ctx, q.sql.existing, it.Transport, it.RemoteID).Scan(&id)
	if err != nil && err != ErrNotFound { // ErrNotFound: pruned meanwhile
		return 0, false, fmt.Errorf("store: enqueue %s: %w", q.sql.table, err)
	}
	return id, false, nil
}

func (q *sqliteQueue) Claim(ctx context.Context, transport, owner string, now time.Time, lease time.Duration, limit int) ([]QueueItem, error) {
	if ok, err := checkClaim(lease, limit); !ok {
		return nil, err
	}
	rs, err := q.s.writer().Query(ctx, q.sql.claim, claimArgs(transport, owner, now, lease, limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: claim %s: %w", q.sql.table, err)
	}
	items, err := scanQueueItems(rs)
	if err != nil {
		return nil, fmt.Errorf("store: claim %s: %w", q.sql.table, err)
	}
	return items, nil
}

func (q *sqliteQueue) Complete(ctx context.Context, id int64) error {
	err := q.s.inTx(ctx, func(tx querier) error {
		n, err := tx.Exec(ctx, q.sql.complete, id, time.Now().UnixMilli())
		if err != nil {
			return err
		}
		if n == 0 {
			return foundOrNotFound(ctx, tx, q.sql, id)
		}
		_, err = tx.Exec(ctx, q.sql.promote, id)
		return err
	})
	return wrapErr("complete "+q.sql.table, err)
}

func (q *sqliteQueue) Retry(ctx context.Context, id int64, next time.Time, lastErr string) error {
	return retryItem(ctx, q.s.writer(), q.sql, id, next, lastErr)
}

func (q *sqliteQueue) Extend(ctx context.Context, owner string, ids []int64, until time.Time) (int, error) {
	return extendLeases(ctx, q.s.writer(), q.sql, owner, ids, jsonIDs(ids), until)
}

// jsonIDs encodes ids as a JSON array for json_each.
func jsonIDs(ids []int64) string {
	b := make([]byte, 0, 2+len(ids)*8)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

func (q *sqliteQueue) Depth(ctx context.Context, transport string) (int, error) {
	return depth(ctx, q.s.reader(), q.sql, transport)
}

func (q *sqliteQueue) Prune(ctx context.Context, before time.Time) (int64, error) {
	return prune(ctx, q.s.writer(), q.sql, before)
}

// sqlQuerier adapts database/sql (a pool or a transaction) to querier.
type sqlQuerier struct {
	db interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
}

func (q sqlQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q sqlQuerier) QueryRow(ctx context.Context, query string, args ...any) scanner {
	return sqlRow{q.db.QueryRowContext(ctx, query, args...)}
}

func (q sqlQuerier) Query(ctx context.Context, query string, args ...any) (rows, error) {
	rs, err := q.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rs}, nil
}

type sqlRow struct{ r *sql.Row }

func (r sqlRow) Scan(dest ...any) error {
	if err := r.r.Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		return err
	}
	return nil
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }
