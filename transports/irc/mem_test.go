package irc

import (
	"crypto/x509"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"xgate/integration/harness"
)

// TestIRCMemoryPerUser measures what one connected IRC user costs: N users
// each join a channel of a real ngircd (one connection each), and the Go
// heap, stacks and goroutines are compared before and after. It runs only
// with XGATE_IRC_MEM=N (e.g. 200); XGATE_IRC_MEM_PROFILE=file writes a heap
// profile with everything joined; XGATE_IRC_MEM_TLS=1 connects over TLS to
// InspIRCd instead.
func TestIRCMemoryPerUser(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("XGATE_IRC_MEM"))
	if n <= 0 {
		t.Skip("set XGATE_IRC_MEM=N to measure N connected users")
	}
	if os.Getenv("XGATE_IRC_MEM_PROFILE") != "" {
		old := runtime.MemProfileRate
		runtime.MemProfileRate = 1
		t.Cleanup(func() { runtime.MemProfileRate = old })
	}
	network := Network{Burst: 1000, Interval: time.Millisecond}
	if os.Getenv("XGATE_IRC_MEM_TLS") != "" {
		// TLS connections to InspIRCd (its CA trusted).
		srv := harness.StartInspIRCdTLS(t)
		pem, err := os.ReadFile(srv.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		network.Host, network.Port, network.RootCAs = srv.Host, srv.TLSPort, pool
	} else {
		srv := harness.StartNgircdWith(t, harness.NgircdOptions{NoFloodLimits: true})
		network.Host, network.Port, network.Plaintext = srv.Host, srv.Port, true
	}
	tr, err := New(Config{Domain: fakeDomain, Version: "1.0-test", Networks: []Network{network}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.stop)
	f := &fakeNet{t: t, tr: tr}

	joined := make(chan string, n)
	go func() {
		for {
			select {
			case e := <-tr.out.q:
				if e.name.Local == "presence" && e.attr("type") == "" && strings.Contains(e.codes(), "110") {
					joined <- e.attr("to")
				}
			case <-tr.life.Done():
				return
			}
		}
	}()

	before := memSnapshot()
	for i := range n {
		f.send(fmt.Sprintf(`<presence from="u%d@localhost/r" to="#mem%d%%%s@%s/u%d"><x xmlns="http://jabber.org/protocol/muc"/></presence>`,
			i, i, network.Host, fakeDomain, i))
	}
	deadline := time.After(60 * time.Second)
	for i := range n {
		select {
		case <-joined:
		case <-deadline:
			t.Fatalf("only %d of %d users joined", i, n)
		}
	}
	after := memSnapshot()
	if p := os.Getenv("XGATE_IRC_MEM_PROFILE"); p != "" {
		fh, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(fh, 0); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		if fh, err = os.Create(p + ".goroutines"); err == nil {
			_ = pprof.Lookup("goroutine").WriteTo(fh, 1)
			fh.Close()
		}
	}
	per := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(n) / 1024 }
	t.Logf("%d users joined: heap in use +%.1f KiB/user, stacks +%.1f KiB/user, goroutines +%.1f/user, RSS +%.1f KiB/user",
		n, per(before.heap, after.heap), per(before.stack, after.stack),
		float64(after.goroutines-before.goroutines)/float64(n), per(before.rss, after.rss))
}

type memStats struct {
	heap, stack, rss uint64
	goroutines       int
}

func memSnapshot() memStats {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s := memStats{heap: m.HeapInuse, stack: m.StackInuse, goroutines: runtime.NumGoroutine()}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				s.rss = kb * 1024
			}
		}
	}
	return s
}
