package integration

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"xgate/integration/harness"
)

// demoLines collects the demo's output lines and wakes waiters on each.
type demoLines struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

func (d *demoLines) add(line string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lines = append(d.lines, line)
	close(d.changed)
	d.changed = make(chan struct{})
}

// wait returns the first submatch of re in a line, failing after timeout.
func (d *demoLines) wait(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		d.mu.Lock()
		changed := d.changed
		for _, l := range d.lines {
			if m := re.FindStringSubmatch(l); m != nil {
				d.mu.Unlock()
				return m
			}
		}
		d.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("the demo printed no line matching %s within %v", re, timeout)
		}
	}
}

func (d *demoLines) String() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.lines, "\n")
}

// TestDemoSMS runs the demo and texts as a newcomer would: alice texts a
// phone (the Twilio stand-in shows it, and the delivered callback gives her
// a receipt), then the fake phone texts alice by a line on the demo's stdin.
func TestDemoSMS(t *testing.T) {
	if _, err := exec.LookPath("prosody"); err != nil {
		harness.Missing(t, "prosody")
	}
	xgateBin := harness.XgateBinary(t)
	demoBin := filepath.Join(t.TempDir(), "xgate-demo")
	if out, err := exec.Command("go", "build", "-o", demoBin, "../cmd/xgate-demo").CombinedOutput(); err != nil {
		t.Fatalf("build the demo: %v\n%s", err, out)
	}
	cmd := exec.Command(demoBin)
	cmd.Env = append(os.Environ(), harness.BinEnv+"="+xgateBin)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &demoLines{changed: make(chan struct{})}
	var readers sync.WaitGroup
	for _, p := range []interface{ Read([]byte) (int, error) }{stdout, stderr} {
		readers.Add(1)
		go func() {
			defer readers.Done()
			sc := bufio.NewScanner(p)
			for sc.Scan() {
				out.add(sc.Text())
			}
		}()
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { readers.Wait(); exited <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("demo output:\n%s", out)
		}
	})

	c2s := out.wait(t, regexp.MustCompile(`Prosody on (127\.0\.0\.1:\d+)`), 3*time.Minute)[1]
	out.wait(t, regexp.MustCompile(`sms \+15550001111 hello there`), 10*time.Second) // the instructions

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice, err := harness.Dial(ctx, c2s, "alice@localhost", "alice", "demo")
	if err != nil {
		t.Fatalf("log in as the demo's alice: %v", err)
	}
	defer alice.Disconnect()
	alice.Send(t, "<presence/>")

	// alice texts a phone: the stand-in shows it, the receipt comes back.
	alice.Send(t, "<message type='chat' to='+15550001111@sms.localhost' id='demo-sms-1'><body>hi phone</body>"+
		"<request xmlns='"+smsNSReceipts+"'/></message>")
	out.wait(t, regexp.MustCompile(`sms: \+15550000001 → \+15550001111: "hi phone"`), 30*time.Second)
	alice.Expect(t, 30*time.Second, harness.All(harness.Name("message"), harness.From("+15550001111@sms.localhost"),
		func(e *harness.Element) bool {
			r := e.Child("received")
			return r != nil && r.Attr("id") == "demo-sms-1"
		}))

	// The fake phone texts alice.
	if _, err := stdin.Write([]byte("sms +15550001111 hello there\n")); err != nil {
		t.Fatal(err)
	}
	alice.Expect(t, 30*time.Second, harness.All(harness.Message("+15550001111@sms.localhost"), harness.Body("hello there")))

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("the demo exited with %v after Ctrl-C", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the demo did not stop within 60 s of Ctrl-C")
	}
}
