package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// BinEnv names a prebuilt xgate binary to test instead of building one
// (CI may build once, e.g. with -race, and share it between packages).
const BinEnv = "XGATE_BIN"

// RaceEnv set to 1 builds the binary under test with -race.
const RaceEnv = "XGATE_RACE"

// xgateBuild is the one build of cmd/xgate per test binary. It is the
// harness's only package-level state: building once is what makes a suite of
// subprocess tests affordable, and a test binary is one process.
var xgateBuild struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// Main runs the tests and then removes the xgate binary the harness built. Use
// it from TestMain: func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	if xgateBuild.dir != "" {
		os.RemoveAll(xgateBuild.dir)
	}
	return code
}

// XgateBinary returns the path of the xgate binary under test: $XGATE_BIN, or
// ./cmd/xgate of this module built once per test binary (go build, found
// through `go env GOMOD`).
func XgateBinary(t T) string {
	t.Helper()
	if p := os.Getenv(BinEnv); p != "" {
		return p
	}
	xgateBuild.once.Do(func() {
		xgateBuild.path, xgateBuild.err = buildXgate()
	})
	if xgateBuild.err != nil {
		t.Fatalf("harness: %v", xgateBuild.err)
	}
	return xgateBuild.path
}

func buildXgate() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("build xgate: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("build xgate: not inside a Go module")
	}
	dir, err := os.MkdirTemp("", "xgate-harness-")
	if err != nil {
		return "", fmt.Errorf("build xgate: %w", err)
	}
	xgateBuild.dir = dir
	bin := filepath.Join(dir, "xgate")
	args := []string{"build", "-o", bin}
	if os.Getenv(RaceEnv) == "1" {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/xgate")...)
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build xgate: go %s: %w\n%s", strings.Join(cmd.Args[1:], " "), err, out)
	}
	return bin, nil
}

// RunXgate runs the xgate binary once with args (for example "check-config",
// "-c", path) in dir and returns its stdout, stderr and exit code.
func RunXgate(t T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, XgateBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = baseEnv()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("harness: run xgate %s: %v", strings.Join(args, " "), err)
	}
	return o.String(), e.String(), code
}

// Xgate is an xgate subprocess (`xgate run -c FILE`) started by StartXgate,
// with its config, working directory (a relative sqlite DSN lands there) and
// log in a temporary directory. Its stdout and stderr go to one log file that
// is printed when the test fails. The cleanup stops it with SIGTERM.
type Xgate struct {
	// Dir is the working directory; ConfigPath the config file in it.
	Dir        string
	ConfigPath string
	// HTTPAddr is http.listen from the config: /healthz, /metrics, webhooks.
	HTTPAddr string
	// LogPath is where stdout and stderr of every run go, appended.
	LogPath string

	bin  string
	proc *process
}

// StartXgate writes configYAML to a file and starts `xgate run -c FILE`. It
// does not wait for the streams: call WaitHealthy. http.listen must be set in
// the config (the harness reads it to reach /healthz).
func StartXgate(t T, configYAML string) *Xgate {
	t.Helper()
	var doc struct {
		HTTP struct {
			Listen string `yaml:"listen"`
		} `yaml:"http"`
	}
	if err := yaml.Unmarshal([]byte(configYAML), &doc); err != nil {
		t.Fatalf("harness: xgate config is not YAML: %v", err)
	}
	if doc.HTTP.Listen == "" {
		t.Fatalf("harness: xgate config has no http.listen")
	}
	bin := XgateBinary(t)
	dir := serverDir(t, "xgate")
	x := &Xgate{
		Dir:        dir,
		ConfigPath: filepath.Join(dir, "xgate.yaml"),
		HTTPAddr:   doc.HTTP.Listen,
		LogPath:    filepath.Join(dir, "xgate.log"),
		bin:        bin,
	}
	x.proc = newProcess("xgate", x.LogPath)
	if err := os.WriteFile(x.ConfigPath, []byte(configYAML), 0o600); err != nil {
		t.Fatalf("harness: write xgate config: %v", err)
	}
	dumpOnFailure(t, "xgate", x.LogPath)
	t.Cleanup(func() {
		if err := x.proc.stop(syscall.SIGTERM, stopGrace); err != nil {
			t.Logf("harness: xgate: final stop: %v", err)
		}
	})
	x.Start(t)
	return x
}

// Start starts xgate again with the same config and working directory.
func (x *Xgate) Start(t T) {
	t.Helper()
	if err := x.proc.start(x.Dir, nil, x.bin, "run", "-c", x.ConfigPath); err != nil {
		t.Fatalf("%v", err)
	}
}

// SetConfig replaces the config file; the next Start (or Restart) uses it.
// Keep http.listen: HTTPAddr is read once, by StartXgate.
func (x *Xgate) SetConfig(t T, configYAML string) {
	t.Helper()
	if err := os.WriteFile(x.ConfigPath, []byte(configYAML), 0o600); err != nil {
		t.Fatalf("harness: write xgate config: %v", err)
	}
}

// Stop sends SIGTERM and waits for xgate to exit (it drains in-flight work);
// it fails the test if xgate does not exit within 20 s or exits non-zero.
func (x *Xgate) Stop(t T) {
	t.Helper()
	if err := x.proc.stop(syscall.SIGTERM, stopGrace); err != nil {
		t.Fatalf("harness: xgate: stop: %v", err)
	}
}

// Kill kills xgate with SIGKILL, as a crash would, and reaps it.
func (x *Xgate) Kill(t T) {
	t.Helper()
	if err := x.proc.stop(syscall.SIGKILL, stopGrace); err != nil {
		t.Fatalf("harness: xgate: kill: %v", err)
	}
}

// Restart stops xgate (SIGTERM) if it runs, and starts it again.
func (x *Xgate) Restart(t T) {
	t.Helper()
	if x.proc.running() {
		x.Stop(t)
	}
	x.Start(t)
}

// Signal sends sig to xgate (SIGHUP to reload, SIGQUIT for a goroutine dump
// in the log).
func (x *Xgate) Signal(t T, sig syscall.Signal) {
	t.Helper()
	if err := x.proc.signal(sig); err != nil {
		t.Fatalf("%v", err)
	}
}

// Running reports whether the xgate process is alive.
func (x *Xgate) Running() bool { return x.proc.running() }

// Exited is closed when the current run ends.
func (x *Xgate) Exited() <-chan struct{} { return x.proc.exited() }

// URL returns the http://HTTPAddr URL of path.
func (x *Xgate) URL(path string) string { return "http://" + x.HTTPAddr + path }

// Healthz returns the status code and body of GET /healthz.
func (x *Xgate) Healthz() (code int, body string, err error) {
	return httpGet(x.URL("/healthz"))
}

// WaitHealthy polls /healthz until it answers 200, failing the test after
// timeout or as soon as xgate exits.
func (x *Xgate) WaitHealthy(t T, timeout time.Duration) {
	t.Helper()
	exited := x.proc.exited()
	Eventually(t, timeout, "xgate /healthz 200", func() (bool, string) {
		select {
		case <-exited:
			return false, "xgate exited"
		default:
		}
		code, body, err := x.Healthz()
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK, fmt.Sprintf("status %d: %s", code, strings.TrimSpace(body))
	})
}

// Metrics returns the text of GET /metrics.
func (x *Xgate) Metrics(t T) string {
	t.Helper()
	code, body, err := httpGet(x.URL("/metrics"))
	if err != nil || code != http.StatusOK {
		t.Fatalf("harness: xgate /metrics: status %d: %v", code, err)
	}
	return body
}

// Logs returns everything xgate wrote to stdout and stderr so far, across runs.
func (x *Xgate) Logs() string {
	data, err := os.ReadFile(x.LogPath)
	if err != nil {
		return ""
	}
	return string(data)
}

func httpGet(url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body), err
}
