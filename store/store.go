// Package store keeps xgate's durable state: registrations, contacts, message-id
// pairs, and the outbox and inbox queues. One interface, two backends: SQLite
// (modernc.org/sqlite, embedded default) and PostgreSQL (pgx), each in its own file,
// with embedded, versioned migrations. Every method takes a context.
//
// The store knows nothing of XMPP streams; payloads are opaque bytes to it.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by lookups that find no row.
var ErrNotFound = errors.New("store: not found")

// ErrSchemaTooNew is returned by Open when the database was migrated by a newer
// xgate than this one: running would risk corrupting it.
var ErrSchemaTooNew = errors.New("store: database schema is newer than this xgate")

// Registration is one user's registration with one transport.
type Registration struct {
	Transport string
	User      string // bare JID
	RemoteID  string // number, address, nick; unique per transport when not empty
	Settings  map[string]string
	Created   time.Time
	Updated   time.Time
}

// Contact is a remote contact a user has talked to (roster-like memory used for
// policies such as "only contacts I wrote to may write to me").
type Contact struct {
	Transport string
	User      string // bare JID
	Remote    string // contact localpart on the transport's domain
	Name      string
	Created   time.Time
}

// IDMapping pairs a stanza id with a network id (Twilio SID, Message-ID), so
// receipts, errors and replies that come back later find the original.
type IDMapping struct {
	Transport string
	User      string // bare JID of the XMPP side
	StanzaID  string
	RemoteID  string
	Peer      string // contact localpart
	Payload   []byte // transport-defined extra (thread, wants receipt, ...)
	Created   time.Time
}

// QueueItem is one row of the outbox or the inbox.
type QueueItem struct {
	ID        int64
	Transport string
	// Key orders the queue: items with the same key are handed out one at a time,
	// oldest first (per sender and recipient for the outbox).
	Key string
	// RemoteID deduplicates the inbox (unique per transport when not empty).
	RemoteID    string
	Payload     []byte
	Attempts    int
	NextAttempt time.Time
	Deadline    time.Time // zero: never give up
	LastError   string
	Created     time.Time
}

// Store is the durable state of xgate. Implementations are safe for concurrent use.
type Store interface {
	// Ping reports whether the database answers (for /healthz).
	Ping(ctx context.Context) error
	Close() error

	// PutRegistration inserts or updates (Transport, User). It fails with a
	// *ConflictError when RemoteID is taken by another user of the transport.
	PutRegistration(ctx context.Context, r Registration) (created bool, err error)
	GetRegistration(ctx context.Context, transport, user string) (Registration, error)
	// FindRegistration looks a registration up by its remote identity.
	FindRegistration(ctx context.Context, transport, remoteID string) (Registration, error)
	ListRegistrations(ctx context.Context, transport string) ([]Registration, error)
	// DeleteRegistration removes the registration and the user's contacts on the
	// transport. Deleting a missing one is ErrNotFound.
	DeleteRegistration(ctx context.Context, transport, user string) error

	PutContact(ctx context.Context, c Contact) error
	GetContact(ctx context.Context, transport, user, remote string) (Contact, error)
	ListContacts(ctx context.Context, transport, user string) ([]Contact, error)
	DeleteContact(ctx context.Context, transport, user, remote string) error

	PutIDMapping(ctx context.Context, m IDMapping) error
	// IDByRemote finds the mapping for a network id.
	IDByRemote(ctx context.Context, transport, remoteID string) (IDMapping, error)
	// IDByStanza finds the mapping for a user's stanza id.
	IDByStanza(ctx context.Context, transport, user, stanzaID string) (IDMapping, error)
	// PruneIDMappings deletes mappings created before t; it returns how many.
	PruneIDMappings(ctx context.Context, before time.Time) (int64, error)

	// Outbox and Inbox are the two durable queues.
	Outbox() Queue
	Inbox() Queue
}

// Queue is a durable, ordered, leased work queue. An item is handed to one worker
// at a time (a lease); a worker that dies loses its lease when it expires and the
// item is handed out again, so delivery is at least once.
type Queue interface {
	// Enqueue stores an item and returns its id. With a non-empty RemoteID that is
	// already in the queue (or was completed within the dedupe window, see Prune),
	// it stores nothing and returns inserted=false.
	Enqueue(ctx context.Context, it QueueItem) (id int64, inserted bool, err error)
	// Claim leases up to limit items of transport that are due (NextAttempt <= now)
	// and are the oldest unfinished item of their Key, for the given lease time,
	// to owner. Safe across processes sharing a PostgreSQL database.
	Claim(ctx context.Context, transport, owner string, now time.Time, lease time.Duration, limit int) ([]QueueItem, error)
	// Complete marks the item done. Done items are kept (without payload) for
	// deduplication until Prune.
	Complete(ctx context.Context, id int64) error
	// Retry releases the lease and schedules the item again.
	Retry(ctx context.Context, id int64, next time.Time, lastErr string) error
	// Extend renews leases: every item of ids (distinct) that is unfinished and
	// leased by owner is now leased until until. It returns how many items were
	// extended; the others (completed, retried, or claimed by another owner
	// after the lease expired: the lease is lost) are left alone. A living
	// worker calls it well before its leases end, so claims can be short and a
	// dead worker's items come back soon. One statement for up to a few hundred
	// ids.
	Extend(ctx context.Context, owner string, ids []int64, until time.Time) (int, error)
	// Depth counts unfinished items of transport ("" for all).
	Depth(ctx context.Context, transport string) (int, error)
	// Prune deletes done items completed before t.
	Prune(ctx context.Context, before time.Time) (int64, error)
}

// ConflictError is returned when a unique remote identity is taken.
type ConflictError struct {
	Transport, RemoteID, Owner string
}

func (e *ConflictError) Error() string {
	return "store: " + e.Transport + " identity " + e.RemoteID + " is registered by another user"
}
