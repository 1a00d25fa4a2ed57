package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// IRCServer is a private ngircd started by StartNgircd.
type IRCServer struct {
	// Addr is 127.0.0.1:port; Host is what xgate addresses use (127.0.0.1),
	// Port the plaintext port.
	Addr string
	Host string
	Port int
	// Name is the server's name in its replies.
	Name string
	Dir  string

	proc *process
	argv []string
}

// StartNgircd starts ngircd in the foreground (-n) on a free 127.0.0.1 port
// with a generated configuration: plaintext only, no PAM, no ident or DNS
// lookups, no connection limits per IP, a short MOTD. It skips the test when
// ngircd is not installed (fails when RequireEnv is set).
func StartNgircd(t T) *IRCServer {
	t.Helper()
	return StartNgircdWith(t, NgircdOptions{})
}

// NgircdOptions change StartNgircdWith's configuration.
type NgircdOptions struct {
	// NoFloodLimits turns off ngircd's penalties and gives every client the
	// relaxed flood protection mode F, for load runs.
	NoFloodLimits bool
}

// StartNgircdWith is StartNgircd with options.
func StartNgircdWith(t T, opts NgircdOptions) *IRCServer {
	t.Helper()
	bin, err := exec.LookPath("ngircd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/ngircd"); serr == nil {
			bin = "/usr/sbin/ngircd"
		} else {
			Missing(t, "ngircd (apt-get install ngircd)")
			return nil
		}
	}
	dir := t.TempDir()
	port := FreePort(t)
	s := &IRCServer{
		Addr: Addr(port), Host: "127.0.0.1", Port: port, Name: "irc.test.local", Dir: dir,
		proc: newProcess("ngircd", filepath.Join(dir, "ngircd.log")),
	}
	conf := filepath.Join(dir, "ngircd.conf")
	if err := os.WriteFile(filepath.Join(dir, "motd"), []byte("test server\n"), 0o644); err != nil {
		t.Fatalf("harness: ngircd: %v", err)
	}
	if err := os.WriteFile(conf, []byte(ngircdConfig(s, opts)), 0o644); err != nil {
		t.Fatalf("harness: ngircd: write config: %v", err)
	}
	s.argv = []string{bin, "-n", "-f", conf}
	dumpOnFailure(t, "ngircd", s.proc.logPath)
	t.Cleanup(func() {
		if err := s.proc.stop(syscall.SIGTERM, 5*time.Second); err != nil {
			t.Logf("harness: ngircd: final stop: %v", err)
		}
	})
	s.Start(t)
	return s
}

func ngircdConfig(s *IRCServer, opts NgircdOptions) string {
	conf := fmt.Sprintf(`[Global]
	Name = %s
	Info = xgate test server
	Listen = 127.0.0.1
	Ports = %d
	MotdFile = %s
	PidFile = %s
	ServerUID = %d
	ServerGID = %d
[Limits]
	MaxConnections = 0
	MaxConnectionsIP = 0
	MaxJoins = 0
	MaxNickLength = 30
	PingTimeout = 120
	PongTimeout = 20
	ConnectRetry = 60
[Options]
	PAM = no
	Ident = no
	DNS = no
	SyslogFacility = local1
	OperCanUseMode = yes
[Operator]
	Name = oper
	Password = operpass
`, s.Name, s.Port, filepath.Join(s.Dir, "motd"), filepath.Join(s.Dir, "ngircd.pid"), os.Getuid(), os.Getgid())
	if opts.NoFloodLimits {
		conf = strings.Replace(conf, "[Limits]\n", "[Limits]\n\tMaxPenaltyTime = 0\n", 1)
		conf = strings.Replace(conf, "[Options]\n", "[Options]\n\tDefaultUserModes = F\n", 1)
	}
	return conf
}

// Start starts the server (again) on the same port and waits until it
// accepts connections.
func (s *IRCServer) Start(t T) {
	t.Helper()
	if err := s.proc.start(s.Dir, nil, s.argv...); err != nil {
		t.Fatalf("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := WaitTCP(ctx, s.Addr, s.proc.exited()); err != nil {
		t.Fatalf("harness: ngircd did not become ready: %v\n%s", err, tailFile(s.proc.logPath, 4096))
	}
}

// Kill kills the server at once (SIGKILL): its clients see their
// connections drop.
func (s *IRCServer) Kill(t T) {
	t.Helper()
	_ = s.proc.stop(syscall.SIGKILL, 5*time.Second)
}

// PortString is the port in decimal.
func (s *IRCServer) PortString() string { return strconv.Itoa(s.Port) }
