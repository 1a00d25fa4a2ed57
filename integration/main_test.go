// Package integration holds xgate's end-to-end tests: real Prosody and real
// ejabberd started on free 127.0.0.1 ports (package harness), the xgate binary
// run as a subprocess, and real XMPP clients. Set XGATE_REQUIRE_SERVERS=1 to
// turn a missing server into a failure instead of a skip (make test does).
package integration

import (
	"os"
	"testing"

	"xgate/integration/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }
