package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// StartNgircdIdent is StartNgircd with ident (RFC 1413) lookups (and so
// DNS lookups) on: ngircd asks port 113 of each connecting client's
// address who it is, and shows
// the answer as the client's user name (without the "~" of an unverified
// one). ngircd must be built with IDENT (`ngircd --version` lists it).
func StartNgircdIdent(t T) *IRCServer {
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
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err != nil || !strings.Contains(string(out), "IDENT") {
		Missing(t, "ngircd built with IDENT")
		return nil
	}
	dir := t.TempDir()
	port := FreePort(t)
	s := &IRCServer{
		Addr: Addr(port), Host: "127.0.0.1", Port: port, Name: "irc.test.local", Dir: dir,
		proc: newProcess("ngircd", filepath.Join(dir, "ngircd.log")),
	}
	// ngircd 26 runs the ident query in its resolver, which only runs
	// with DNS on (127.0.0.1 resolves through /etc/hosts).
	conf := strings.Replace(ngircdConfig(s, NgircdOptions{}), "Ident = no", "Ident = yes", 1)
	conf = strings.Replace(conf, "DNS = no", "DNS = yes", 1)
	if err := os.WriteFile(filepath.Join(dir, "motd"), []byte("test server\n"), 0o644); err != nil {
		t.Fatalf("harness: ngircd: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ngircd.conf"), []byte(conf), 0o644); err != nil {
		t.Fatalf("harness: ngircd: write config: %v", err)
	}
	s.argv = []string{bin, "-n", "-f", filepath.Join(dir, "ngircd.conf")}
	dumpOnFailure(t, "ngircd", s.proc.logPath)
	t.Cleanup(func() {
		if err := s.proc.stop(syscall.SIGTERM, 5*time.Second); err != nil {
			t.Logf("harness: ngircd: final stop: %v", err)
		}
	})
	s.Start(t)
	return s
}
