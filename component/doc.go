// Package component is the XMPP side of xgate: one XEP-0114 component
// stream per service domain, and the protocol every domain answers.
//
// # Two halves
//
// The stream half (Stream, stream.go, backoff.go, metrics.go) keeps one
// component connection to the XMPP server up: dial, handshake, serve, a
// XEP-0199 keepalive that notices a frozen server, and reconnection with
// jittered exponential backoff after any loss. It knows nothing of the
// protocols: it hands every incoming stanza to an xmpp.Handler and writes
// what it is given.
//
// The protocol half (Gateway, the other files) is that handler, and more:
//
//   - HandleXMPP (router.go) buffers each stanza, drops what cannot be
//     answered (no valid from, error stanzas: an error is never answered with
//     an error), applies access control (access.go: the configured bare JIDs
//     and exact domains, by default the server's own domain; everything else
//     gets forbidden), refuses oversized stanzas, and routes the rest through
//     a mellium mux to the handlers below. An iq get/set that no handler
//     answered gets service-unavailable (bad-request when it could not be
//     parsed). Every error carries an RFC 6120 condition with the
//     recommended type and a human <text xml:lang='en'/> (errors.go).
//   - Messages (message.go) from users to contact@domain are checked (the
//     transport's AddressChecker → jid-malformed; MaxStanzaSize →
//     not-acceptable) and written to the outbox; the outbox worker delivers
//     them with the transport's Deliver. A message to the bare domain gets a
//     help text back.
//   - Presence (presence.go) follows XEP-0100: the domain subscribes to a user
//     after registration and unsubscribes on unregistration; subscriptions
//     to contacts are approved.
//   - disco#info/#items, version and ping (disco.go), XEP-0077 registration
//     with XEP-0004 forms (register.go, forms.go), XEP-0100
//     jabber:iq:gateway (gateway_iq.go), XEP-0050 ad-hoc commands with
//     "status" and "unregister" (adhoc.go, adhoc_builtin.go).
//   - The Gateway is the transport's transports.Uplink (uplink.go): inbound
//     messages are persisted in the inbox (deduplicated on their remote id)
//     and delivered as chat stanzas by the inbox worker whenever the stream
//     is up; receipts and delivery failures go back to the user.
//
// Gateway.Run runs all of it for one domain: the stream, the transport's
// inbound side, and the outbox and inbox workers (transports.Worker).
//
// # Concurrency rules
//
// The stream calls HandleXMPP on its reader goroutine, one stanza at a time,
// with a writer that holds the session's output while the handler runs.
// Hence:
//
//   - A handler answers by writing to the xmlstream.TokenReadEncoder it is
//     given (or by Stream.Post). It never calls Stream.Send or Gateway.Send:
//     that would wait for the writer the handler itself holds.
//   - A handler never waits on a remote network. Only store calls (bounded by
//     a timeout) run inline. Anything that calls into the transport
//     (Register, Unregister, Translate, command steps) is handed to a bounded
//     set of goroutines that answer through Send; when too many are in
//     flight the request is refused with resource-constraint.
//   - The mux calls a message or presence handler once per matching child
//     element; handlers claim the stanza so only the first call acts.
//
// Uplink methods, Up and Domain are safe from any goroutine.
package component
