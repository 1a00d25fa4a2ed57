package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestLoadMigrations(t *testing.T) {
	file := func(sql string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(sql)} }
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []int // versions; nil: an error
		wantErr string
	}{
		{name: "in order", files: fstest.MapFS{
			"m/0002_more.sql": file("B"), "m/0001_init.sql": file("A"), "m/README.md": file("not sql"),
		}, want: []int{1, 2}},
		{name: "gap", files: fstest.MapFS{"m/0001_a.sql": file("A"), "m/0003_c.sql": file("C")}, wantErr: "expected version 2"},
		{name: "duplicate", files: fstest.MapFS{"m/0001_a.sql": file("A"), "m/0001_b.sql": file("B")}, wantErr: "expected version 2"},
		{name: "not numbered", files: fstest.MapFS{"m/init.sql": file("A")}, wantErr: "NNNN_description.sql"},
		{name: "zero", files: fstest.MapFS{"m/0000_a.sql": file("A")}, wantErr: "NNNN_description.sql"},
		{name: "empty", files: fstest.MapFS{"m/README.md": file("x")}, wantErr: "no migrations"},
		{name: "no directory", files: fstest.MapFS{}, wantErr: "read migrations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			migs, err := loadMigrations(tc.files, "m")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, m := range migs {
				got = append(got, m.version)
			}
			if !slices.Equal(got, tc.want) || migs[0].sql != "A" {
				t.Errorf("versions %v (first sql %q), want %v", got, migs[0].sql, tc.want)
			}
		})
	}
}

// The backends' migrations must stay in step: version N means the same schema.
func TestEmbeddedMigrationsInStep(t *testing.T) {
	lite, err := loadMigrations(migrationFiles, "migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := loadMigrations(migrationFiles, "migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) != len(pg) {
		t.Fatalf("%d sqlite migrations, %d postgres", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].name != pg[i].name {
			t.Errorf("migration %d: sqlite %s, postgres %s", i+1, lite[i].name, pg[i].name)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, "mysql", "x"); err == nil || !strings.Contains(err.Error(), `"mysql"`) {
		t.Errorf("unknown driver: err = %v, want one naming it", err)
	}
	if _, err := Open(ctx, DriverSQLite, ""); err == nil {
		t.Error("sqlite with empty dsn: no error")
	}
	// Nothing listens on port 1; the error must not leak the password.
	_, err := Open(ctx, DriverPostgres, "postgres://xgate:s3cretpw@127.0.0.1:1/xgate?connect_timeout=2&sslmode=disable")
	if err == nil || strings.Contains(err.Error(), "s3cretpw") {
		t.Errorf("unreachable postgres: err = %v, want an error without the password", err)
	}
	if _, err := Open(ctx, DriverPostgres, "postgres://xgate:s3cretpw@[bad"); err == nil || strings.Contains(err.Error(), "s3cretpw") {
		t.Errorf("malformed postgres dsn: err = %v, want an error without the password", err)
	}
}

func migrationsOf(t *testing.T, b Backend) []migration {
	switch s := b.(type) {
	case *SQLite:
		return s.migs
	case *Postgres:
		return s.migs
	}
	t.Fatalf("unknown backend %T", b)
	return nil
}

func setMigrations(t *testing.T, b Backend, migs []migration) {
	switch s := b.(type) {
	case *SQLite:
		s.migs = migs
	case *Postgres:
		s.migs = migs
	default:
		t.Fatalf("unknown backend %T", b)
	}
}

func testSchema(t *testing.T, b testBackend) {
	ctx := context.Background()
	dsn := b.newDSN(t)
	s, _ := b.openDSN(t, dsn, OpenOptions{NoMigrate: true})
	n := len(migrationsOf(t, s)) // the newest version this code knows
	steps := []struct {
		name         string
		run          func() (int, int, error)
		wantA, wantB int
	}{
		{"version of an empty database", func() (int, int, error) { return s.SchemaVersion(ctx) }, 0, n},
		{"migrate", func() (int, int, error) { return s.Migrate(ctx) }, 0, n},
		{"migrate again", func() (int, int, error) { return s.Migrate(ctx) }, n, n},
		{"version after", func() (int, int, error) { return s.SchemaVersion(ctx) }, n, n},
	}
	for _, st := range steps {
		a, bb, err := st.run()
		if err != nil || a != st.wantA || bb != st.wantB {
			t.Errorf("%s = %d, %d, %v; want %d, %d", st.name, a, bb, err, st.wantA, st.wantB)
		}
	}

	// A newer xgate migrated the database to version 99.
	b.rawExec(t, dsn, "INSERT INTO schema_version (version, applied) VALUES (99, 0)")
	for _, open := range []func() error{
		func() error { _, err := Open(ctx, b.driver, dsn); return err },
		func() error { _, err := OpenWith(ctx, b.driver, dsn, OpenOptions{}); return err },
	} {
		err := open()
		if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), "99") {
			t.Errorf("open of a newer schema: err = %v, want ErrSchemaTooNew naming version 99", err)
		}
	}
	old, _ := b.openDSN(t, dsn, OpenOptions{NoMigrate: true})
	if db, code, err := old.SchemaVersion(ctx); err != nil || db != 99 || code != n {
		t.Errorf("SchemaVersion = %d, %d, %v; want 99, %d", db, code, err, n)
	}
	if _, _, err := old.Migrate(ctx); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Migrate of a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

// testUpgrade migrates a populated database at the current version with a further
// (test-only) migration, as a future xgate would.
func testUpgrade(t *testing.T, b testBackend) {
	ctx := context.Background()
	dsn := b.newDSN(t)
	v1, _ := b.openDSN(t, dsn, OpenOptions{})
	mustPutRegistration(t, v1, Registration{Transport: "sms", User: "alice@example.org", RemoteID: "+1555"})
	enqueue(t, v1.Outbox(), QueueItem{Transport: "sms", Key: "k", Payload: []byte("kept")})

	v2, _ := b.openDSN(t, dsn, OpenOptions{NoMigrate: true})
	migs := slices.Clone(migrationsOf(t, v2))
	n := len(migs)
	migs = append(migs, migration{version: n + 1, name: "0099_test.sql", sql: `
ALTER TABLE contacts ADD COLUMN note TEXT NOT NULL DEFAULT '';
CREATE INDEX contacts_note ON contacts (note);`})
	setMigrations(t, v2, migs)
	if from, to, err := v2.Migrate(ctx); err != nil || from != n || to != n+1 {
		t.Fatalf("Migrate = %d, %d, %v; want %d, %d", from, to, err, n, n+1)
	}
	if db, code, err := v2.SchemaVersion(ctx); err != nil || db != n+1 || code != n+1 {
		t.Errorf("SchemaVersion = %d, %d, %v; want %d, %d", db, code, err, n+1, n+1)
	}
	if r, err := v2.FindRegistration(ctx, "sms", "+1555"); err != nil || r.User != "alice@example.org" {
		t.Errorf("registration after upgrade: %+v, %v", r, err)
	}
	items, err := v2.Outbox().Claim(ctx, "sms", "w", base, 1e9, 10)
	if err != nil || len(items) != 1 || string(items[0].Payload) != "kept" {
		t.Errorf("outbox after upgrade: %+v, %v", items, err)
	}
	if err := v2.PutContact(ctx, Contact{Transport: "sms", User: "alice@example.org", Remote: "+1666"}); err != nil {
		t.Errorf("PutContact after upgrade: %v", err)
	}
	// This xgate (without the test migration) now refuses the upgraded database.
	if _, err := Open(ctx, b.driver, dsn); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("older code on the upgraded database: %v, want ErrSchemaTooNew", err)
	}
}

// testUpgradeFromV1 fills a database at schema version 1 (0001_init.sql is
// frozen: migrations are append-only) and migrates it to the newest version,
// as an operator upgrading from the first release would.
func testUpgradeFromV1(t *testing.T, b testBackend) {
	ctx := context.Background()
	dsn := b.newDSN(t)
	s, _ := b.openDSN(t, dsn, OpenOptions{NoMigrate: true})
	all := migrationsOf(t, s)
	setMigrations(t, s, all[:1])
	if from, to, err := s.Migrate(ctx); err != nil || from != 0 || to != 1 {
		t.Fatalf("Migrate to v1 = %d, %d, %v; want 0, 1", from, to, err)
	}
	mustPutRegistration(t, s, Registration{Transport: "sms", User: "alice@example.org", RemoteID: "+1555",
		Settings: map[string]string{"k": "v"}})
	if err := s.PutContact(ctx, Contact{Transport: "sms", User: "alice@example.org", Remote: "+1666"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIDMapping(ctx, IDMapping{Transport: "sms", User: "alice@example.org", StanzaID: "s1", RemoteID: "SM1"}); err != nil {
		t.Fatal(err)
	}
	done := enqueue(t, s.Inbox(), QueueItem{Transport: "sms", Key: "k", RemoteID: "SM9"})
	complete(t, s.Inbox(), done)
	waiting := enqueue(t, s.Outbox(), QueueItem{Transport: "sms", Key: "k", Payload: []byte("kept")})

	setMigrations(t, s, all)
	if from, to, err := s.Migrate(ctx); err != nil || from != 1 || to != len(all) {
		t.Fatalf("Migrate from v1 = %d, %d, %v; want 1, %d", from, to, err, len(all))
	}
	// Reopen as the current code does: no migration left, everything kept.
	cur, _ := b.openDSN(t, dsn, OpenOptions{})
	if db, code, err := cur.SchemaVersion(ctx); err != nil || db != code {
		t.Errorf("SchemaVersion = %d, %d, %v; want equal", db, code, err)
	}
	if r, err := cur.FindRegistration(ctx, "sms", "+1555"); err != nil || r.User != "alice@example.org" || r.Settings["k"] != "v" {
		t.Errorf("registration after upgrade: %+v, %v", r, err)
	}
	if _, err := cur.GetContact(ctx, "sms", "alice@example.org", "+1666"); err != nil {
		t.Errorf("contact after upgrade: %v", err)
	}
	if m, err := cur.IDByRemote(ctx, "sms", "SM1"); err != nil || m.StanzaID != "s1" {
		t.Errorf("id mapping after upgrade: %+v, %v", m, err)
	}
	if id, inserted, err := cur.Inbox().Enqueue(ctx, QueueItem{Transport: "sms", Key: "k", RemoteID: "SM9"}); err != nil || inserted || id != done {
		t.Errorf("inbox tombstone after upgrade: Enqueue = %d, %v, %v; want deduplicated against %d", id, inserted, err, done)
	}
	items, err := cur.Outbox().Claim(ctx, "sms", "w", base, time.Minute, 10)
	if err != nil || len(items) != 1 || items[0].ID != waiting || string(items[0].Payload) != "kept" {
		t.Errorf("outbox after upgrade: %+v, %v", items, err)
	}
}
