package main

import (
	"fmt"
	"os"
)

// runner lets the demo use the test harness outside `go test`: it implements
// harness.T. Fatalf and Skipf stop the demo (after the cleanups run).
type runner struct {
	cleanups []func()
	failed   bool
}

// stopDemo is the panic value Fatalf uses to unwind to run.
type stopDemo struct{}

func newRunner() *runner { return &runner{} }

// run calls f, then every cleanup in reverse order, and returns the exit code.
func (r *runner) run(f func(*runner)) (code int) {
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(stopDemo); !ok {
				r.cleanup()
				panic(v)
			}
			code = 1
		}
		r.cleanup()
	}()
	f(r)
	return 0
}

func (r *runner) cleanup() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
}

func (r *runner) Helper() {}

func (r *runner) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "demo: "+format+"\n", args...)
}

func (r *runner) Fatalf(format string, args ...any) {
	r.failed = true
	fmt.Fprintf(os.Stderr, "demo: "+format+"\n", args...)
	panic(stopDemo{})
}

func (r *runner) Skipf(format string, args ...any) { r.Fatalf(format, args...) }

func (r *runner) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

func (r *runner) TempDir() string {
	dir, err := os.MkdirTemp("", "xgate-demo-")
	if err != nil {
		r.Fatalf("temp dir: %v", err)
	}
	r.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func (r *runner) Failed() bool { return r.failed }
