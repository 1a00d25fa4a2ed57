package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds one directory of numbered SQL files per backend. The
// files are append-only: a released migration is never edited; a change is a
// new file with the next number.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// migration is one numbered SQL script.
type migration struct {
	version int
	name    string // file name, for errors
	sql     string
}

// loadMigrations reads dir of fsys. File names are NNNN_description.sql; the
// numbers must run 1, 2, 3... without gaps or duplicates.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("store: read migrations %s: %w", dir, err)
	}
	var migs []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration %s: name must be NNNN_description.sql", name)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("store: read migration %s: %w", name, err)
		}
		migs = append(migs, migration{version: v, name: name, sql: string(b)})
	}
	// ReadDir sorts by name and the numbers are zero-padded, but check order
	// and gaps by number: a misnamed file must not be skipped silently.
	for i, m := range migs {
		if m.version != i+1 {
			return nil, fmt.Errorf("store: migration %s: expected version %d", m.name, i+1)
		}
	}
	if len(migs) == 0 {
		return nil, fmt.Errorf("store: no migrations in %s", dir)
	}
	return migs, nil
}

// schemaTooNew builds the error Open and Migrate return for a database
// migrated by a newer xgate.
func schemaTooNew(db, code int) error {
	return fmt.Errorf("store: database is at schema version %d, this xgate knows up to %d: %w", db, code, ErrSchemaTooNew)
}

const (
	createVersionTable = `CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    applied BIGINT  NOT NULL
)`
	selectVersion = `SELECT COALESCE(MAX(version), 0) FROM schema_version`
	insertVersion = `INSERT INTO schema_version (version, applied) VALUES ($1, $2)`
)

// readVersion returns the database's schema version; tableExists is the
// backend's query counting schema_version tables (0 means a fresh database).
func readVersion(ctx context.Context, q querier, tableExists string) (int, error) {
	var n int
	if err := q.QueryRow(ctx, tableExists).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: look for schema_version: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	var v int
	if err := q.QueryRow(ctx, selectVersion).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: read schema version: %w", err)
	}
	return v, nil
}

// applyMigrations brings the database q (a transaction) to the last of migs.
func applyMigrations(ctx context.Context, q querier, migs []migration) (from, to int, err error) {
	if _, err := q.Exec(ctx, createVersionTable); err != nil {
		return 0, 0, fmt.Errorf("store: create schema_version: %w", err)
	}
	var v int
	if err := q.QueryRow(ctx, selectVersion).Scan(&v); err != nil {
		return 0, 0, fmt.Errorf("store: read schema version: %w", err)
	}
	code := len(migs)
	if v > code {
		return v, v, schemaTooNew(v, code)
	}
	for _, m := range migs[v:] {
		if _, err := q.Exec(ctx, m.sql); err != nil {
			return v, v, fmt.Errorf("store: migration %s: %w", m.name, err)
		}
		if _, err := q.Exec(ctx, insertVersion, m.version, time.Now().UnixMilli()); err != nil {
			return v, v, fmt.Errorf("store: record migration %s: %w", m.name, err)
		}
	}
	return v, code, nil
}
