package transports

import (
	"slices"
	"testing"
	"time"

	"xgate/store"
)

// TestPacer drives the pacer with explicit times: turns on one key are an
// interval apart in claim order, a late start pushes the next turn, other keys
// are independent, and a turn too far away is handed back and kept.
func TestPacer(t *testing.T) {
	const iv = time.Second
	p := newPacer(2500 * time.Millisecond) // holds up to 2.5 intervals
	j := func(id int64) job { return job{it: store.QueueItem{ID: id}} }
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

	// Four items for key A and one for key B claimed at t0.
	for id := int64(1); id <= 4; id++ {
		deferTo := p.place(j(id), "A", iv, at(0))
		switch {
		case id <= 3 && !deferTo.IsZero():
			t.Fatalf("item %d handed back, want held", id)
		case id == 4 && !deferTo.Equal(at(3)):
			t.Fatalf("item 4 handed back until %v, want %v", deferTo, at(3))
		}
	}
	if d := p.place(j(10), "B", iv, at(0)); !d.IsZero() {
		t.Fatal("key B item handed back")
	}

	release := func(now float64) []int64 {
		var ids []int64
		for {
			jb, ok := p.release(at(now))
			if !ok {
				return ids
			}
			ids = append(ids, jb.it.ID)
		}
	}
	steps := []struct {
		now  float64
		want []int64
		next float64 // when the next release is due, -1 for none
	}{
		{now: 0, want: []int64{1, 10}, next: 1},
		{now: 0.9, want: nil, next: 1},
		{now: 1.5, want: []int64{2}, next: 2.5}, // started late: the next turn moves
		{now: 2.2, want: nil, next: 2.5},
		{now: 2.5, want: []int64{3}, next: -1},
	}
	for _, s := range steps {
		if got := release(s.now); !equalIDs(got, s.want) {
			t.Fatalf("at %vs released %v, want %v", s.now, got, s.want)
		}
		nr, ok := p.nextRelease()
		switch {
		case s.next < 0 && ok:
			t.Fatalf("at %vs next release %v, want none", s.now, nr)
		case s.next >= 0 && (!ok || !nr.Equal(at(s.next))):
			t.Fatalf("at %vs next release %v (%v), want %vs", s.now, nr, ok, s.next)
		}
	}
	// Item 4 comes back from the store at its turn and keeps it: a new item
	// claimed at the same moment queues behind it.
	if d := p.place(j(5), "A", iv, at(3)); !d.IsZero() {
		t.Fatal("item 5 handed back, want held")
	}
	if d := p.place(j(4), "A", iv, at(3)); !d.IsZero() {
		t.Fatal("returning item 4 handed back again")
	}
	if got := release(3.5); !equalIDs(got, []int64{4}) {
		t.Fatalf("released %v, want [4]", got)
	}
	if got := release(4.4); len(got) != 0 {
		t.Fatalf("released %v before the interval passed", got)
	}
	if got := release(4.5); !equalIDs(got, []int64{5}) {
		t.Fatalf("released %v, want [5]", got)
	}
	// Idle keys are forgotten; drain returns what is held.
	p.forget(at(100), time.Minute)
	if len(p.keys) != 0 || len(p.reserved) != 0 {
		t.Errorf("after forget: %d keys, %d reservations", len(p.keys), len(p.reserved))
	}
	p.place(j(6), "C", iv, at(100))
	if held := p.drain(); len(held) != 1 || held[0].j.it.ID != 6 {
		t.Errorf("drain = %+v, want item 6", held)
	}
}

// equalIDs compares as sets: keys whose turns fall at the same time may be
// released in any order.
func equalIDs(a, b []int64) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}
