// Package harness starts real peers (Prosody, ejabberd, PostgreSQL, and later
// ngircd, Postfix, Dovecot) on free 127.0.0.1 ports for xgate's tests and its
// demo, and drives a real XMPP client and the xgate binary.
//
// Every starter takes a T, which *testing.T and *testing.B satisfy, and which the
// demo command (cmd/xgate-demo) implements to reuse the same code outside tests.
// Everything started is stopped through T.Cleanup.
package harness

import (
	"fmt"
	"net"
	"os"
	"testing"
)

// T is the part of testing.TB the harness uses. *testing.T and *testing.B
// satisfy it; so does the demo's runner.
type T interface {
	Helper()
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(func())
	TempDir() string
	Failed() bool
}

var _ T = (testing.TB)(nil)

// RequireEnv is the environment variable that turns a missing server binary from
// a skip into a failure. `make test` (and so CI) sets it: the Prosody, ejabberd and
// PostgreSQL tests must run, never silently skip.
const RequireEnv = "XGATE_REQUIRE_SERVERS"

// Missing skips the test because what is missing (a server binary), or fails it
// when RequireEnv is set.
func Missing(t T, what string) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s is missing and %s=1: install it (make deps-test)", what, RequireEnv)
	}
	t.Skipf("%s is missing (set %s=1 to make this a failure)", what, RequireEnv)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("harness: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Addr formats 127.0.0.1:port.
func Addr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
