package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is the Store for operators who run several xgate processes on one
// database (pgx/v5, pgxpool). Queue claims use FOR UPDATE SKIP LOCKED; the
// per-key head flag (see queue.go) is kept consistent across processes by a
// transaction-scoped advisory lock on the key, taken by Enqueue and Complete.
type Postgres struct {
	common
	pool          *pgxpool.Pool
	outbox, inbox *pgQueue
	migs          []migration
}

var _ Backend = (*Postgres)(nil)

const (
	// migrationLock is the advisory lock key that serialises migrations of
	// processes starting together ("xgate" in ASCII).
	migrationLock    = 0x7867617465
	pgTableExists    = `SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_version'`
	pgLockMigrations = `SELECT pg_advisory_xact_lock($1)`
)

// OpenPostgres connects to the PostgreSQL database at dsn (a pgx connection
// string or URL; pool settings such as pool_max_conns are honoured) and
// migrates it.
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	return OpenPostgresWith(ctx, dsn, OpenOptions{})
}

// OpenPostgresWith is OpenPostgres with options.
func OpenPostgresWith(ctx context.Context, dsn string, opts OpenOptions) (*Postgres, error) {
	migs, err := loadMigrations(migrationFiles, "migrations/postgres")
	if err != nil {
		return nil, err
	}
	// Errors from here on never quote dsn: it may hold a password. pgx's own
	// errors name host, user and database only.
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: parse dsn: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: postgres: connect: %w", err)
	}
	p := &Postgres{pool: pool, migs: migs}
	p.common = common{b: p}
	p.outbox = &pgQueue{p: p, sql: newQueueSQL("outbox", true)}
	p.inbox = &pgQueue{p: p, sql: newQueueSQL("inbox", true)}
	if !opts.NoMigrate {
		if _, _, err := p.Migrate(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return p, nil
}

// Ping checks that the database answers.
func (p *Postgres) Ping(ctx context.Context) error {
	if err := p.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: postgres: ping: %w", err)
	}
	return nil
}

// Close closes the pool, waiting for connections in use to be returned.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

// SchemaVersion implements Migrator.
func (p *Postgres) SchemaVersion(ctx context.Context) (db, code int, err error) {
	v, err := readVersion(ctx, p.reader(), pgTableExists)
	return v, len(p.migs), err
}

// Migrate implements Migrator. An advisory lock makes processes that start
// together migrate one after the other; the later ones find nothing to do.
func (p *Postgres) Migrate(ctx context.Context) (from, to int, err error) {
	err = p.inTx(ctx, func(q querier) error {
		if _, err := q.Exec(ctx, pgLockMigrations, int64(migrationLock)); err != nil {
			return fmt.Errorf("store: lock for migration: %w", err)
		}
		from, to, err = applyMigrations(ctx, q, p.migs)
		return err
	})
	return from, to, err
}

func (p *Postgres) Outbox() Queue { return p.outbox }
func (p *Postgres) Inbox() Queue  { return p.inbox }

func (p *Postgres) reader() querier { return pgQuerier{p.pool} }
func (p *Postgres) writer() querier { return pgQuerier{p.pool} }

func (p *Postgres) inTx(ctx context.Context, fn func(q querier) error) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error { return fn(pgQuerier{tx}) })
}

func (p *Postgres) isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

// pgQueue is a Queue on table outbox or inbox of a PostgreSQL store.
type pgQueue struct {
	p   *Postgres
	sql queueSQL
}

// lockKeySQL takes the advisory lock of a queue key for the rest of the
// transaction; Enqueue and Complete hold it while they read and set head flags,
// so that two processes never both make an item head, or neither.
func (q *pgQueue) lockKeySQL(where string) string {
	return strings.ReplaceAll(`SELECT pg_advisory_xact_lock(hashtextextended('{q}' || chr(31) || transport || chr(31) || order_key, 0))
FROM `+where, "{q}", q.sql.table)
}

func (q *pgQueue) Enqueue(ctx context.Context, it QueueItem) (id int64, inserted bool, err error) {
	// One round trip: the batch runs as one implicit transaction, and each
	// statement takes its snapshot after the lock is held.
	b := &pgx.Batch{}
	b.Queue(q.lockKeySQL(`(VALUES ($1::text, $2::text)) AS k (transport, order_key)`), it.Transport, it.Key)
	b.Queue(q.sql.enqueue, enqueueArgs(it)...)
	br := q.p.pool.SendBatch(ctx, b)
	_, err = br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&id)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		return id, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, fmt.Errorf("store: enqueue %s: %w", q.sql.table, err)
	}
	// No row returned: the remote id is taken.
	err = q.p.reader().QueryRow(ctx, q.sql.existing, it.Transport, it.RemoteID).Scan(&id)
	if err != nil && err != ErrNotFound { // ErrNotFound: pruned meanwhile
		return 0, false, fmt.Errorf("store: enqueue %s: %w", q.sql.table, err)
	}
	return id, false, nil
}

func (q *pgQueue) Claim(ctx context.Context, transport, owner string, now time.Time, lease time.Duration, limit int) ([]QueueItem, error) {
	if ok, err := checkClaim(lease, limit); !ok {
		return nil, err
	}
	rs, err := q.p.pool.Query(ctx, q.sql.claim, claimArgs(transport, owner, now, lease, limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: claim %s: %w", q.sql.table, err)
	}
	items, err := scanQueueItems(rs)
	if err != nil {
		return nil, fmt.Errorf("store: claim %s: %w", q.sql.table, err)
	}
	return items, nil
}

func (q *pgQueue) Complete(ctx context.Context, id int64) error {
	b := &pgx.Batch{}
	b.Queue(q.lockKeySQL(q.sql.table+` WHERE id = $1`), id)
	b.Queue(q.sql.complete, id, time.Now().UnixMilli())
	b.Queue(q.sql.promote, id)
	br := q.p.pool.SendBatch(ctx, b)
	found, err := br.Exec()
	if err == nil {
		_, err = br.Exec()
	}
	if err == nil {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil && found.RowsAffected() == 0 {
		err = ErrNotFound
	}
	return wrapErr("complete "+q.sql.table, err)
}

func (q *pgQueue) Retry(ctx context.Context, id int64, next time.Time, lastErr string) error {
	return retryItem(ctx, q.p.writer(), q.sql, id, next, lastErr)
}

func (q *pgQueue) Extend(ctx context.Context, owner string, ids []int64, until time.Time) (int, error) {
	return extendLeases(ctx, q.p.writer(), q.sql, owner, ids, ids, until)
}

func (q *pgQueue) Depth(ctx context.Context, transport string) (int, error) {
	return depth(ctx, q.p.reader(), q.sql, transport)
}

func (q *pgQueue) Prune(ctx context.Context, before time.Time) (int64, error) {
	return prune(ctx, q.p.writer(), q.sql, before)
}

// pgQuerier adapts a pgx pool or transaction to querier.
type pgQuerier struct {
	db interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
}

func (q pgQuerier) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.db.Exec(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (q pgQuerier) QueryRow(ctx context.Context, sql string, args ...any) scanner {
	return pgRow{q.db.QueryRow(ctx, sql, args...)}
}

func (q pgQuerier) Query(ctx context.Context, sql string, args ...any) (rows, error) {
	return q.db.Query(ctx, sql, args...)
}

type pgRow struct{ r pgx.Row }

func (r pgRow) Scan(dest ...any) error {
	if err := r.r.Scan(dest...); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		return err
	}
	return nil
}
