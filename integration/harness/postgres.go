package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresDSNEnv names an existing PostgreSQL server to use instead of a
// private cluster, as a pgx DSN of a role that may CREATE DATABASE. Tests still
// get a fresh database each.
const PostgresDSNEnv = "XGATE_TEST_POSTGRES_DSN"

// pgTimeout bounds initdb, pg_ctl and each admin statement.
const pgTimeout = 2 * time.Minute

// Postgres is a PostgreSQL server for tests: the server named by
// XGATE_TEST_POSTGRES_DSN, or else a private cluster started on first use
// (initdb as user postgres in a temporary directory, pg_ctl on a free
// 127.0.0.1 port, trust authentication, its Unix socket in that directory,
// the packaged cluster untouched). NewDatabase gives each test a fresh, empty
// database dropped in the test's cleanup, so one cluster can serve a whole test
// binary: keep a Postgres in the package's TestMain and Close it after m.Run.
//
// The zero value is ready to use. NewDatabase is safe for concurrent use.
type Postgres struct {
	// Durable keeps a private cluster's fsync, synchronous_commit and
	// full_page_writes on, as in production: for benchmarks. Tests leave it
	// off; they do not need to survive a power cut and run faster without.
	Durable bool

	once    sync.Once
	missing string // non-empty: what is missing (Missing's rule applies)
	err     error  // the server could not be started
	admin   string // DSN of the maintenance database

	// Private cluster; dir is "" for an external server.
	dir, pgctl string
	cred       *syscall.Credential

	seq      atomic.Int64
	stopOnce sync.Once
	stopErr  error
}

// StartPostgres returns the DSN of a fresh database on a PostgreSQL server of
// its own, stopped in t's cleanup. When the binaries are missing it skips the
// test (fails it when XGATE_REQUIRE_SERVERS=1). Tests that need several
// databases should share a Postgres instead: a cluster takes a second or two
// to create.
func StartPostgres(t T) (dsn string) {
	t.Helper()
	p := &Postgres{}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Logf("harness: %v", err)
		}
	})
	return p.NewDatabase(t)
}

// NewDatabase creates an empty database, returns its DSN and drops it in t's
// cleanup. The first call starts the server.
func (p *Postgres) NewDatabase(t T) (dsn string) {
	t.Helper()
	p.once.Do(func() { p.start(t) })
	if p.missing != "" {
		Missing(t, p.missing)
		return ""
	}
	if p.err != nil {
		t.Fatalf("harness: postgres: %v", p.err)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := fmt.Sprintf("xgate_test_%d_%d_%s", os.Getpid(), p.seq.Add(1), hex.EncodeToString(rnd[:]))
	// FILE_COPY (PostgreSQL 15+) copies the small template faster than
	// logging it through the WAL; older servers do not know the option.
	err := p.adminExec("CREATE DATABASE " + name + " STRATEGY FILE_COPY")
	if err != nil && strings.Contains(strings.ToLower(err.Error()), "strategy") {
		err = p.adminExec("CREATE DATABASE " + name)
	}
	if err != nil {
		t.Fatalf("harness: postgres: create database: %v", err)
	}
	t.Cleanup(func() {
		// FORCE: a test that failed may have left connections open.
		if err := p.adminExec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Logf("harness: postgres: drop database %s: %v", name, err)
		}
	})
	dsn, err = pgWithDatabase(p.admin, name)
	if err != nil {
		t.Fatalf("harness: postgres: %v", err)
	}
	return dsn
}

// Close stops the private cluster, if one was started, and removes its
// directory. It is safe to call more than once and on a zero Postgres.
func (p *Postgres) Close() error {
	p.stopOnce.Do(func() {
		if p.dir == "" {
			return
		}
		data := filepath.Join(p.dir, "data")
		if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
			if err := p.run(p.pgctl, "-D", data, "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
				p.stopErr = fmt.Errorf("postgres: stop: %w", err)
			}
		}
		if err := os.RemoveAll(p.dir); err != nil && p.stopErr == nil {
			p.stopErr = fmt.Errorf("postgres: remove %s: %w", p.dir, err)
		}
	})
	return p.stopErr
}

// start sets admin, or missing, or err.
func (p *Postgres) start(t T) {
	if dsn := os.Getenv(PostgresDSNEnv); dsn != "" {
		p.admin = dsn
		if err := p.adminExec("SELECT 1"); err != nil {
			p.err = fmt.Errorf("%s is set but the server does not answer: %w", PostgresDSNEnv, err)
		}
		return
	}
	bin, err := PostgresBinDir()
	if err != nil {
		p.missing = "PostgreSQL (initdb, pg_ctl; Debian package postgresql)"
		return
	}
	if os.Geteuid() == 0 {
		// The server refuses to run as root: run it as the package's user.
		u, err := user.Lookup("postgres")
		if err != nil {
			p.missing = "the system user postgres (Debian package postgresql)"
			return
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	began := time.Now()
	port, err := p.startCluster(bin)
	if err != nil {
		p.err = err
		return
	}
	p.admin = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	t.Logf("harness: postgres cluster in %s on 127.0.0.1:%d, up in %v", p.dir, port, time.Since(began).Round(time.Millisecond))
}

// startCluster creates the cluster directory, runs initdb and starts the
// server on a free port; it returns the port.
func (p *Postgres) startCluster(bin string) (int, error) {
	pgReapStale(bin)
	// The pid in the name lets a later run find clusters whose test binary
	// died (a panic, a -timeout) before it could stop them.
	dir, err := os.MkdirTemp("", fmt.Sprintf("xgate-pg-%d-", os.Getpid()))
	if err != nil {
		return 0, fmt.Errorf("make cluster directory: %w", err)
	}
	p.dir, p.pgctl = dir, filepath.Join(bin, "pg_ctl")
	if p.cred != nil {
		if err := os.Chown(dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			return 0, fmt.Errorf("chown %s: %w", dir, err)
		}
	}
	data := filepath.Join(dir, "data")
	// --no-sync: a test cluster need not survive a power cut; it halves initdb.
	if err := p.run(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres",
		"-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return 0, fmt.Errorf("initdb: %w", err)
	}
	// The port may be taken between FreePort and the server's bind: retry.
	var lastErr error
	for range 3 {
		port, err := pgFreePort()
		if err != nil {
			return 0, err
		}
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s", port, dir)
		if !p.Durable {
			opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
		}
		lastErr = p.run(p.pgctl, "-D", data, "-o", opts, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "start")
		if lastErr == nil {
			return port, nil
		}
	}
	return 0, fmt.Errorf("pg_ctl start: %w\nserver log:\n%s", lastErr, tailFile(filepath.Join(dir, "server.log"), 4<<10))
}

// pgReapStale stops and removes the private clusters of test binaries that
// are gone. Clusters of running processes are left alone.
func pgReapStale(bin string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "xgate-pg-*-*"))
	for _, dir := range dirs {
		pidText, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(dir), "xgate-pg-"), "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		data := filepath.Join(dir, "data")
		if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
			st, err := os.Stat(dir)
			if err != nil {
				continue
			}
			stale := &Postgres{dir: dir}
			if sys, ok := st.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
				stale.cred = &syscall.Credential{Uid: sys.Uid, Gid: sys.Gid}
			}
			_ = stale.run(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "-t", "30", "stop")
		}
		_ = os.RemoveAll(dir)
	}
}

// run runs a PostgreSQL program as the cluster's user, in the cluster
// directory, and returns its output in the error when it fails. Output goes
// to a file, not a pipe: the server pg_ctl leaves running must not hold a pipe
// that Wait would wait for.
func (p *Postgres) run(argv ...string) error {
	out, err := os.CreateTemp(p.dir, "cmd-*.log")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	ctx, cancel := context.WithTimeout(context.Background(), pgTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = p.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}
	cmd.Stdout, cmd.Stderr = out, out
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", filepath.Base(argv[0]), err, tailFile(out.Name(), 4<<10))
	}
	return nil
}

// adminExec runs one statement on the maintenance database.
func (p *Postgres) adminExec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), pgTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// PostgresBinDir finds the directory holding initdb and pg_ctl: the newest
// /usr/lib/postgresql/*/bin (Debian), else the directory of pg_ctl on PATH.
func PostgresBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if pgHasBinaries(d) {
			return d, nil
		}
	}
	if path, err := exec.LookPath("pg_ctl"); err == nil && pgHasBinaries(filepath.Dir(path)) {
		return filepath.Dir(path), nil
	}
	return "", errors.New("harness: postgres: no initdb and pg_ctl in /usr/lib/postgresql/*/bin or on PATH")
}

func pgHasBinaries(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.IsDir() {
			return false
		}
	}
	return true
}

// pgMajor extracts 15 from /usr/lib/postgresql/15/bin (0 when it cannot).
func pgMajor(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// pgFreePort is FreePort for code that has no T to fail.
func pgFreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// pgWithDatabase returns dsn with its database replaced by name; dsn is a
// postgres:// URL or a keyword=value string.
func pgWithDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", errors.New("cannot parse the postgres URL") // never echo: it may hold a password
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// In keyword=value form the last occurrence of a keyword wins.
	return dsn + " dbname=" + name, nil
}
