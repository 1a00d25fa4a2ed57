package store

import (
	"context"
	"fmt"
)

// Drivers Open accepts (config key store.driver).
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// OpenOptions tune OpenWith.
type OpenOptions struct {
	// NoMigrate opens the database as it is: no pending migration is applied
	// and a schema newer than the code is not refused. It exists for
	// `xgate migrate`, which reports SchemaVersion and then calls Migrate; a
	// Store opened this way must not serve traffic before Migrate succeeded.
	NoMigrate bool
}

// Migrator reports and upgrades a database's schema. Both backends implement it.
type Migrator interface {
	// SchemaVersion returns the version the database is at (0: empty database)
	// and the newest version this code knows. It changes nothing.
	SchemaVersion(ctx context.Context) (db, code int, err error)
	// Migrate applies every pending migration in one transaction and returns
	// the versions before and after. It fails with an error wrapping
	// ErrSchemaTooNew when the database is newer than the code. Concurrent
	// callers (several xgate processes on one PostgreSQL) are serialised.
	Migrate(ctx context.Context) (from, to int, err error)
}

// Backend is a Store that can also report and migrate its schema.
type Backend interface {
	Store
	Migrator
}

// Open opens the store of driver ("sqlite" or "postgres") at dsn, applies
// pending migrations, and refuses (ErrSchemaTooNew) a database migrated by a
// newer xgate. For SQLite, dsn is a file path; for PostgreSQL, a pgx connection
// string or URL.
func Open(ctx context.Context, driver, dsn string) (Store, error) {
	b, err := OpenWith(ctx, driver, dsn, OpenOptions{})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// OpenWith is Open with options; it returns the Backend so that callers can
// report or apply migrations themselves (see OpenOptions.NoMigrate).
func OpenWith(ctx context.Context, driver, dsn string, opts OpenOptions) (Backend, error) {
	switch driver {
	case DriverSQLite:
		s, err := OpenSQLiteWith(ctx, dsn, opts)
		if err != nil {
			return nil, err
		}
		return s, nil
	case DriverPostgres:
		p, err := OpenPostgresWith(ctx, dsn, opts)
		if err != nil {
			return nil, err
		}
		return p, nil
	default:
		return nil, fmt.Errorf("store: unknown driver %q (want %q or %q)", driver, DriverSQLite, DriverPostgres)
	}
}
