package ircload

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"xgate/integration/harness"
)

const (
	domain   = "irc.localhost"
	secret   = "comp-irc-load"
	userPass = "load-pass"
	nsMUC    = "http://jabber.org/protocol/muc"
)

// env is one run's servers and clients.
type env struct {
	o     Options
	srv   *harness.XMPPServer
	ircd  *harness.IRCServer
	xg    *harness.Xgate
	users []*harness.Client
	obs   []*harness.IRCClient
	// fromIRC counts load messages at the XMPP users, toIRC at the observers.
	fromIRC, toIRC *collector
	stop           chan struct{}
}

func roomJID(k int) string { return "#load" + strconv.Itoa(k) + "%127.0.0.1@" + domain }

// Run starts the servers, logs the users in, joins them and measures. It
// fails t only on setup errors; a phase whose messages did not all arrive in
// time is reported incomplete.
func Run(t harness.T, o Options) *Result {
	t.Helper()
	o.fill()
	e := &env{o: o, fromIRC: newCollector(), toIRC: newCollector(), stop: make(chan struct{})}
	t.Cleanup(func() { close(e.stop) })
	e.ircd = harness.StartNgircdWith(t, harness.NgircdOptions{NoFloodLimits: true})
	e.srv = harness.StartProsody(t, harness.ProsodyOptions{ServerOptions: harness.ServerOptions{
		Components: []harness.Component{{Domain: domain, Secret: secret}},
	}})
	accounts := make([]harness.Account, o.Users)
	for i := range accounts {
		accounts[i] = harness.Account{User: "u" + strconv.Itoa(i), Pass: userPass}
	}
	o.Log("registering %d users with prosodyctl", o.Users)
	e.srv.RegisterAll(t, accounts...)

	cfg := harness.NewXgateConfig(t, e.srv)
	cfg.LogLevel = "warn"
	// The harness's 2 s keepalive is for fast failure tests: under load
	// Prosody answers later than that, and xgate would drop the stream.
	cfg.Keepalive, cfg.KeepaliveTimeout = 30*time.Second, 20*time.Second
	cfg.ExtraTransports = fmt.Sprintf("  irc:\n    domain: %s\n    secret: %s\n    networks:\n"+
		"      - host: 127.0.0.1\n        port: %d\n        plaintext: true\n        burst: 1000\n        interval: 1ms\n",
		domain, secret, e.ircd.Port)
	if o.NoArchive {
		cfg.ExtraTransports += "    archive:\n      enabled: false\n"
	}
	e.xg = harness.StartXgate(t, cfg.YAML())
	e.xg.WaitHealthy(t, 30*time.Second)

	res := &Result{Options: o}
	res.RSSIdleKiB = mustMem(t, e.xg.Pid(), "VmRSS")

	began := time.Now()
	e.joinObservers(t)
	e.joinUsers(t)
	res.Setup = time.Since(began)
	res.RSSUsersKiB = mustMem(t, e.xg.Pid(), "VmRSS")
	o.Log("%d users joined in %v; xgate RSS %d KiB (idle %d KiB)", o.Users, res.Setup.Round(time.Millisecond), res.RSSUsersKiB, res.RSSIdleKiB)
	if o.Settle > 0 {
		time.Sleep(o.Settle) // a measurement interval, not synchronisation
		res.RSSSettledKiB = mustMem(t, e.xg.Pid(), "VmRSS")
		o.Log("xgate RSS %v later: %d KiB", o.Settle, res.RSSSettledKiB)
	}

	e.startReceivers()
	res.Phases = append(res.Phases,
		e.phase(t, "xmpp→irc paced", "px", o.PacedMessages, o.PacedRate, e.sendXMPP),
		e.phase(t, "irc→xmpp paced", "pi", o.PacedMessages, o.PacedRate, e.sendIRC),
		e.phase(t, "xmpp→irc", "tx", o.Messages, 0, e.sendXMPP),
		e.phase(t, "irc→xmpp", "ti", o.Messages, 0, e.sendIRC),
	)
	res.RSSPeakKiB = mustMem(t, e.xg.Pid(), "VmHWM")
	return res
}

func mustMem(t harness.T, pid int, field string) int64 {
	t.Helper()
	v, err := memKiB(pid, field)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return v
}

func (e *env) joinObservers(t harness.T) {
	t.Helper()
	for k := range e.o.Rooms {
		c := harness.DialIRC(t, e.ircd.Addr, "obs"+strconv.Itoa(k))
		c.Send(t, "JOIN #load"+strconv.Itoa(k))
		c.Expect(t, 10*time.Second, " 366 ")
		// Clears the write deadline Send left, so the PONGs keep working.
		if err := c.Write("MODE #load" + strconv.Itoa(k)); err != nil {
			t.Fatalf("ircload: obs%d: %v", k, err)
		}
		e.obs = append(e.obs, c)
	}
}

// joinUsers logs every user in and joins it to room i mod Rooms, o.Parallel
// at a time, waiting for each self-presence.
func (e *env) joinUsers(t harness.T) {
	t.Helper()
	e.users = make([]*harness.Client, e.o.Users)
	errs := make(chan error, e.o.Users)
	sem := make(chan struct{}, e.o.Parallel)
	var wg sync.WaitGroup
	for i := range e.o.Users {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := e.joinUser(i)
			e.users[i] = c
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range e.users {
			if c != nil {
				c.Disconnect()
			}
		}
	})
	close(errs)
	if err := <-errs; err != nil {
		t.Fatalf("%v", err)
	}
}

func (e *env) joinUser(i int) (*harness.Client, error) {
	nick := "u" + strconv.Itoa(i)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := harness.Dial(ctx, e.srv.C2SAddr, nick+"@"+e.srv.Domain, userPass, "load")
	if err != nil {
		return nil, err
	}
	room := roomJID(i % e.o.Rooms)
	if err := c.SendRaw("<presence/>"); err != nil {
		return c, fmt.Errorf("ircload: %s: presence: %w", nick, err)
	}
	if err := c.SendRaw("<presence to='" + room + "/" + nick + "'><x xmlns='" + nsMUC + "'/></presence>"); err != nil {
		return c, fmt.Errorf("ircload: %s: join: %w", nick, err)
	}
	if _, ok := c.Next(30*time.Second, harness.Presence(room+"/"+nick, "")); !ok {
		return c, fmt.Errorf("ircload: %s: no self-presence from %s within 30s", nick, room)
	}
	return c, nil
}

// startReceivers counts load messages at every client until the run ends.
func (e *env) startReceivers() {
	for _, c := range e.users {
		go func() {
			for {
				els, notify := c.TakeAll()
				now := time.Now()
				for _, el := range els {
					if el.Name.Local == "message" {
						e.fromIRC.add(now, el.ChildText("body"))
					}
				}
				select {
				case <-notify:
				case <-c.Done():
					return
				case <-e.stop:
					return
				}
			}
		}()
	}
	for _, c := range e.obs {
		go func() {
			for {
				lines, more, done := c.TakeAll()
				now := time.Now()
				for _, l := range lines {
					if i := strings.Index(l, " PRIVMSG #load"); i >= 0 {
						if j := strings.Index(l[i:], " :"); j >= 0 {
							e.toIRC.add(now, l[i+j+2:])
						}
					}
				}
				select {
				case <-more:
				case <-done:
					return
				case <-e.stop:
					return
				}
			}
		}()
	}
}

// sender sends message seq of phase; it is called from several goroutines.
type sender func(phase string, seq int) error

func (e *env) sendXMPP(phase string, seq int) error {
	i := seq % e.o.Users
	return e.users[i].SendRaw("<message type='groupchat' to='" + roomJID(i%e.o.Rooms) + "'><body>" + loadBody(phase, seq) + "</body></message>")
}

func (e *env) sendIRC(phase string, seq int) error {
	k := seq % e.o.Rooms
	return e.obs[k].Write("PRIVMSG #load" + strconv.Itoa(k) + " :" + loadBody(phase, seq))
}

// phase sends n messages, at rate per second (0: as fast as possible, one
// goroutine per sending client), and waits for them to arrive.
func (e *env) phase(t harness.T, name, id string, n, rate int, send sender) Phase {
	t.Helper()
	toIRC := strings.HasSuffix(id, "x")
	p := Phase{Name: name, Sent: n, Expected: n}
	col := e.toIRC
	if !toIRC {
		col = e.fromIRC
		// Every user of room k receives each message sent to room k.
		p.Expected = 0
		for seq := range n {
			p.Expected += e.usersIn(seq % e.o.Rooms)
		}
	}
	fanBefore, _ := e.fromIRC.snapshot(id)
	cpu0 := e.cpu(t)
	start := time.Now()
	var failed atomic.Int64
	if rate > 0 {
		for seq := range n {
			if d := time.Until(start.Add(time.Duration(seq) * time.Second / time.Duration(rate))); d > 0 {
				time.Sleep(d) // pacing, not synchronisation
			}
			if send(id, seq) != nil {
				failed.Add(1)
			}
		}
	} else {
		senders := e.o.Rooms
		if toIRC {
			senders = e.o.Users
		}
		var wg sync.WaitGroup
		for s := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for seq := s; seq < n; seq += senders {
					if send(id, seq) != nil {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
	}
	e.o.Log("%s: %d sent in %v, waiting", name, n, time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), e.o.PhaseTimeout)
	defer cancel()
	_ = harness.Poll(ctx, e.o.PhaseTimeout, func() (bool, string) {
		got, _ := col.snapshot(id)
		return got >= p.Expected, fmt.Sprintf("%d of %d", got, p.Expected)
	})
	got, last := col.snapshot(id)
	p.Arrived = got
	if !last.IsZero() {
		p.Elapsed = last.Sub(start)
	}
	p.P50, p.P99 = col.percentiles(id)
	if toIRC {
		// Let the fan-out (the room's other users and the reflections) end
		// before the next phase, and time it.
		want := fanBefore
		for seq := range n {
			want += e.usersIn(seq % e.o.Rooms)
		}
		_ = harness.Poll(ctx, e.o.PhaseTimeout, func() (bool, string) {
			got, _ := e.fromIRC.snapshot(id)
			return got >= want, fmt.Sprintf("fan-out %d of %d", got, want)
		})
		fan, fanLast := e.fromIRC.snapshot(id)
		p.Fanout = fan - fanBefore
		if !fanLast.IsZero() {
			p.FanoutElapsed = fanLast.Sub(start)
		}
	}
	cpu1 := e.cpu(t)
	p.CPUXgate, p.CPUProsody, p.CPUNgircd = cpu1[0]-cpu0[0], cpu1[1]-cpu0[1], cpu1[2]-cpu0[2]
	if f := failed.Load(); f > 0 {
		e.o.Log("%s: %d sends failed", name, f)
	}
	e.o.Log("%s: %d/%d arrived in %v", name, p.Arrived, p.Expected, p.Elapsed.Round(time.Millisecond))
	return p
}

func (e *env) usersIn(k int) int {
	n := e.o.Users / e.o.Rooms
	if k < e.o.Users%e.o.Rooms {
		n++
	}
	return n
}

// cpu returns the CPU time used so far by xgate, Prosody and ngircd.
func (e *env) cpu(t harness.T) [3]time.Duration {
	t.Helper()
	var out [3]time.Duration
	for i, pid := range []int{e.xg.Pid(), e.srv.Pid(), e.ircd.Pid()} {
		d, err := cpuTime(pid)
		if err != nil {
			t.Fatalf("%v", err)
		}
		out[i] = d
	}
	return out
}
