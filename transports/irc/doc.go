// Package irc is xgate's IRC transport: IRC channels are XEP-0045 rooms and
// IRC users are contacts, with biboumi-compatible addresses
// (#chan%irc.example.net@irc.gw, nick%irc.example.net@irc.gw,
// irc.example.net@irc.gw; see mapping.ParseIRC).
//
// IRC is live, not store-and-forward: the transport implements
// transports.StanzaHandler and takes every stanza users send to its contacts
// (presence to rooms, groupchat and private messages, IQs) before the
// component's outbox sees it.
//
// # Concurrency (soju's model)
//
//   - HandleStanza (the XMPP reader) and the girc readers only turn wire data
//     into events and post them to the owning user's queue; they never wait
//     on a network.
//   - One goroutine per XMPP user (user.run) owns that user's IRC sessions,
//     one per network, and all their room state: no locks on it.
//   - Each IRC connection has a writer (writer.go) with a bounded queue and
//     a token bucket; lines queued while the connection is down wait for it
//     instead of being dropped by girc. Its goroutine runs only while lines
//     wait.
//   - Per-user memory is kept small: the user's queue (inbox.go) and the
//     writer's queue are slices that grow with what waits and are released
//     when empty, not channels that preallocate their whole bound.
//   - Stanzas to XMPP go through one bounded outgoing queue (out.go) whose
//     goroutine calls Uplink.Send and retries while the stream is down.
//     While the stream is up, a user goroutine that finds it full waits for
//     room (until the transport stops): its queue fills, the girc readers
//     block posting to it and stop reading, and TCP slows the IRC server
//     down. A burst is slowed, not dropped. While the stream is down the
//     queue only buffers (a full one drops, logged), so a dead stream never
//     freezes the IRC side; HandleStanza never waits for the queue.
//
// Sessions reach the network through netHooks (dial, send): girc by
// default, a fake server in the unit tests (fake_test.go), which drive the
// whole MUC state machine without sockets.
package irc
