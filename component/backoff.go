package component

import (
	"math/rand/v2"
	"time"
)

// Backoff computes jittered exponential delays between reconnection attempts.
//
// The n-th delay since the last Reset (n counting from 0) is drawn uniformly
// from [base/2, base] with base = min(Max, Min·2ⁿ) ("equal jitter"): delays
// roughly double, never exceed Max, and never fall below half of the current
// base, so a refused secret or an unreachable server is retried ever more
// slowly while several gateways restarting together do not retry in lock-step.
//
// The zero value is not useful: set Min and Max. Min ≤ 0 is treated as 1ms and
// Max < Min as Min. A Backoff is not safe for concurrent use; each stream owns
// its own.
type Backoff struct {
	Min, Max time.Duration
	// Rand returns a value in [0, 1); nil uses math/rand/v2. Tests set it to
	// get exact delays.
	Rand func() float64

	n int
}

// Next returns the delay before the next attempt and advances the sequence.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.bounds(b.n)
	b.n++
	r := rand.Float64
	if b.Rand != nil {
		r = b.Rand
	}
	f := r()
	if f < 0 || f >= 1 {
		f = 0
	}
	return lo + time.Duration(f*float64(hi-lo+1))
}

// Reset starts the sequence again from Min: called after a stream stayed up
// long enough to count as healthy.
func (b *Backoff) Reset() { b.n = 0 }

// Attempts is how many delays Next has returned since the last Reset.
func (b *Backoff) Attempts() int { return b.n }

// bounds is the range [lo, hi] the n-th delay is drawn from.
func (b *Backoff) bounds(n int) (lo, hi time.Duration) {
	minD, maxD := b.Min, b.Max
	if minD <= 0 {
		minD = time.Millisecond
	}
	if maxD < minD {
		maxD = minD
	}
	base := minD
	for i := 0; i < n && base < maxD; i++ {
		if base > maxD/2 {
			base = maxD // doubling would pass the cap (or overflow)
			break
		}
		base *= 2
	}
	return base / 2, base
}
