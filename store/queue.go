package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// How the queues work (both backends, tables outbox and inbox):
//
// Every row has a head flag, TRUE exactly for the oldest unfinished item of its
// (transport, key). Enqueue sets it when the key has no unfinished item;
// Complete clears it and passes it to the next unfinished item of the key.
// Claim only looks at heads, so it hands out at most one item per key, oldest
// first, whatever retries do to the items' due times.
//
// ready_at is when Claim may hand a head out: its NextAttempt, or while it is
// leased, the end of the lease. Claim is then one range scan of the partial
// index (transport, ready_at, id) WHERE head, in O(limit) however long the
// queue is or however many keys are blocked.
//
// Done items stay as tombstones (payload cleared, done_at set) so that the
// unique index on (transport, remote_id) keeps deduplicating until Prune.

// queueSQL is the SQL text of one queue table.
type queueSQL struct {
	table    string
	enqueue  string
	existing string
	claim    string
	complete string
	promote  string
	retry    string
	extend   string
	exists   string
	depth    string
	depthAll string
	prune    string
}

const queueColumns = `id, transport, order_key, remote_id, payload, attempts, next_attempt, deadline, last_error, created`

func newQueueSQL(table string, postgres bool) queueSQL {
	t := func(s string) string { return strings.ReplaceAll(s, "{q}", table) }
	q := queueSQL{
		table: table,
		// $6 twice: a new item is ready when it is due.
		enqueue: t(`INSERT INTO {q} (transport, order_key, remote_id, payload, attempts, next_attempt, deadline, last_error, created, ready_at, head)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $6,
        NOT EXISTS (SELECT 1 FROM {q} WHERE transport = $1 AND order_key = $2 AND done_at IS NULL))
ON CONFLICT (transport, remote_id) WHERE remote_id <> '' DO NOTHING
RETURNING id`),
		existing: t(`SELECT id FROM {q} WHERE transport = $1 AND remote_id = $2 AND remote_id <> ''`),
		complete: t(`UPDATE {q} SET done_at = $2, payload = NULL, head = FALSE, lease_owner = '', lease_until = 0
WHERE id = $1 AND done_at IS NULL`),
		// Give the head to the oldest unfinished item of the completed item's
		// key. Idempotent: when the key's head is unchanged, it sets it again.
		promote: t(`UPDATE {q} SET head = TRUE WHERE id = (
    SELECT n.id FROM {q} n, {q} c
    WHERE c.id = $1 AND n.transport = c.transport AND n.order_key = c.order_key AND n.done_at IS NULL
    ORDER BY n.id LIMIT 1)`),
		retry: t(`UPDATE {q} SET attempts = attempts + 1, next_attempt = $2, ready_at = $2, last_error = $3,
    lease_owner = '', lease_until = 0
WHERE id = $1 AND done_at IS NULL`),
		exists:   t(`SELECT count(*) FROM {q} WHERE id = $1`),
		depth:    t(`SELECT count(*) FROM {q} WHERE transport = $1 AND done_at IS NULL`),
		depthAll: t(`SELECT count(*) FROM {q} WHERE done_at IS NULL`),
		prune:    t(`DELETE FROM {q} WHERE done_at IS NOT NULL AND done_at < $1`),
	}
	// extend renews the leases of owner ($1) on the ids in $2 until $3. The id
	// list is one parameter, so the statement text is fixed (prepared once):
	// an array on PostgreSQL, a JSON array on SQLite.
	extendSQL := `UPDATE {q} SET lease_until = $3, ready_at = $3
WHERE id IN (SELECT value FROM json_each($2)) AND lease_owner = $1 AND lease_owner <> '' AND done_at IS NULL`
	if postgres {
		extendSQL = `UPDATE {q} SET lease_until = $3, ready_at = $3
WHERE id = ANY($2::bigint[]) AND lease_owner = $1 AND lease_owner <> '' AND done_at IS NULL`
	}
	q.extend = t(extendSQL)
	if postgres {
		// The CTE is materialized so that the locking subquery runs exactly
		// once; SKIP LOCKED lets several processes claim side by side.
		q.claim = t(`WITH c AS MATERIALIZED (
    SELECT id FROM {q} WHERE transport = $1 AND head AND ready_at <= $2
    ORDER BY ready_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)
UPDATE {q} SET lease_owner = $3, lease_until = $4, ready_at = $4 FROM c WHERE {q}.id = c.id
RETURNING {q}.id, {q}.transport, {q}.order_key, {q}.remote_id, {q}.payload, {q}.attempts,
    {q}.next_attempt, {q}.deadline, {q}.last_error, {q}.created`)
	} else {
		// SQLite has one writer at a time: the statement is atomic as it is.
		q.claim = t(`UPDATE {q} SET lease_owner = $3, lease_until = $4, ready_at = $4
WHERE id IN (SELECT id FROM {q} WHERE transport = $1 AND head AND ready_at <= $2 ORDER BY ready_at, id LIMIT $5)
RETURNING ` + queueColumns)
	}
	return q
}

// enqueueArgs are the arguments of queueSQL.enqueue.
func enqueueArgs(it QueueItem) []any {
	return []any{it.Transport, it.Key, it.RemoteID, it.Payload, it.Attempts, ms(it.NextAttempt),
		ms(it.Deadline), it.LastError, ms(nowOr(it.Created))}
}

// checkClaim validates Claim's arguments; ok=false means there is nothing to do.
func checkClaim(lease time.Duration, limit int) (ok bool, err error) {
	if lease <= 0 {
		return false, fmt.Errorf("store: claim: lease must be positive, got %v", lease)
	}
	return limit > 0, nil
}

// claimArgs are the arguments of queueSQL.claim.
func claimArgs(transport, owner string, now time.Time, lease time.Duration, limit int) []any {
	return []any{transport, now.UnixMilli(), owner, now.Add(lease).UnixMilli(), limit}
}

// scanQueueItems reads Claim's result, oldest first.
func scanQueueItems(rs rows) ([]QueueItem, error) {
	defer rs.Close()
	var out []QueueItem
	for rs.Next() {
		var (
			it                             QueueItem
			next, deadline, created, tries int64
		)
		if err := rs.Scan(&it.ID, &it.Transport, &it.Key, &it.RemoteID, &it.Payload, &tries,
			&next, &deadline, &it.LastError, &created); err != nil {
			return nil, err
		}
		it.Attempts = int(tries)
		it.NextAttempt, it.Deadline, it.Created = fromMS(next), fromMS(deadline), fromMS(created)
		out = append(out, it)
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b QueueItem) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// foundOrNotFound turns "the update touched no row" into nil when the item
// exists (it is done already: completing or retrying it again is a no-op) or
// ErrNotFound when it does not.
func foundOrNotFound(ctx context.Context, q querier, sql queueSQL, id int64) error {
	var n int
	if err := q.QueryRow(ctx, sql.exists, id).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// retryItem, extendLeases, depth and prune are the same on both backends.

func retryItem(ctx context.Context, q querier, sql queueSQL, id int64, next time.Time, lastErr string) error {
	n, err := q.Exec(ctx, sql.retry, id, ms(next), lastErr)
	if err == nil && n == 0 {
		err = foundOrNotFound(ctx, q, sql, id)
	}
	return wrapErr("retry "+sql.table, err)
}

// extendLeases runs queueSQL.extend; idList is the backend's encoding of ids.
func extendLeases(ctx context.Context, q querier, sql queueSQL, owner string, ids []int64, idList any, until time.Time) (int, error) {
	if len(ids) == 0 || owner == "" {
		return 0, nil // nothing asked, or nothing can be leased by nobody
	}
	n, err := q.Exec(ctx, sql.extend, owner, idList, until.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("store: extend leases in %s: %w", sql.table, err)
	}
	return int(n), nil
}

func depth(ctx context.Context, q querier, sql queueSQL, transport string) (int, error) {
	var n int
	var err error
	if transport == "" {
		err = q.QueryRow(ctx, sql.depthAll).Scan(&n)
	} else {
		err = q.QueryRow(ctx, sql.depth, transport).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("store: depth of %s: %w", sql.table, err)
	}
	return n, nil
}

func prune(ctx context.Context, q querier, sql queueSQL, before time.Time) (int64, error) {
	n, err := q.Exec(ctx, sql.prune, before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("store: prune %s: %w", sql.table, err)
	}
	return n, nil
}
