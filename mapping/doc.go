// Package mapping converts between remote network addresses and the
// localparts of JIDs on xgate's transport domains.
//
// Three address families exist:
//
//   - Email: the whole address becomes the localpart, escaped per XEP-0106
//     because '@' and a few other characters may not appear in a localpart:
//     bob@example.com is bob\40example.com@mail.gw.example.org.
//     See EmailToLocal and LocalToEmail.
//
//   - IRC, biboumi-compatible: #chan%irc.libera.chat is a channel (a MUC room;
//     the resource is an occupant's nick), nick%irc.libera.chat a user and
//     irc.libera.chat the server itself; characters illegal in a localpart are
//     XEP-0106 escaped. See ParseIRC and IRCAddress.Local.
//
//   - SMS: E.164 numbers (+15551234567) are valid localparts as they are.
//     PhoneToLocal normalises what a user types (national input with a default
//     region, short codes) with nyaruka/phonenumbers; LocalToPhone checks a
//     localpart. See e164.go.
//
// XEP-0106 escaping itself is EscapeLocal and UnescapeLocal. mellium.im/xmpp's
// jid.Unescape is not used: it mis-decodes \40.
//
// Every codec here is a pair of pure functions: no I/O, no state, safe for
// concurrent use. Each has round-trip tests and a fuzz target. Errors are
// *AddressError, whose text is written for a human and can go as-is into the
// <text/> of a jid-malformed stanza error.
//
// Note that XMPP servers case-fold localparts (RFC 7622, UsernameCaseMapped):
// a JID written Bob\40Example.com arrives as bob\40example.com. Codecs keep
// case as given; whoever compares addresses must fold where the remote network
// is case-insensitive.
package mapping
