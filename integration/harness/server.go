package harness

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// Kind names an XMPP server implementation the harness can start.
type Kind string

// The XMPP servers the harness starts.
const (
	Prosody  Kind = "prosody"
	Ejabberd Kind = "ejabberd"
)

// Kinds lists every XMPP server kind, in the order tests run them.
func Kinds() []Kind { return []Kind{Prosody, Ejabberd} }

// Component is one XEP-0114 component domain the server accepts, with its
// shared secret. Components must be declared when the server starts.
type Component struct {
	Domain string
	Secret string
}

// ServerOptions are what every XMPP server kind accepts.
type ServerOptions struct {
	// Domain is the server's main virtual host; default "localhost".
	Domain string
	// ExtraHosts are further virtual hosts served by the same process
	// ("other.localhost"): their users reach components by local routing, no
	// s2s involved. Tests use them as "foreign" JIDs.
	ExtraHosts []string
	// Components are the component domains, each with its secret.
	Components []Component
	// Debug raises the server's log level to debug (every stanza logged).
	Debug bool
}

// startTimeout bounds how long a server may take to open its ports.
// ejabberd needs 1–1.5 s on an idle machine; a loaded 2-core CI box is slower.
const startTimeout = 60 * time.Second

// stopGrace is how long a graceful stop may take before the harness kills.
const stopGrace = 20 * time.Second

// XMPPServer is a running Prosody or ejabberd, started by StartProsody,
// StartEjabberd or StartServer on free 127.0.0.1 ports, with its config, data
// and logs in a temporary directory. It is stopped (and its process group
// killed) by the test's cleanup. Its methods are for the test goroutine; they
// are not meant for concurrent use.
type XMPPServer struct {
	Kind Kind
	// Domain is the main virtual host ("localhost"); ExtraHosts the others.
	Domain     string
	ExtraHosts []string
	// C2SAddr is the plaintext client listener, ComponentAddr the XEP-0114
	// listener, both "127.0.0.1:port". They stay the same across restarts.
	C2SAddr       string
	ComponentAddr string
	// Components are the component domains the server accepts.
	Components []Component
	// Dir holds the config, the data and the logs.
	Dir string
	// ConfigPath is the generated configuration file.
	ConfigPath string

	proc     *process
	logPaths []string
	// argv and env start the server; register adds a user.
	argv     []string
	env      []string
	register func(accounts []account) ([]byte, error)
}

// Account is a user to register: User is a localpart on the main domain or a
// bare JID on one of the server's hosts.
type Account struct {
	User, Pass string
}

type account struct{ local, host, pass string }

// StartServer starts a server of the given kind with opts. It skips the test
// (or fails it, see RequireEnv) when the server is not installed.
func StartServer(t T, kind Kind, opts ServerOptions) *XMPPServer {
	t.Helper()
	switch kind {
	case Prosody:
		return StartProsody(t, ProsodyOptions{ServerOptions: opts})
	case Ejabberd:
		return StartEjabberd(t, EjabberdOptions{ServerOptions: opts})
	}
	t.Fatalf("harness: unknown server kind %q", kind)
	return nil
}

func (o *ServerOptions) setDefaults() {
	if o.Domain == "" {
		o.Domain = "localhost"
	}
}

// serverDir makes a temporary directory readable by others (0755), as the
// servers' helper users need (RECIPES: Dovecot, ejabberdctl's su).
func serverDir(t T, name string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("harness: chmod %s: %v", dir, err)
	}
	sub := dir + "/" + name
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatalf("harness: mkdir %s: %v", sub, err)
	}
	return sub
}

// launch registers log dumping and the final stop, then starts the server.
func (s *XMPPServer) launch(t T) {
	t.Helper()
	dumpOnFailure(t, string(s.Kind), s.logPaths...)
	t.Cleanup(func() {
		if err := s.proc.stop(syscall.SIGTERM, stopGrace); err != nil {
			t.Logf("harness: %s: final stop: %v", s.Kind, err)
		}
	})
	s.Start(t)
}

// Start starts the server (again) on the same ports with the same
// configuration and data, and waits until both listeners accept connections.
func (s *XMPPServer) Start(t T) {
	t.Helper()
	began := time.Now()
	if err := s.proc.start(s.Dir, s.env, s.argv...); err != nil {
		t.Fatalf("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	addrs := []string{s.C2SAddr}
	if len(s.Components) > 0 {
		// Without components neither server opens the component listener.
		addrs = append(addrs, s.ComponentAddr)
	}
	for _, addr := range addrs {
		if err := WaitTCP(ctx, addr, s.proc.exited()); err != nil {
			t.Fatalf("harness: %s did not become ready: %v", s.Kind, err)
		}
	}
	t.Logf("harness: %s ready in %v (c2s %s, component %s)", s.Kind, time.Since(began).Round(time.Millisecond), s.C2SAddr, s.ComponentAddr)
}

// Stop stops the server gracefully (SIGTERM) and waits until it has exited.
func (s *XMPPServer) Stop(t T) {
	t.Helper()
	began := time.Now()
	if err := s.proc.stop(syscall.SIGTERM, stopGrace); err != nil {
		t.Logf("harness: %s stop: %v", s.Kind, err)
	}
	t.Logf("harness: %s stopped in %v", s.Kind, time.Since(began).Round(time.Millisecond))
}

// Kill kills the server's process group with SIGKILL and reaps it.
func (s *XMPPServer) Kill(t T) {
	t.Helper()
	if err := s.proc.stop(syscall.SIGKILL, stopGrace); err != nil {
		t.Fatalf("harness: %s kill: %v", s.Kind, err)
	}
}

// Freeze stops the server's processes with SIGSTOP: connections stay open but
// nothing answers, like a hung server. Thaw resumes them.
func (s *XMPPServer) Freeze(t T) {
	t.Helper()
	if err := s.proc.signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("%v", err)
	}
}

// Thaw resumes a frozen server (SIGCONT).
func (s *XMPPServer) Thaw(t T) {
	t.Helper()
	if err := s.proc.signal(syscall.SIGCONT); err != nil {
		t.Fatalf("%v", err)
	}
}

// Running reports whether the server process is alive.
func (s *XMPPServer) Running() bool { return s.proc.running() }

// Register creates the account user with password pass. user is a localpart on
// Domain ("alice") or a bare JID on one of the server's hosts
// ("mallory@other.localhost"). The server must be running.
func (s *XMPPServer) Register(t T, user, pass string) {
	t.Helper()
	s.RegisterAll(t, Account{User: user, Pass: pass})
}

// RegisterAll registers several accounts at once (for ejabberd, one admin VM
// boot for all of them instead of one per account).
func (s *XMPPServer) RegisterAll(t T, accounts ...Account) {
	t.Helper()
	var list []account
	var names []string
	for _, a := range accounts {
		local, host := a.User, s.Domain
		if i := strings.IndexByte(a.User, '@'); i >= 0 {
			local, host = a.User[:i], a.User[i+1:]
		}
		list = append(list, account{local: local, host: host, pass: a.Pass})
		names = append(names, local+"@"+host)
	}
	began := time.Now()
	out, err := s.register(list)
	if err != nil {
		t.Fatalf("harness: %s: register %s: %v\n%s", s.Kind, strings.Join(names, ", "), err, out)
	}
	t.Logf("harness: %s: registered %s in %v", s.Kind, strings.Join(names, ", "), time.Since(began).Round(time.Millisecond))
}

// JID returns the bare JID of localpart user on the main domain.
func (s *XMPPServer) JID(user string) string { return user + "@" + s.Domain }

// Secret returns the secret of component domain, failing the test when the
// server does not know that domain.
func (s *XMPPServer) Secret(t T, domain string) string {
	t.Helper()
	for _, c := range s.Components {
		if c.Domain == domain {
			return c.Secret
		}
	}
	t.Fatalf("harness: %s has no component %q", s.Kind, domain)
	return ""
}

// Logs returns the server's log(s) so far.
func (s *XMPPServer) Logs() string {
	var b strings.Builder
	for _, p := range s.logPaths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "----- %s -----\n%s", p, data)
	}
	return b.String()
}
