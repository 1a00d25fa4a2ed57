package ircload

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// collector counts the load messages received, per phase, and keeps their
// latencies. A load message body is "L <phase> <send unix ns> <seq>".
type collector struct {
	mu     sync.Mutex
	phases map[string]*phaseStats
}

type phaseStats struct {
	count       int
	lat         []time.Duration
	first, last time.Time
}

func newCollector() *collector { return &collector{phases: map[string]*phaseStats{}} }

func loadBody(phase string, seq int) string {
	return "L " + phase + " " + strconv.FormatInt(time.Now().UnixNano(), 10) + " " + strconv.Itoa(seq)
}

// add records body received at now; it ignores bodies that are not load
// messages.
func (c *collector) add(now time.Time, body string) {
	f := strings.Fields(body)
	if len(f) != 4 || f[0] != "L" {
		return
	}
	sent, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.phases[f[1]]
	if p == nil {
		p = &phaseStats{first: now}
		c.phases[f[1]] = p
	}
	p.count++
	p.last = now
	p.lat = append(p.lat, now.Sub(time.Unix(0, sent)))
}

// snapshot returns the count and last arrival of phase.
func (c *collector) snapshot(phase string) (int, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.phases[phase]; p != nil {
		return p.count, p.last
	}
	return 0, time.Time{}
}

// percentiles returns p50 and p99 of phase's latencies.
func (c *collector) percentiles(phase string) (p50, p99 time.Duration) {
	c.mu.Lock()
	var lat []time.Duration
	if p := c.phases[phase]; p != nil {
		lat = slices.Clone(p.lat)
	}
	c.mu.Unlock()
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	at := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	return at(0.50), at(0.99)
}
