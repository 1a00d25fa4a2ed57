package component

import (
	"testing"
	"time"
)

func TestBackoffSequence(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name     string
		min, max time.Duration
		rand     float64
		want     []time.Duration
	}{
		{"lowest jitter doubles to the cap", 100 * ms, 800 * ms, 0,
			[]time.Duration{50 * ms, 100 * ms, 200 * ms, 400 * ms, 400 * ms, 400 * ms}},
		{"highest jitter stays at or below the cap", 100 * ms, 800 * ms, 0.999999999,
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 800 * ms}},
		{"cap that is not a power of two", 500 * ms, 30 * time.Second, 0,
			[]time.Duration{250 * ms, 500 * ms, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second, 15 * time.Second}},
		{"max below min is min", time.Second, ms, 0,
			[]time.Duration{500 * ms, 500 * ms}},
		{"zero min", 0, 4 * ms, 0,
			[]time.Duration{ms / 2, ms, 2 * ms, 2 * ms}},
		{"rand out of range is treated as 0", 100 * ms, 800 * ms, 1.5,
			[]time.Duration{50 * ms, 100 * ms}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := Backoff{Min: tc.min, Max: tc.max, Rand: func() float64 { return tc.rand }}
			for i, w := range tc.want {
				// the highest jitter may round down by under a nanosecond's worth
				if got := b.Next(); got != w && (got < w-time.Microsecond || got > w) {
					t.Errorf("delay %d = %v, want %v", i, got, w)
				}
			}
			if b.Attempts() != len(tc.want) {
				t.Errorf("Attempts = %d, want %d", b.Attempts(), len(tc.want))
			}
		})
	}
}

func TestBackoffJitterWithinBounds(t *testing.T) {
	b := Backoff{Min: 10 * time.Millisecond, Max: 30 * time.Second}
	seen := map[time.Duration]bool{}
	for round := 0; round < 50; round++ {
		b.Reset()
		for i := 0; i < 15; i++ {
			base := min(30*time.Second, 10*time.Millisecond<<i)
			d := b.Next()
			if d < base/2 || d > base {
				t.Fatalf("attempt %d: %v outside [%v, %v]", i, d, base/2, base)
			}
			if i == 3 {
				seen[d] = true
			}
		}
	}
	if len(seen) < 10 {
		t.Errorf("only %d distinct delays in 50 draws: no jitter?", len(seen))
	}
}

func TestBackoffReset(t *testing.T) {
	b := Backoff{Min: time.Second, Max: time.Minute, Rand: func() float64 { return 0 }}
	for range 5 {
		b.Next()
	}
	b.Reset()
	if b.Attempts() != 0 {
		t.Errorf("Attempts after Reset = %d", b.Attempts())
	}
	if d := b.Next(); d != 500*time.Millisecond {
		t.Errorf("first delay after Reset = %v, want 500ms", d)
	}
}

func TestBackoffNoOverflow(t *testing.T) {
	b := Backoff{Min: time.Hour, Max: time.Duration(1<<63 - 1), Rand: func() float64 { return 0.5 }}
	prev := time.Duration(0)
	for i := 0; i < 200; i++ {
		d := b.Next()
		if d <= 0 || d < prev {
			t.Fatalf("delay %d = %v after %v: overflow", i, d, prev)
		}
		prev = d
	}
}
