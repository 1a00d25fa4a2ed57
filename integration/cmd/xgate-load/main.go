// Command xgate-load measures the IRC transport under load: it starts
// Prosody, ngircd and xgate on 127.0.0.1, logs in -users XMPP users spread
// over -rooms channels (#loadK%127.0.0.1@irc.localhost) with one raw IRC
// client per channel, and prints messages per second and latency each way,
// CPU time per message of xgate, Prosody and ngircd, and xgate's RSS per
// connected IRC user. Run it from the repository: go run ./integration/cmd/xgate-load
// (it builds cmd/xgate; set XGATE_BIN to use a prebuilt binary).
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"xgate/integration/ircload"
)

func main() {
	o := ircload.Defaults()
	flag.IntVar(&o.Users, "users", o.Users, "XMPP users, each with its own IRC connection")
	flag.IntVar(&o.Rooms, "rooms", o.Rooms, "channels the users are spread over (one IRC observer each)")
	flag.IntVar(&o.Messages, "messages", o.Messages, "messages per unpaced phase, per direction")
	flag.IntVar(&o.PacedMessages, "paced-messages", o.PacedMessages, "messages per paced (latency) phase")
	flag.IntVar(&o.PacedRate, "paced-rate", o.PacedRate, "messages per second in the paced phases")
	flag.DurationVar(&o.PhaseTimeout, "phase-timeout", o.PhaseTimeout, "longest wait for one phase's messages")
	flag.IntVar(&o.Parallel, "parallel", o.Parallel, "concurrent logins and joins")
	flag.DurationVar(&o.Settle, "settle", 10*time.Second, "wait after the joins before sampling the settled RSS (negative: none)")
	flag.BoolVar(&o.NoArchive, "no-archive", false, "turn the per-user archive off (transports.irc.archive.enabled: false)")
	flag.Parse()
	r := &runner{}
	o.Log = r.Logf
	os.Exit(r.run(func() {
		res := ircload.Run(r, o)
		fmt.Print(res.String())
	}))
}
