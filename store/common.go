package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The two backends share their SQL text wherever the dialects agree: $N
// placeholders (which modernc.org/sqlite binds by number), ON CONFLICT,
// RETURNING, partial indexes, TRUE/FALSE, and times as unix milliseconds in
// BIGINT columns. The code below is written once against querier; each backend
// adapts its driver to it.

// querier is what the shared code needs from a connection, pool or
// transaction. QueryRow's Scan reports a missing row as ErrNotFound.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (rowsAffected int64, err error)
	QueryRow(ctx context.Context, sql string, args ...any) scanner
	Query(ctx context.Context, sql string, args ...any) (rows, error)
}

type scanner interface {
	Scan(dest ...any) error
}

// rows is an open result set; Close must be called.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// backend is what a driver provides to common.
type backend interface {
	// reader serves single-statement reads, writer single-statement writes.
	reader() querier
	writer() querier
	// inTx runs fn in a write transaction and commits when fn returns nil.
	inTx(ctx context.Context, fn func(q querier) error) error
	// isUniqueViolation reports whether err is a unique constraint violation.
	isUniqueViolation(err error) bool
}

// common implements the registration, contact and id-map parts of Store on
// top of a backend.
type common struct {
	b backend
}

// ms converts t to unix milliseconds; the zero time is 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS is the inverse of ms; times come back in UTC.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// nowOr returns t, or the current time when t is zero.
func nowOr(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

func encodeSettings(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func decodeSettings(b []byte) (map[string]string, error) {
	m := map[string]string{}
	if len(b) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode settings: %w", err)
	}
	return m, nil
}

const registrationColumns = `transport, user_jid, remote_id, settings, created, updated`

func scanRegistration(s scanner) (Registration, error) {
	var (
		r                Registration
		settings         []byte
		created, updated int64
	)
	if err := s.Scan(&r.Transport, &r.User, &r.RemoteID, &settings, &created, &updated); err != nil {
		return Registration{}, err
	}
	m, err := decodeSettings(settings)
	if err != nil {
		return Registration{}, err
	}
	r.Settings, r.Created, r.Updated = m, fromMS(created), fromMS(updated)
	return r, nil
}

func (c common) PutRegistration(ctx context.Context, r Registration) (created bool, err error) {
	if r.Transport == "" || r.User == "" {
		return false, fmt.Errorf("store: put registration: transport and user must not be empty")
	}
	settings, err := encodeSettings(r.Settings)
	if err != nil {
		return false, fmt.Errorf("store: put registration: encode settings: %w", err)
	}
	put := func(q querier) error {
		if r.RemoteID != "" {
			var owner string
			err := q.QueryRow(ctx, `SELECT user_jid FROM registrations
WHERE transport = $1 AND remote_id = $2 AND user_jid <> $3`, r.Transport, r.RemoteID, r.User).Scan(&owner)
			switch {
			case err == nil:
				return &ConflictError{Transport: r.Transport, RemoteID: r.RemoteID, Owner: owner}
			case err != ErrNotFound:
				return err
			}
		}
		now := time.Now()
		n, err := q.Exec(ctx, `UPDATE registrations SET remote_id = $3, settings = $4, updated = $5
WHERE transport = $1 AND user_jid = $2`, r.Transport, r.User, r.RemoteID, settings, now.UnixMilli())
		if err != nil || n > 0 {
			return err
		}
		created = true
		_, err = q.Exec(ctx, `INSERT INTO registrations (`+registrationColumns+`)
VALUES ($1, $2, $3, $4, $5, $6)`, r.Transport, r.User, r.RemoteID, settings, ms(nowOr(r.Created)), now.UnixMilli())
		return err
	}
	// A concurrent writer (another process on PostgreSQL) may insert the same
	// user or take the remote id between our look and our write: the unique
	// index refuses ours, and one more round sees its row.
	for attempt := 0; ; attempt++ {
		created = false
		err = c.b.inTx(ctx, put)
		if err != nil && c.b.isUniqueViolation(err) && attempt == 0 {
			continue
		}
		break
	}
	if err != nil {
		var ce *ConflictError
		if errors.As(err, &ce) {
			return false, ce
		}
		return false, fmt.Errorf("store: put registration: %w", err)
	}
	return created, nil
}

func (c common) GetRegistration(ctx context.Context, transport, user string) (Registration, error) {
	r, err := scanRegistration(c.b.reader().QueryRow(ctx, `SELECT `+registrationColumns+` FROM registrations
WHERE transport = $1 AND user_jid = $2`, transport, user))
	if err != nil {
		return Registration{}, wrapErr("get registration", err)
	}
	return r, nil
}

func (c common) FindRegistration(ctx context.Context, transport, remoteID string) (Registration, error) {
	if remoteID == "" {
		return Registration{}, ErrNotFound
	}
	r, err := scanRegistration(c.b.reader().QueryRow(ctx, `SELECT `+registrationColumns+` FROM registrations
WHERE transport = $1 AND remote_id = $2 AND remote_id <> ''`, transport, remoteID))
	if err != nil {
		return Registration{}, wrapErr("find registration", err)
	}
	return r, nil
}

// ListRegistrations lists the registrations of transport ("" for every
// transport), ordered by transport and user.
func (c common) ListRegistrations(ctx context.Context, transport string) ([]Registration, error) {
	var (
		rs  rows
		err error
	)
	if transport == "" {
		rs, err = c.b.reader().Query(ctx, `SELECT `+registrationColumns+` FROM registrations
ORDER BY transport, user_jid`)
	} else {
		rs, err = c.b.reader().Query(ctx, `SELECT `+registrationColumns+` FROM registrations
WHERE transport = $1 ORDER BY user_jid`, transport)
	}
	if err != nil {
		return nil, fmt.Errorf("store: list registrations: %w", err)
	}
	defer rs.Close()
	var out []Registration
	for rs.Next() {
		r, err := scanRegistration(rs)
		if err != nil {
			return nil, fmt.Errorf("store: list registrations: %w", err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: list registrations: %w", err)
	}
	return out, nil
}

func (c common) DeleteRegistration(ctx context.Context, transport, user string) error {
	err := c.b.inTx(ctx, func(q querier) error {
		n, err := q.Exec(ctx, `DELETE FROM registrations WHERE transport = $1 AND user_jid = $2`, transport, user)
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		_, err = q.Exec(ctx, `DELETE FROM contacts WHERE transport = $1 AND user_jid = $2`, transport, user)
		return err
	})
	return wrapErr("delete registration", err)
}

const contactColumns = `transport, user_jid, remote, name, created`

func scanContact(s scanner) (Contact, error) {
	var (
		ct      Contact
		created int64
	)
	if err := s.Scan(&ct.Transport, &ct.User, &ct.Remote, &ct.Name, &created); err != nil {
		return Contact{}, err
	}
	ct.Created = fromMS(created)
	return ct, nil
}

// PutContact inserts the contact, or updates the name of an existing one (its
// creation time stays).
func (c common) PutContact(ctx context.Context, ct Contact) error {
	if ct.Transport == "" || ct.User == "" || ct.Remote == "" {
		return fmt.Errorf("store: put contact: transport, user and remote must not be empty")
	}
	_, err := c.b.writer().Exec(ctx, `INSERT INTO contacts (`+contactColumns+`) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (transport, user_jid, remote) DO UPDATE SET name = excluded.name`,
		ct.Transport, ct.User, ct.Remote, ct.Name, ms(nowOr(ct.Created)))
	return wrapErr("put contact", err)
}

func (c common) GetContact(ctx context.Context, transport, user, remote string) (Contact, error) {
	ct, err := scanContact(c.b.reader().QueryRow(ctx, `SELECT `+contactColumns+` FROM contacts
WHERE transport = $1 AND user_jid = $2 AND remote = $3`, transport, user, remote))
	if err != nil {
		return Contact{}, wrapErr("get contact", err)
	}
	return ct, nil
}

// ListContacts lists a user's contacts on transport, ordered by remote.
func (c common) ListContacts(ctx context.Context, transport, user string) ([]Contact, error) {
	rs, err := c.b.reader().Query(ctx, `SELECT `+contactColumns+` FROM contacts
WHERE transport = $1 AND user_jid = $2 ORDER BY remote`, transport, user)
	if err != nil {
		return nil, fmt.Errorf("store: list contacts: %w", err)
	}
	defer rs.Close()
	var out []Contact
	for rs.Next() {
		ct, err := scanContact(rs)
		if err != nil {
			return nil, fmt.Errorf("store: list contacts: %w", err)
		}
		out = append(out, ct)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: list contacts: %w", err)
	}
	return out, nil
}

// DeleteContact removes a contact; a missing one is ErrNotFound.
func (c common) DeleteContact(ctx context.Context, transport, user, remote string) error {
	n, err := c.b.writer().Exec(ctx, `DELETE FROM contacts WHERE transport = $1 AND user_jid = $2 AND remote = $3`,
		transport, user, remote)
	if err == nil && n == 0 {
		err = ErrNotFound
	}
	return wrapErr("delete contact", err)
}

const idMapColumns = `transport, user_jid, stanza_id, remote_id, peer, payload, created`

func scanIDMapping(s scanner) (IDMapping, error) {
	var (
		m       IDMapping
		created int64
	)
	if err := s.Scan(&m.Transport, &m.User, &m.StanzaID, &m.RemoteID, &m.Peer, &m.Payload, &created); err != nil {
		return IDMapping{}, err
	}
	m.Created = fromMS(created)
	return m, nil
}

// PutIDMapping records a pair. Pairs are not unique: when several match a
// lookup, the one recorded last wins.
func (c common) PutIDMapping(ctx context.Context, m IDMapping) error {
	if m.Transport == "" {
		return fmt.Errorf("store: put id mapping: transport must not be empty")
	}
	_, err := c.b.writer().Exec(ctx, `INSERT INTO id_map (`+idMapColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		m.Transport, m.User, m.StanzaID, m.RemoteID, m.Peer, m.Payload, ms(nowOr(m.Created)))
	return wrapErr("put id mapping", err)
}

func (c common) IDByRemote(ctx context.Context, transport, remoteID string) (IDMapping, error) {
	m, err := scanIDMapping(c.b.reader().QueryRow(ctx, `SELECT `+idMapColumns+` FROM id_map
WHERE transport = $1 AND remote_id = $2 ORDER BY id DESC LIMIT 1`, transport, remoteID))
	if err != nil {
		return IDMapping{}, wrapErr("id by remote", err)
	}
	return m, nil
}

func (c common) IDByStanza(ctx context.Context, transport, user, stanzaID string) (IDMapping, error) {
	m, err := scanIDMapping(c.b.reader().QueryRow(ctx, `SELECT `+idMapColumns+` FROM id_map
WHERE transport = $1 AND user_jid = $2 AND stanza_id = $3 ORDER BY id DESC LIMIT 1`, transport, user, stanzaID))
	if err != nil {
		return IDMapping{}, wrapErr("id by stanza", err)
	}
	return m, nil
}

func (c common) PruneIDMappings(ctx context.Context, before time.Time) (int64, error) {
	n, err := c.b.writer().Exec(ctx, `DELETE FROM id_map WHERE created < $1`, before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("store: prune id mappings: %w", err)
	}
	return n, nil
}

// wrapErr adds context to err, except to ErrNotFound, which callers compare
// with == as often as with errors.Is and which already names the package.
func wrapErr(op string, err error) error {
	if err == nil || err == ErrNotFound {
		return err
	}
	return fmt.Errorf("store: %s: %w", op, err)
}
