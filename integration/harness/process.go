package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is one child process run in its own process group, so that signals
// reach every helper it forks (beam.smp's erl_child_setup, inet_gethost) and
// nothing outlives the test. Output goes to a log file shared by every start
// of the same logical server, so that a restarted server's log follows the
// previous run's.
type process struct {
	name    string // "prosody", "ejabberd", "xgate": for messages
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
	err  error         // cmd.Wait's result, valid once done is closed
}

func newProcess(name, logPath string) *process {
	return &process{name: name, logPath: logPath}
}

// start starts argv with env (added to a minimal environment) in dir. It fails
// if the process is already running.
func (p *process) start(dir string, env []string, argv ...string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !isClosed(p.done) {
		return fmt.Errorf("harness: %s: already running (pid %d)", p.name, p.cmd.Process.Pid)
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("harness: %s: open log: %w", p.name, err)
	}
	fmt.Fprintf(logf, "\n===== harness: %s start %s: %s\n", time.Now().Format(time.RFC3339Nano), p.name, strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(baseEnv(), env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Own process group: stop and kill reach every helper the child forks.
	// Pdeathsig: if the test binary dies without running its cleanups (a
	// go test -timeout panic), the child is killed rather than orphaned.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("harness: %s: start %s: %w", p.name, argv[0], err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.err = cmd, done, nil
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(logf, "===== harness: %s %s exited: %v\n", time.Now().Format(time.RFC3339Nano), p.name, exitText(err))
		logf.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// baseEnv is the environment children start from: PATH and locale, nothing of
// the developer's (no HOME, no XDG dirs, no XGATE_* variables).
func baseEnv() []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8"}
	if v := os.Getenv("TMPDIR"); v != "" {
		env = append(env, "TMPDIR="+v)
	}
	return env
}

// running reports whether the process has been started and not yet exited.
func (p *process) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !isClosed(p.done)
}

// exited returns a channel closed when the current run ends (a closed channel
// when nothing runs).
func (p *process) exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.done
}

// pid returns the current run's pid, or 0.
func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || isClosed(p.done) {
		return 0
	}
	return p.cmd.Process.Pid
}

// signal sends sig to the whole process group of the current run.
func (p *process) signal(sig syscall.Signal) error {
	pid := p.pid()
	if pid == 0 {
		return fmt.Errorf("harness: %s: not running", p.name)
	}
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("harness: %s: signal %v: %w", p.name, sig, err)
	}
	return nil
}

// stop sends sig to the group and waits up to grace for the process to exit;
// then it SIGKILLs the group. It always reaps the process group's leader and
// returns the exit error of the run (nil for a clean exit), or an error when the
// process had to be killed.
func (p *process) stop(sig syscall.Signal, grace time.Duration) error {
	pid := p.pid()
	if pid == 0 {
		return nil
	}
	done := p.exited()
	// A stopped (frozen) process cannot handle SIGTERM: thaw it first.
	_ = syscall.Kill(-pid, syscall.SIGCONT)
	_ = syscall.Kill(-pid, sig)
	select {
	case <-done:
		// The leader is gone; helpers it forked may linger. Kill what remains
		// of the group (ESRCH when nothing does).
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		p.mu.Lock()
		defer p.mu.Unlock()
		if sig == syscall.SIGKILL {
			return nil
		}
		return p.err
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-done
	return fmt.Errorf("harness: %s: did not exit %v after %v: killed", p.name, sig, grace)
}

func isClosed(c chan struct{}) bool {
	if c == nil {
		return true
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func exitText(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// tailFile returns at most max bytes from the end of path, starting at a line.
func tailFile(path string, max int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(cannot stat %s: %v)", path, err)
	}
	off := int64(0)
	if st.Size() > max {
		off = st.Size() - max
	}
	buf := make([]byte, st.Size()-off)
	n, _ := f.ReadAt(buf, off)
	s := string(buf[:n])
	if off > 0 {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = fmt.Sprintf("[... %d bytes cut ...]\n", off+int64(i)+1) + s[i+1:]
		}
	}
	return s
}

// logTailLimit is how much of a log is printed when a test fails.
const logTailLimit = 48 << 10

// dumpOnFailure registers a cleanup that prints the tail of each log when the
// test has failed. Register it before the cleanup that stops the process, so it
// runs after it (cleanups run last-in first-out) and includes the shutdown.
func dumpOnFailure(t T, what string, paths ...string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, p := range paths {
			if _, err := os.Stat(p); err != nil {
				continue
			}
			t.Logf("----- %s log %s (tail) -----\n%s\n----- end of %s log -----", what, p, tailFile(p, logTailLimit), what)
		}
	})
}
