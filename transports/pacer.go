package transports

import (
	"slices"
	"time"
)

// pacer spaces the starts of attempts that share a rate key. It belongs to the
// worker's dispatch loop goroutine and needs no lock.
//
// Each key hands out turns, interval apart, in the order items are claimed. An
// item whose turn is at most holdMax away waits in memory (held, still leased);
// one whose turn is further is handed back to the store until then and keeps
// its turn (reserved) when it is claimed again.
type pacer struct {
	holdMax  time.Duration
	keys     map[string]*paceKey
	reserved map[int64]time.Time // item id → turn, for items handed back to the store
}

type paceKey struct {
	interval time.Duration
	next     time.Time // earliest start of the key's next attempt
	tail     time.Time // first turn not yet given out
	held     []heldJob // sorted by turn
}

type heldJob struct {
	j    job
	slot time.Time
}

func newPacer(holdMax time.Duration) pacer {
	return pacer{holdMax: holdMax, keys: map[string]*paceKey{}, reserved: map[int64]time.Time{}}
}

// place gives j a turn on key. A non-zero deferTo means hand it back to the
// store until then; otherwise it is held (release hands it out, at once if its
// turn is now: the turn is taken when the attempt really starts).
func (p *pacer) place(j job, key string, interval time.Duration, now time.Time) (deferTo time.Time) {
	k := p.keys[key]
	if k == nil {
		k = &paceKey{}
		p.keys[key] = k
	}
	k.interval = interval
	if slot, ok := p.reserved[j.it.ID]; ok {
		delete(p.reserved, j.it.ID)
		k.hold(heldJob{j: j, slot: slot})
		return time.Time{}
	}
	slot := later(now, later(k.next, k.tail))
	k.tail = slot.Add(interval)
	if slot.Sub(now) <= p.holdMax {
		k.hold(heldJob{j: j, slot: slot})
		return time.Time{}
	}
	p.reserved[j.it.ID] = slot
	return slot
}

func (k *paceKey) hold(h heldJob) {
	i, _ := slices.BinarySearchFunc(k.held, h.slot, func(e heldJob, t time.Time) int {
		if e.slot.After(t) {
			return 1
		}
		return -1 // equal turns keep their arrival order
	})
	k.held = slices.Insert(k.held, i, h)
}

// ready is when the key's first held item may start.
func (k *paceKey) ready() time.Time { return later(k.held[0].slot, k.next) }

// release pops the held item that may start now, earliest turn first.
func (p *pacer) release(now time.Time) (job, bool) {
	var best *paceKey
	for _, k := range p.keys {
		if len(k.held) == 0 || k.ready().After(now) {
			continue
		}
		if best == nil || k.ready().Before(best.ready()) {
			best = k
		}
	}
	if best == nil {
		return job{}, false
	}
	j := best.held[0].j
	best.held = slices.Delete(best.held, 0, 1)
	best.next = now.Add(best.interval)
	return j, true
}

// nextRelease is when the next held item may start.
func (p *pacer) nextRelease() (time.Time, bool) {
	var at time.Time
	found := false
	for _, k := range p.keys {
		if len(k.held) == 0 {
			continue
		}
		if r := k.ready(); !found || r.Before(at) {
			at, found = r, true
		}
	}
	return at, found
}

// unreserve drops a turn given to an item that could not be handed back.
func (p *pacer) unreserve(id int64) { delete(p.reserved, id) }

// forget drops state that can no longer matter: idle keys whose turns are all
// past, and turns of handed-back items that another worker must have taken.
func (p *pacer) forget(now time.Time, lease time.Duration) {
	for key, k := range p.keys {
		if len(k.held) == 0 && now.After(later(k.next, k.tail)) {
			delete(p.keys, key)
		}
	}
	for id, slot := range p.reserved {
		if now.After(slot.Add(2 * lease)) {
			delete(p.reserved, id)
		}
	}
}

// drain empties the pacer and returns what was held.
func (p *pacer) drain() []heldJob {
	var out []heldJob
	for _, k := range p.keys {
		out = append(out, k.held...)
	}
	p.keys = map[string]*paceKey{}
	p.reserved = map[int64]time.Time{}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
