package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// ErrArchiveWriterStopped is returned by ArchiveWriter.Add once Run's context
// has ended, and by Flush when Run returned with entries it could not commit.
var ErrArchiveWriterStopped = errors.New("store: archive: writer stopped")

// ArchiveWriterOptions tune an ArchiveWriter; zero values take the defaults.
type ArchiveWriterOptions struct {
	MaxBatch  int           // entries per transaction; default 500
	MaxDelay  time.Duration // longest wait after the first entry of a batch was added; default 50 ms
	QueueSize int           // entries queued or being committed before Add waits; default 20000
	Logger    *slog.Logger  // failed commits are logged at Warn; default: discard
}

// Defaults of ArchiveWriterOptions, and the retry and shutdown timings.
const (
	archiveWriterMaxBatch  = 500
	archiveWriterMaxDelay  = 50 * time.Millisecond
	archiveWriterQueueSize = 20000
	archiveWriterBackoff   = 100 * time.Millisecond // first wait after a failed commit, doubled each time
	archiveWriterMaxWait   = 10 * time.Second       // cap of that wait
	archiveWriterGrace     = 5 * time.Second        // how long Run keeps committing after its context ended
)

// ArchiveWriter batches archive appends, so that archiving costs one
// transaction per many messages instead of one per message.
//
// Add returns once the entry is queued in memory; a background goroutine
// (Run) commits queued entries in batches (up to MaxBatch per transaction, at
// most MaxDelay after the first entry of a batch was added). Entries are
// committed in the order they were added, so Seq follows Add order. A failed
// commit is retried with backoff (100 ms doubling to 10 s, logged), never
// dropped: entries are idempotent by (Transport, User, ID), so a commit that
// failed after all (a lost reply) does no harm when retried. Add waits (ctx)
// while QueueSize entries are queued or being committed: back-pressure, never
// unbounded memory. Flush returns once everything Added before the call is
// committed.
//
// Add and Flush are safe from any goroutine; Run is called once.
type ArchiveWriter struct {
	a    Archives
	opts ArchiveWriterOptions
	log  *slog.Logger
	// Timings, shortened by tests.
	backoff, maxBackoff, grace time.Duration

	wake chan struct{} // capacity 1: there is work for Run

	mu        sync.Mutex
	pending   []ArchiveEntry // queued, not yet taken by Run, oldest first
	firstAt   time.Time      // when the oldest pending entry was queued
	inflight  int            // taken by Run, not yet committed
	added     uint64         // entries ever queued
	committed uint64         // entries ever committed: always the first `committed` added
	flushers  int            // Flush calls waiting: Run commits without waiting for MaxDelay
	changed   chan struct{}  // closed and replaced when committed grows or the writer stops
	running   bool           // Run was called
	closing   bool           // Run's context ended: Add refuses
	finished  bool           // Run returned
}

// NewArchiveWriter returns a writer appending to a; call Run to start it.
func NewArchiveWriter(a Archives, opts ArchiveWriterOptions) *ArchiveWriter {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = archiveWriterMaxBatch
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = archiveWriterMaxDelay
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = archiveWriterQueueSize
	}
	// A batch can never be larger than the queue.
	opts.MaxBatch = min(opts.MaxBatch, opts.QueueSize)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ArchiveWriter{
		a: a, opts: opts, log: log,
		backoff: archiveWriterBackoff, maxBackoff: archiveWriterMaxWait, grace: archiveWriterGrace,
		wake:    make(chan struct{}, 1),
		changed: make(chan struct{}),
	}
}

// Add queues e for the next batch. It refuses an entry AppendArchive would
// refuse (empty Transport, User, Conversation or ID), so that a bad entry never
// blocks a batch. When the queue is full it waits for room until ctx ends. The
// caller must not modify e.Payload afterwards.
func (w *ArchiveWriter) Add(ctx context.Context, e ArchiveEntry) error {
	if err := checkArchiveEntry(&e); err != nil {
		return err
	}
	w.mu.Lock()
	for !w.closing && len(w.pending)+w.inflight >= w.opts.QueueSize {
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("store: archive: add: queue full: %w", ctx.Err())
		}
		w.mu.Lock()
	}
	if w.closing {
		w.mu.Unlock()
		return ErrArchiveWriterStopped
	}
	if len(w.pending) == 0 {
		w.firstAt = time.Now()
	}
	w.pending = append(w.pending, e)
	w.added++
	n := len(w.pending)
	w.mu.Unlock()
	// Run needs waking only to start the MaxDelay timer or for a full batch.
	if n == 1 || n >= w.opts.MaxBatch {
		w.signal()
	}
	return nil
}

// Flush returns once every entry Added before the call is committed, and
// makes Run commit without waiting for MaxDelay. It needs Run to be running:
// it fails with ErrArchiveWriterStopped when Run returned without committing
// them, and with ctx's error when ctx ends first.
func (w *ArchiveWriter) Flush(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	target := w.added
	if w.committed >= target {
		return nil
	}
	w.flushers++
	defer func() { w.flushers-- }()
	w.signal()
	for w.committed < target {
		if w.finished {
			return ErrArchiveWriterStopped
		}
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			w.mu.Lock()
			return fmt.Errorf("store: archive: flush: %w", ctx.Err())
		}
		w.mu.Lock()
	}
	return nil
}

// Run commits queued entries until ctx ends, then refuses further Adds and
// commits what is left, for at most 5 s with a fresh context. It returns nil
// when everything was committed, or an error saying how many entries were
// lost. It must be called once.
func (w *ArchiveWriter) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.running {
		w.mu.Unlock()
		return errors.New("store: archive: writer: Run called twice")
	}
	w.running = true
	w.mu.Unlock()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		batch, wait := w.take(false)
		if batch == nil {
			if wait > 0 {
				timer.Reset(wait)
			}
			select {
			case <-ctx.Done():
				return w.drain(nil)
			case <-w.wake:
			case <-timer.C:
			}
			timer.Stop()
			continue
		}
		if !w.commit(ctx, batch) {
			return w.drain(batch) // ctx ended: batch is not committed yet
		}
	}
}

// signal wakes Run without blocking.
func (w *ArchiveWriter) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// take returns the next batch when one is due (full, flushed, MaxDelay passed,
// or force), marking it in flight. Otherwise it returns how long to wait
// before the pending entries are due (0: nothing pending, wait for Add).
func (w *ArchiveWriter) take(force bool) ([]ArchiveEntry, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) == 0 {
		return nil, 0
	}
	if !force && len(w.pending) < w.opts.MaxBatch && w.flushers == 0 {
		if wait := time.Until(w.firstAt.Add(w.opts.MaxDelay)); wait > 0 {
			return nil, wait
		}
	}
	// The batch shares the queue's array: Add only appends past its end. The
	// rest keeps firstAt, which is no later than its own first Add, so it is
	// never held longer than MaxDelay.
	k := min(len(w.pending), w.opts.MaxBatch)
	batch := w.pending[:k:k]
	w.pending = w.pending[k:]
	if len(w.pending) == 0 {
		w.pending = nil
	}
	w.inflight = k
	return batch, 0
}

// commit appends batch, retrying with backoff until it succeeds (true) or ctx
// ends (false).
func (w *ArchiveWriter) commit(ctx context.Context, batch []ArchiveEntry) bool {
	backoff := w.backoff
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		err := w.a.AppendArchive(ctx, batch)
		if err == nil {
			w.mu.Lock()
			w.committed += uint64(len(batch))
			w.inflight = 0
			w.broadcast()
			w.mu.Unlock()
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		w.log.Warn("archive commit failed, retrying", "entries", len(batch), "retry_in", backoff, "err", err)
		if timer == nil {
			timer = time.NewTimer(backoff)
		} else {
			timer.Reset(backoff)
		}
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
		}
		backoff = min(2*backoff, w.maxBackoff)
	}
}

// drain runs once Run's context ended: it refuses further Adds and commits
// inflight (if any) and everything queued within the grace period.
func (w *ArchiveWriter) drain(inflight []ArchiveEntry) error {
	w.mu.Lock()
	w.closing = true
	w.broadcast() // Adds waiting for room return
	w.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), w.grace)
	defer cancel()
	ok := true
	if inflight != nil {
		ok = w.commit(ctx, inflight)
	}
	for ok {
		batch, _ := w.take(true)
		if batch == nil {
			break
		}
		ok = w.commit(ctx, batch)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	w.finished = true
	w.broadcast()
	if lost := w.added - w.committed; lost > 0 {
		w.log.Error("archive entries lost at shutdown", "entries", lost)
		return fmt.Errorf("store: archive: writer: %d entries not committed at shutdown: %w", lost, ErrArchiveWriterStopped)
	}
	return nil
}

// broadcast wakes every goroutine waiting on changed; w.mu is held.
func (w *ArchiveWriter) broadcast() {
	close(w.changed)
	w.changed = make(chan struct{})
}
