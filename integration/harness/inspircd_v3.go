package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// InspIRCdWebIRCPass is the WEBIRC password of StartInspIRCdV3's server:
// clients from 127.0.0.1 that send it may set their host and address.
const InspIRCdWebIRCPass = "webirc-test-pass"

// StartInspIRCdV3 starts a private InspIRCd 3 (--nofork) without services,
// for the IRCv3 presence extensions and WEBIRC: modules cap, ircv3
// (away-notify, account-notify, extended-join), ircv3_chghost,
// ircv3_invitenotify, ircv3_echomessage, ircv3_servertime and cgiirc (a
// WEBIRC block for 127.0.0.1 with InspIRCdWebIRCPass). No sasl module, so
// the server offers no SASL. Clients connect from anywhere to a free
// 127.0.0.1 port (plaintext). It skips the test when inspircd is missing
// (fails when RequireEnv is set); Cleanup stops it.
func StartInspIRCdV3(t T) *SASLServer {
	t.Helper()
	bin := lookBin("inspircd", "/usr/sbin/inspircd")
	if bin == "" {
		Missing(t, "inspircd (apt-get install inspircd)")
		return nil
	}
	dir := t.TempDir()
	port := FreePort(t)
	s := &SASLServer{
		Addr: Addr(port), Host: "127.0.0.1", Port: port, Name: inspircdName, Dir: dir,
		ircd: newProcess("inspircd", filepath.Join(dir, "inspircd.out")),
	}
	conf := filepath.Join(dir, "inspircd.conf")
	if err := os.WriteFile(conf, []byte(inspircdV3Config(dir, port)), 0o644); err != nil {
		t.Fatalf("harness: inspircd: write config: %v", err)
	}
	dumpOnFailure(t, "inspircd", s.ircd.logPath, filepath.Join(dir, "inspircd.log"))
	t.Cleanup(func() {
		if err := s.ircd.stop(syscall.SIGTERM, 5*time.Second); err != nil {
			t.Logf("harness: inspircd: final stop: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.ircd.start(dir, nil, bin, "--nofork", "--runasroot", "--nopid", "--config="+conf); err != nil {
		t.Fatalf("%v", err)
	}
	if err := WaitTCP(ctx, s.Addr, s.ircd.exited()); err != nil {
		t.Fatalf("harness: inspircd did not become ready: %v\n%s", err, tailFile(s.ircd.logPath, 4096))
	}
	return s
}

func inspircdV3Config(dir string, port int) string {
	return fmt.Sprintf(`<config format="xml">
<server name="%[1]s" description="xgate test server" network="XgateTest" id="2XG">
<admin name="xgate" nick="xgate" email="xgate@localhost">
<bind address="127.0.0.1" port="%[2]d" type="clients">
%[3]s<module name="cap">
<module name="ircv3">
<module name="ircv3_chghost">
<module name="ircv3_invitenotify">
<module name="ircv3_echomessage">
<module name="ircv3_servertime">
<module name="cgiirc">
<cgiirc opernotice="no">
<cgihost type="webirc" password="%[4]s" hash="plaintext" mask="*@127.0.0.1">
`, inspircdName, port, inspircdConnect("main", "*", "")+inspircdCommon(dir), InspIRCdWebIRCPass)
}

// Transcript is every line the client received so far.
func (c *IRCClient) Transcript() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.all...)
}
