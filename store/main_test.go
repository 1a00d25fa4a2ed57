package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"xgate/integration/harness"
)

// testPG is the PostgreSQL cluster of this test binary: started by the first
// test that asks for a database, stopped by TestMain. Every test gets a fresh
// database on it (harness.Postgres.NewDatabase).
var testPG = &harness.Postgres{}

func TestMain(m *testing.M) {
	code := m.Run()
	if err := testPG.Close(); err != nil {
		os.Stderr.WriteString("store tests: " + err.Error() + "\n")
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// testBackend opens stores of one driver on fresh databases.
type testBackend struct {
	driver string
	// newDSN returns the DSN of a fresh, empty database, removed after the test.
	newDSN func(t testing.TB) string
	// rawExec runs SQL on the database behind the store's back.
	rawExec func(t testing.TB, dsn, query string)
}

func sqliteBackend() testBackend {
	return testBackend{
		driver: DriverSQLite,
		newDSN: func(t testing.TB) string { return filepath.Join(t.TempDir(), "xgate.db") },
		rawExec: func(t testing.TB, dsn, query string) {
			t.Helper()
			db, err := sql.Open("sqlite", dsn)
			if err != nil {
				t.Fatalf("raw open: %v", err)
			}
			defer db.Close()
			if _, err := db.Exec(query); err != nil {
				t.Fatalf("raw exec %q: %v", query, err)
			}
		},
	}
}

func postgresBackend() testBackend {
	return testBackend{
		driver: DriverPostgres,
		newDSN: func(t testing.TB) string { return testPG.NewDatabase(t) },
		rawExec: func(t testing.TB, dsn, query string) {
			t.Helper()
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatalf("raw connect: %v", err)
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, query); err != nil {
				t.Fatalf("raw exec %q: %v", query, err)
			}
		},
	}
}

// open returns a migrated store on a fresh database, closed after the test.
func (b testBackend) open(t testing.TB) Store {
	t.Helper()
	s, _ := b.openDSN(t, b.newDSN(t), OpenOptions{})
	return s
}

// openDSN opens dsn with opts and closes the store after the test.
func (b testBackend) openDSN(t testing.TB, dsn string, opts OpenOptions) (Backend, string) {
	t.Helper()
	s, err := OpenWith(context.Background(), b.driver, dsn, opts)
	if err != nil {
		t.Fatalf("open %s: %v", b.driver, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s, dsn
}

func TestSQLite(t *testing.T)   { runSuite(t, sqliteBackend()) }
func TestPostgres(t *testing.T) { runSuite(t, postgresBackend()) }

// runSuite runs every behaviour the Store interface promises against one
// backend. Each subtest has a database of its own, so they run in parallel
// (which mostly overlaps PostgreSQL's CREATE DATABASE and commit latency).
func runSuite(t *testing.T, b testBackend) {
	type test struct {
		name string
		run  func(t *testing.T)
	}
	withStore := func(f func(*testing.T, Store)) func(*testing.T) {
		return func(t *testing.T) { f(t, b.open(t)) }
	}
	tests := []test{
		{"Registrations", withStore(testRegistrations)},
		{"RegistrationConflicts", withStore(testRegistrationConflicts)},
		{"DeleteRegistration", withStore(testDeleteRegistration)},
		{"Contacts", withStore(testContacts)},
		{"IDMappings", withStore(testIDMappings)},
		{"QueuesAreSeparate", withStore(testQueuesSeparate)},
		{"Schema", func(t *testing.T) { testSchema(t, b) }},
		{"Upgrade", func(t *testing.T) { testUpgrade(t, b) }},
		{"UpgradeFromV1", func(t *testing.T) { testUpgradeFromV1(t, b) }},
	}
	for _, q := range []struct {
		name string
		get  func(Store) Queue
	}{
		{"Outbox", Store.Outbox},
		{"Inbox", Store.Inbox},
	} {
		withQueue := func(f func(*testing.T, Queue)) func(*testing.T) {
			return func(t *testing.T) { f(t, q.get(b.open(t))) }
		}
		tests = append(tests,
			test{q.name + "/Fields", withQueue(testQueueFields)},
			test{q.name + "/OrderPerKeyUnderRetries", withQueue(testQueueOrder)},
			test{q.name + "/LeaseExpiry", withQueue(testQueueLease)},
			test{q.name + "/Extend", withQueue(testQueueExtend)},
			test{q.name + "/Dedupe", withQueue(testQueueDedupe)},
			test{q.name + "/DepthAndPrune", withQueue(testQueueDepthPrune)},
			test{q.name + "/Misuse", withQueue(testQueueMisuse)},
			test{q.name + "/Concurrent", withQueue(func(t *testing.T, q Queue) { testQueueConcurrent(t, q) })},
			test{q.name + "/ConcurrentStores", func(t *testing.T) {
				// Two stores on one database, as two xgate processes.
				dsn := b.newDSN(t)
				s1, _ := b.openDSN(t, dsn, OpenOptions{})
				s2, _ := b.openDSN(t, dsn, OpenOptions{})
				testQueueConcurrent(t, q.get(s1), q.get(s2))
			}},
		)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t)
		})
	}
}
