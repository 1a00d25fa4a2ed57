package harness

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestPgWithDatabase(t *testing.T) {
	tests := []struct {
		dsn, want string
	}{
		{"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "postgres://postgres@127.0.0.1:5432/x1?sslmode=disable"},
		{"postgresql://u:p%40ss@h/db", "postgresql://u:p%40ss@h/x1"},
		{"postgres://h:5432", "postgres://h:5432/x1"},
		{"host=127.0.0.1 port=5432 dbname=postgres", "host=127.0.0.1 port=5432 dbname=postgres dbname=x1"},
	}
	for _, tc := range tests {
		got, err := pgWithDatabase(tc.dsn, "x1")
		if err != nil || got != tc.want {
			t.Errorf("pgWithDatabase(%q) = %q, %v; want %q", tc.dsn, got, err, tc.want)
		}
		cfg, err := pgx.ParseConfig(got)
		if err != nil || cfg.Database != "x1" {
			t.Errorf("pgx reads %q as database %v (%v), want x1", got, cfg, err)
		}
	}
	if _, err := pgWithDatabase("postgres://u:s3cret@[bad", "x1"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad URL: err = %v, want an error without the password", err)
	}
}

// TestStartPostgres starts a private cluster and checks that each database it
// hands out is fresh and separate.
func TestStartPostgres(t *testing.T) {
	var p Postgres
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	ctx := context.Background()
	names := map[string]bool{}
	for range 2 {
		dsn := p.NewDatabase(t)
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		var name string
		var tables int
		err = conn.QueryRow(ctx, `SELECT current_database(), (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')`).Scan(&name, &tables)
		conn.Close(ctx)
		if err != nil || tables != 0 || names[name] {
			t.Fatalf("database %q (%v): %d tables, seen before %v; want a fresh one", name, err, tables, names[name])
		}
		names[name] = true
	}
}
