package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmtCache prepares each query text once per pool. database/sql keeps a
// prepared statement on every connection that has run it, so on SQLite's
// single writer connection each query is parsed once per process instead of
// once per call (parsing was a fifth of the CPU time of the queue benchmark).
// The set of query texts is fixed (the package's constants), so the cache
// stays small.
//
// The writer pool has one connection, which a transaction holds: preparing on
// the pool from inside a transaction would wait for it forever. So inside a
// transaction a query that is not cached yet is prepared on the transaction
// for this one use and remembered; inTx prepares the remembered ones on the
// pool once the transaction has given the connection back. No lock is held
// while preparing.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	wanted map[string]bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, wanted: map[string]bool{}}
}

// lookup returns the cached statement, or remembers query for prepareWanted.
func (c *stmtCache) lookup(query string) (*sql.Stmt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.m[query]
	if !ok {
		c.wanted[query] = true
	}
	return st, ok
}

// get returns the cached statement, preparing it on the pool if needed. It
// must not be called inside a transaction of the writer pool.
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	st, ok := c.m[query]
	c.mu.Unlock()
	if ok {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[query]; ok { // prepared meanwhile by another goroutine
		_ = st.Close()
		return old, nil
	}
	c.m[query] = st
	delete(c.wanted, query)
	return st, nil
}

// prepareWanted prepares the queries lookup missed. Failures are ignored:
// those queries keep being prepared per use.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	c.mu.Lock()
	if len(c.wanted) == 0 {
		c.mu.Unlock()
		return
	}
	var qs []string
	for q := range c.wanted {
		qs = append(qs, q)
	}
	clear(c.wanted)
	c.mu.Unlock()
	for _, q := range qs {
		_, _ = c.get(ctx, q)
	}
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}

// stmtQuerier runs cached statements on the pool, or in tx when it is set.
type stmtQuerier struct {
	c  *stmtCache
	tx *sql.Tx
}

func (q stmtQuerier) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if q.tx == nil {
		return q.c.get(ctx, query)
	}
	if st, ok := q.c.lookup(query); ok {
		// Bound to the transaction (closed with it), reusing the statement
		// prepared on the writer connection.
		return q.tx.StmtContext(ctx, st), nil
	}
	return q.tx.PrepareContext(ctx, query)
}

func (q stmtQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	st, err := q.stmt(ctx, query)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q stmtQuerier) QueryRow(ctx context.Context, query string, args ...any) scanner {
	st, err := q.stmt(ctx, query)
	if err != nil {
		return errScanner{err}
	}
	return sqlRow{st.QueryRowContext(ctx, args...)}
}

func (q stmtQuerier) Query(ctx context.Context, query string, args ...any) (rows, error) {
	st, err := q.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	rs, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rs}, nil
}

// errScanner reports a failure that happened before the query ran.
type errScanner struct{ err error }

func (e errScanner) Scan(...any) error { return e.err }
