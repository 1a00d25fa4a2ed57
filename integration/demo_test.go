package integration

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"xgate/integration/harness"
)

// TestDemo runs what `make demo` runs (cmd/xgate-demo) and uses it as a
// newcomer would: log in as alice with the printed port, message the echo
// service through the gateway, get the answer; Ctrl-C stops everything.
func TestDemo(t *testing.T) {
	if _, err := exec.LookPath("prosody"); err != nil {
		harness.Missing(t, "prosody")
	}
	xgateBin := harness.XgateBinary(t)
	demoBin := filepath.Join(t.TempDir(), "xgate-demo")
	build := exec.Command("go", "build", "-o", demoBin, "../cmd/xgate-demo")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the demo: %v\n%s", err, out)
	}

	cmd := exec.Command(demoBin)
	cmd.Env = append(os.Environ(), harness.BinEnv+"="+xgateBin, "XGATE_DEMO_DIGEST_QUIET=1s")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("demo stderr:\n%s", stderr.String())
		}
	})

	// Read the instructions until the client port shows up.
	portRE := regexp.MustCompile(`Prosody on (127\.0\.0\.1:\d+)`)
	imapRE := regexp.MustCompile(`Dovecot \(IMAP (127\.0\.0\.1:\d+)\)`)
	found := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var addrs [2]string
		sent := false
		for sc.Scan() {
			if m := portRE.FindStringSubmatch(sc.Text()); m != nil {
				addrs[0] = m[1]
			}
			if m := imapRE.FindStringSubmatch(sc.Text()); m != nil {
				addrs[1] = m[1]
			}
			if addrs[0] != "" && addrs[1] != "" && !sent {
				found <- addrs
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var c2s, imapAddr string
	select {
	case addrs := <-found:
		c2s, imapAddr = addrs[0], addrs[1]
	case err := <-exited:
		t.Fatalf("the demo exited before it was ready: %v", err)
	case <-time.After(3 * time.Minute):
		t.Fatal("the demo did not print its instructions (client port and IMAP address) within 3 minutes")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice, err := harness.Dial(ctx, c2s, "alice@localhost", "alice", "demo")
	if err != nil {
		t.Fatalf("log in as the demo's alice: %v", err)
	}
	defer alice.Disconnect()
	alice.Send(t, "<presence/>")
	alice.SendMessage(t, "echo@hook.localhost", "hello demo")
	alice.Expect(t, 30*time.Second, harness.All(harness.Message("echo@hook.localhost"), harness.Body("echo: hello demo")))

	// Email: a chat to bob becomes a digest in his Dovecot mailbox.
	alice.SendMessage(t, `bob\40example.test@mail.localhost`, "hello bob by mail")
	mailbox := &harness.Mail{IMAPAddr: imapAddr, Domain: "example.test"}
	got := mailbox.WaitInbox(t, "bob", "bob", 1, 60*time.Second)
	if !strings.Contains(string(got[0].Raw), "hello bob by mail") {
		t.Errorf("bob's digest does not hold the chat:\n%s", got[0].Raw)
	}

	// Ctrl-C stops everything the demo started: Prosody's port closes.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the demo exited with %v after Ctrl-C", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the demo did not stop within 60 s of Ctrl-C")
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := harness.WaitTCPClosed(wctx, c2s); err != nil {
		t.Errorf("after Ctrl-C: %v", err)
	}
}
