package main

import (
	"fmt"
	"os"
)

// runner implements harness.T outside `go test` (as cmd/xgate-demo does):
// Fatalf and Skipf unwind to run, which then runs the cleanups.
type runner struct {
	cleanups []func()
	failed   bool
}

type stopRun struct{}

func (r *runner) run(f func()) (code int) {
	defer func() {
		v := recover()
		for i := len(r.cleanups) - 1; i >= 0; i-- {
			r.cleanups[i]()
		}
		if v != nil {
			if _, ok := v.(stopRun); !ok {
				panic(v)
			}
			code = 1
		}
	}()
	f()
	return 0
}

func (r *runner) Helper()                      {}
func (r *runner) Logf(format string, a ...any) { fmt.Fprintf(os.Stderr, "load: "+format+"\n", a...) }
func (r *runner) Fatalf(format string, a ...any) {
	r.failed = true
	r.Logf(format, a...)
	panic(stopRun{})
}
func (r *runner) Skipf(format string, a ...any) { r.Fatalf(format, a...) }
func (r *runner) Cleanup(f func())              { r.cleanups = append(r.cleanups, f) }
func (r *runner) Failed() bool                  { return r.failed }

func (r *runner) TempDir() string {
	dir, err := os.MkdirTemp("", "xgate-load-")
	if err != nil {
		r.Fatalf("temp dir: %v", err)
	}
	r.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
