package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeArchives records committed batches. It can fail calls on demand (before
// or after storing, as a lost reply would), hold calls at a gate, and report
// every call on a channel. Like the real stores, it skips ids already stored.
type fakeArchives struct {
	mu              sync.Mutex
	stored          []ArchiveEntry
	seen            map[string]bool
	batches         []int // sizes of the successful calls
	calls           int
	fail            int  // the next fail calls fail
	failAfterCommit bool // a failing call stores its batch first
	gate            chan struct{}
	events          chan error // each call's result, when not nil
}

func newFakeArchives() *fakeArchives {
	return &fakeArchives{seen: map[string]bool{}, events: make(chan error, 1000)}
}

func (f *fakeArchives) AppendArchive(ctx context.Context, es []ArchiveEntry) error {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := f.append(es)
	f.events <- err
	return err
}

func (f *fakeArchives) append(es []ArchiveEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	failing := f.fail > 0
	if failing {
		f.fail--
		if !f.failAfterCommit {
			return errors.New("injected failure")
		}
	}
	for _, e := range es {
		if !f.seen[e.ID] {
			f.seen[e.ID] = true
			f.stored = append(f.stored, e)
		}
	}
	if failing {
		return errors.New("injected failure after commit")
	}
	f.batches = append(f.batches, len(es))
	return nil
}

func (f *fakeArchives) QueryArchive(context.Context, ArchiveQuery) (ArchivePage, error) {
	return ArchivePage{}, errors.New("not implemented")
}
func (f *fakeArchives) PruneArchive(context.Context, time.Time) (int64, error) { return 0, nil }
func (f *fakeArchives) DeleteArchive(context.Context, string, string) (int64, error) {
	return 0, nil
}

func (f *fakeArchives) snapshot() (stored []string, batches []int, calls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return ids(f.stored), slices.Clone(f.batches), f.calls
}

func entry(id string) ArchiveEntry {
	return ArchiveEntry{ID: id, Transport: "irc", User: "alice@x", Conversation: "room@irc"}
}

func entryIDs(prefix string, n int) []string {
	out := []string{}
	for i := range n {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

// startWriter runs w until the test ends; stop cancels Run and returns its
// result.
func startWriter(t *testing.T, w *ArchiveWriter) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				err = errors.New("Run did not return within 10 s of cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func addAll(t *testing.T, w *ArchiveWriter, idList []string) {
	t.Helper()
	for _, id := range idList {
		if err := w.Add(context.Background(), entry(id)); err != nil {
			t.Fatalf("Add(%s): %v", id, err)
		}
	}
}

func flush(t *testing.T, w *ArchiveWriter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// waitEvent waits for the fake's next call.
func waitEvent(t *testing.T, f *fakeArchives) error {
	t.Helper()
	select {
	case err := <-f.events:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no AppendArchive call within 10 s")
		return nil
	}
}

func TestArchiveWriterBatches(t *testing.T) {
	f := newFakeArchives()
	w := NewArchiveWriter(f, ArchiveWriterOptions{MaxBatch: 10, MaxDelay: time.Hour, QueueSize: 1000})
	startWriter(t, w)
	want := entryIDs("m", 95)
	addAll(t, w, want)
	flush(t, w)
	stored, batches, calls := f.snapshot()
	if !slices.Equal(stored, want) {
		t.Errorf("stored %v; want the 95 in order", stored)
	}
	// Full batches go as soon as they are full; Flush sends the rest at once.
	if wantBatches := []int{10, 10, 10, 10, 10, 10, 10, 10, 10, 5}; !slices.Equal(batches, wantBatches) || calls != 10 {
		t.Errorf("batches %v in %d calls; want %v", batches, calls, wantBatches)
	}
}

func TestArchiveWriterMaxDelay(t *testing.T) {
	f := newFakeArchives()
	w := NewArchiveWriter(f, ArchiveWriterOptions{MaxBatch: 100, MaxDelay: 20 * time.Millisecond})
	startWriter(t, w)
	addAll(t, w, []string{"a", "b", "c"})
	// No Flush: the delay alone commits the partial batch.
	if err := waitEvent(t, f); err != nil {
		t.Fatal(err)
	}
	if stored, batches, _ := f.snapshot(); !slices.Equal(stored, []string{"a", "b", "c"}) || !slices.Equal(batches, []int{3}) {
		t.Errorf("stored %v in batches %v; want a b c in one", stored, batches)
	}
}

func TestArchiveWriterFlush(t *testing.T) {
	f := newFakeArchives()
	w := NewArchiveWriter(f, ArchiveWriterOptions{MaxBatch: 7, MaxDelay: time.Hour})
	// Nothing added: Flush returns at once, even before Run.
	flush(t, w)
	startWriter(t, w)
	// Each adder's Flush covers its own Adds, whatever the others do.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			mine := entryIDs(fmt.Sprintf("g%d-", g), 50)
			for _, id := range mine {
				if err := w.Add(context.Background(), entry(id)); err != nil {
					errs <- err
					return
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := w.Flush(ctx); err != nil {
				errs <- err
				return
			}
			stored, _, _ := f.snapshot()
			for _, id := range mine {
				if !slices.Contains(stored, id) {
					errs <- fmt.Errorf("after Flush, %s is not committed", id)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if stored, _, _ := f.snapshot(); len(stored) != 200 {
		t.Errorf("stored %d entries; want 200", len(stored))
	}
	// A Flush whose context ends first says so.
	f.mu.Lock()
	f.gate = make(chan struct{})
	f.mu.Unlock()
	addAll(t, w, []string{"late"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := w.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush with a held commit: %v; want DeadlineExceeded", err)
	}
	close(f.gate)
	flush(t, w)
}

func TestArchiveWriterRetries(t *testing.T) {
	tests := []struct {
		name        string
		fail        int
		afterCommit bool
	}{
		{"failures before commit", 3, false},
		{"failure after commit (lost reply)", 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeArchives()
			f.fail, f.failAfterCommit = tc.fail, tc.afterCommit
			w := NewArchiveWriter(f, ArchiveWriterOptions{MaxBatch: 500, MaxDelay: time.Hour})
			w.backoff = time.Millisecond
			startWriter(t, w)
			want := entryIDs("m", 20)
			addAll(t, w, want)
			flush(t, w)
			stored, batches, calls := f.snapshot()
			if !slices.Equal(stored, want) {
				t.Errorf("stored %v; want the 20 once each, in order", stored)
			}
			if calls != tc.fail+1 || !slices.Equal(batches, []int{20}) {
				t.Errorf("%d calls, successful batches %v; want %d calls, [20]", calls, batches, tc.fail+1)
			}
		})
	}
}

func TestArchiveWriterBackPressure(t *testing.T) {
	f := newFakeArchives()
	f.gate = make(chan struct{})
	w := NewArchiveWriter(f, ArchiveWriterOptions{MaxBatch: 4, QueueSize: 4, MaxDelay: time.Hour})
	startWriter(t, w)
	addAll(t, w, []string{"a", "b", "c", "d"})

	// Full (queued or being committed): Add waits, until its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := w.Add(ctx, entry("refused")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Add to a full queue: %v; want DeadlineExceeded", err)
	}
	added := make(chan error, 1)
	go func() { added <- w.Add(context.Background(), entry("e")) }()
	select {
	case err := <-added:
		t.Fatalf("Add to a full queue returned %v before the commit", err)
	default:
	}
	f.gate <- struct{}{} // the first batch commits: room again
	select {
	case err := <-added:
		if err != nil {
			t.Fatalf("waiting Add: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting Add did not return after the commit")
	}
	close(f.gate)
	flush(t, w)
	if stored, _, _ := f.snapshot(); !slices.Equal(stored, []string{"a", "b", "c", "d", "e"}) {
		t.Errorf("stored %v; want a..e without the refused entry", stored)
	}
}

func TestArchiveWriterDrainsOnCancel(t *testing.T) {
	f := newFakeArchives()
	w := NewArchiveWriter(f, ArchiveWriterOptions{MaxBatch: 4, MaxDelay: time.Hour})
	stop := startWriter(t, w)
	want := entryIDs("m", 10) // 2 full batches go at once, 2 entries wait for the delay
	addAll(t, w, want)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if stored, _, _ := f.snapshot(); !slices.Equal(stored, want) {
		t.Errorf("stored %v after cancel; want all 10", stored)
	}
	if err := w.Add(context.Background(), entry("late")); !errors.Is(err, ErrArchiveWriterStopped) {
		t.Errorf("Add after Run returned: %v; want ErrArchiveWriterStopped", err)
	}
	flush(t, w) // everything committed: nil
}

func TestArchiveWriterDrainRetriesInflight(t *testing.T) {
	f := newFakeArchives()
	f.fail = 1
	w := NewArchiveWriter(f, ArchiveWriterOptions{MaxDelay: time.Hour})
	w.backoff = time.Hour // the retry would come only after cancel
	stop := startWriter(t, w)
	addAll(t, w, []string{"a", "b"})
	go func() { _ = w.Flush(context.Background()) }() // commit now
	if err := waitEvent(t, f); err == nil {
		t.Fatal("first call succeeded; want the injected failure")
	}
	// Run is waiting to retry: cancel commits the batch with a fresh context.
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if stored, _, _ := f.snapshot(); !slices.Equal(stored, []string{"a", "b"}) {
		t.Errorf("stored %v; want a, b", stored)
	}
}

func TestArchiveWriterLosesAfterGrace(t *testing.T) {
	f := newFakeArchives()
	f.fail = 1 << 30
	w := NewArchiveWriter(f, ArchiveWriterOptions{MaxDelay: time.Hour})
	w.backoff, w.grace = time.Millisecond, 50*time.Millisecond
	stop := startWriter(t, w)
	addAll(t, w, []string{"a", "b", "c"})
	err := stop()
	if !errors.Is(err, ErrArchiveWriterStopped) {
		t.Fatalf("Run with a store that always fails: %v; want ErrArchiveWriterStopped", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Flush(ctx); !errors.Is(err, ErrArchiveWriterStopped) {
		t.Errorf("Flush after a lossy stop: %v; want ErrArchiveWriterStopped", err)
	}
}

func TestArchiveWriterMisuse(t *testing.T) {
	f := newFakeArchives()
	w := NewArchiveWriter(f, ArchiveWriterOptions{})
	if err := w.Add(context.Background(), ArchiveEntry{Transport: "irc", User: "alice@x", Conversation: "room@irc"}); err == nil {
		t.Error("Add without an id: no error")
	}
	stop := startWriter(t, w)
	flush(t, w)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := w.Run(context.Background()); err == nil {
		t.Error("second Run: no error")
	}
	if _, _, calls := f.snapshot(); calls != 0 {
		t.Errorf("%d AppendArchive calls; want none (the bad entry was refused)", calls)
	}
}
