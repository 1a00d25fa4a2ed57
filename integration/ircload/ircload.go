// Package ircload is the IRC transport's load run: Prosody, ngircd and the
// real xgate binary on 127.0.0.1, N XMPP users in a few rooms
// (#loadK%127.0.0.1@irc.localhost) plus one raw IRC client per room, then
// messages both ways, paced (latency) and unpaced (throughput), with the CPU
// time and memory of each process from /proc. cmd/xgate-load prints its
// Result; integration/load_test.go runs it small so that it does not rot.
package ircload

import (
	"fmt"
	"strings"
	"time"
)

// Options size a run. Zero fields take the defaults of Defaults.
type Options struct {
	Users int // XMPP users, each with its own IRC connection
	Rooms int // channels; users are spread over them, one IRC observer each
	// Messages is how many messages each unpaced phase sends (per direction).
	Messages int
	// PacedMessages at PacedRate per second measure latency below saturation.
	PacedMessages int
	PacedRate     int
	// PhaseTimeout bounds the wait for one phase's messages to arrive.
	PhaseTimeout time.Duration
	// Parallel bounds concurrent logins and joins.
	Parallel int
	// Settle is how long after the joins the settled RSS is sampled
	// (default 10s; negative: not sampled).
	Settle time.Duration
	// NoArchive turns the per-user archive off (transports.irc.archive);
	// by default every line is archived, as in a default xgate.
	NoArchive bool
	// Log is where progress goes (nil: nowhere).
	Log func(format string, args ...any)
}

// Defaults are the figures of the documented run.
func Defaults() Options {
	return Options{Users: 200, Rooms: 4, Messages: 5000, PacedMessages: 1000, PacedRate: 100,
		PhaseTimeout: 90 * time.Second, Parallel: 16}
}

func (o *Options) fill() {
	d := Defaults()
	if o.Settle == 0 {
		o.Settle = 10 * time.Second
	}
	if o.Users <= 0 {
		o.Users = d.Users
	}
	if o.Rooms <= 0 {
		o.Rooms = d.Rooms
	}
	o.Rooms = min(o.Rooms, o.Users)
	if o.Messages <= 0 {
		o.Messages = d.Messages
	}
	if o.PacedMessages <= 0 {
		o.PacedMessages = d.PacedMessages
	}
	if o.PacedRate <= 0 {
		o.PacedRate = d.PacedRate
	}
	if o.PhaseTimeout <= 0 {
		o.PhaseTimeout = d.PhaseTimeout
	}
	if o.Parallel <= 0 {
		o.Parallel = d.Parallel
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
}

// Phase is one direction at one pace.
type Phase struct {
	Name string // "xmpp→irc paced", ...
	Sent int    // messages sent
	// Arrived counts arrivals at the measured side: IRC observers for
	// xmpp→irc (one per message), XMPP users for irc→xmpp (one per user in
	// the room, so Sent × users per room when complete).
	Arrived, Expected int
	// Fanout is what else xgate delivered meanwhile: for xmpp→irc, the
	// groupchat copies the other users of the room (and the sender's
	// reflections) received.
	Fanout int
	// FanoutElapsed is first send to the last fan-out copy.
	FanoutElapsed time.Duration
	Elapsed       time.Duration // first send to last arrival
	P50, P99      time.Duration
	// CPU used during the phase by each process.
	CPUXgate, CPUProsody, CPUNgircd time.Duration
}

// MsgPerSec is messages sent per second of Elapsed (complete phases only make
// sense).
func (p Phase) MsgPerSec() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Sent) / p.Elapsed.Seconds()
}

// ArrivedPerSec is arrivals at the measured side per second.
func (p Phase) ArrivedPerSec() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Arrived) / p.Elapsed.Seconds()
}

// Complete reports whether everything sent arrived.
func (p Phase) Complete() bool { return p.Arrived >= p.Expected }

// Result is what a run measured.
type Result struct {
	Options Options
	// RSS of xgate in KiB: idle (healthy, no user), with every user joined,
	// and its high-water mark at the end. RSSSettledKiB is sampled Settle
	// after the joins, once the registration's short-lived goroutines and
	// garbage are gone (0 when Settle is not positive).
	RSSIdleKiB, RSSUsersKiB, RSSPeakKiB, RSSSettledKiB int64
	Setup                                              time.Duration // logins and joins
	Phases                                             []Phase
}

// RSSPerUserKiB is (RSS with users − idle RSS) / users.
func (r *Result) RSSPerUserKiB() float64 {
	return float64(r.RSSUsersKiB-r.RSSIdleKiB) / float64(r.Options.Users)
}

// String is the report cmd/xgate-load prints.
func (r *Result) String() string {
	var b strings.Builder
	o := r.Options
	fmt.Fprintf(&b, "users %d, rooms %d (%d users per room), setup %v\n", o.Users, o.Rooms, o.Users/o.Rooms, r.Setup.Round(time.Millisecond))
	fmt.Fprintf(&b, "xgate RSS: idle %d KiB, with %d users %d KiB → %.1f KiB per connected IRC user; peak %d KiB\n",
		r.RSSIdleKiB, o.Users, r.RSSUsersKiB, r.RSSPerUserKiB(), r.RSSPeakKiB)
	if r.RSSSettledKiB > 0 {
		fmt.Fprintf(&b, "xgate RSS %v after the joins: %d KiB → %.1f KiB per connected IRC user\n",
			o.Settle, r.RSSSettledKiB, float64(r.RSSSettledKiB-r.RSSIdleKiB)/float64(o.Users))
	}
	for _, p := range r.Phases {
		state := "complete"
		if !p.Complete() {
			state = "INCOMPLETE"
		}
		fmt.Fprintf(&b, "%-17s sent %6d in %8v: %7.0f msg/s, arrived %d/%d (%s, %.0f/s), fan-out %d in %v, p50 %v p99 %v\n",
			p.Name, p.Sent, p.Elapsed.Round(time.Millisecond), p.MsgPerSec(), p.Arrived, p.Expected, state,
			p.ArrivedPerSec(), p.Fanout, p.FanoutElapsed.Round(time.Millisecond), p.P50.Round(10*time.Microsecond), p.P99.Round(10*time.Microsecond))
		per := func(d time.Duration) string {
			return fmt.Sprintf("%6.0f µs", float64(d.Microseconds())/float64(max(1, p.Sent)))
		}
		fmt.Fprintf(&b, "%-17s CPU per message sent: xgate %s, prosody %s, ngircd %s\n", "", per(p.CPUXgate), per(p.CPUProsody), per(p.CPUNgircd))
	}
	return b.String()
}
