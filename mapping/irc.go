package mapping

import (
	"net/netip"
	"strconv"
	"strings"
)

// IRCKind says what an IRC address designates.
type IRCKind int

const (
	// IRCServer is an IRC server itself ("irc.libera.chat"): the JID that
	// talks to the server (raw commands, server notices).
	IRCServer IRCKind = iota + 1
	// IRCChannel is a channel ("#go-nuts%irc.libera.chat"): a MUC room, whose
	// occupants are the JID's resources.
	IRCChannel
	// IRCNick is a user ("alice%irc.libera.chat"): private messages.
	IRCNick
)

func (k IRCKind) String() string {
	switch k {
	case IRCServer:
		return "server"
	case IRCChannel:
		return "channel"
	case IRCNick:
		return "nick"
	}
	return "IRCKind(" + strconv.Itoa(int(k)) + ")"
}

// DefaultChanTypes are the channel prefixes assumed when a network does not
// announce its own (the CHANTYPES token of RPL_ISUPPORT).
const DefaultChanTypes = "#&"

const kindIRC = "an IRC address"

// IRCAddress is a biboumi-compatible IRC address, decoded from the localpart
// (and resource) of a JID on the IRC transport's domain.
type IRCAddress struct {
	Kind IRCKind
	// Name is the channel, prefix included ("#go-nuts"), or the nick; empty
	// for a server.
	Name string
	// Server is the IRC server's host name ("irc.libera.chat") or IP address.
	Server string
	// Nick is, for a channel, the occupant nick given as the JID's resource
	// ("#go-nuts%irc.libera.chat/alice" is alice in #go-nuts, for in-room
	// private messages); empty otherwise.
	Nick string
}

// ParseIRC decodes the localpart and resource of a JID on the IRC transport's
// domain: "#chan%server" is a channel (the resource, if any, an occupant's
// nick), "nick%server" a user, and "server" (no %) the server itself. The
// localpart is XEP-0106 unescaped first, so characters that a localpart cannot
// hold can still be addressed (a channel "#a:b" is "#a\3ab%server").
//
// chantypes lists the characters that start a channel name on this network;
// "" means DefaultChanTypes. A name that starts with any other character is a
// nick. The resource of a nick or server JID is ignored.
func ParseIRC(local, resource, chantypes string) (IRCAddress, error) {
	if chantypes == "" {
		chantypes = DefaultChanTypes
	}
	if local == "" {
		return IRCAddress{}, &AddressError{Input: local, Kind: kindIRC,
			Reason: "it is empty (expected #channel%irc.example.org, nick%irc.example.org or irc.example.org)"}
	}
	s, err := UnescapeLocal(local)
	if err != nil {
		reason := err.Error()
		if ae, ok := err.(*AddressError); ok {
			reason = ae.Reason
		}
		return IRCAddress{}, &AddressError{Input: local, Kind: kindIRC, Reason: reason}
	}
	fail := func(reason string) (IRCAddress, error) {
		return IRCAddress{}, &AddressError{Input: s, Kind: kindIRC, Reason: reason}
	}

	// Host names cannot contain '%', so the last one separates the server;
	// whatever comes before it is the name, '%' included.
	i := strings.LastIndexByte(s, '%')
	if i < 0 {
		if strings.IndexByte(chantypes, s[0]) >= 0 {
			return fail("it names no server (expected " + s + "%irc.example.org)")
		}
		if reason := checkIRCServer(s); reason != "" {
			return fail(reason)
		}
		return IRCAddress{Kind: IRCServer, Server: s}, nil
	}
	name, server := s[:i], s[i+1:]
	if server == "" {
		return fail("nothing comes after the % (expected the IRC server, e.g. " + name + "%irc.example.org)")
	}
	if reason := checkIRCServer(server); reason != "" {
		return fail(reason)
	}
	if name == "" {
		return fail("nothing comes before the % (expected a #channel or a nick)")
	}
	if strings.IndexByte(chantypes, name[0]) >= 0 {
		if reason := checkChannel(name); reason != "" {
			return fail(reason)
		}
		if resource != "" {
			if reason := checkNick(resource, chantypes); reason != "" {
				return IRCAddress{}, &AddressError{Input: resource, Kind: "an IRC nick", Reason: reason}
			}
		}
		return IRCAddress{Kind: IRCChannel, Name: name, Server: server, Nick: resource}, nil
	}
	if reason := checkNick(name, chantypes); reason != "" {
		return fail(reason)
	}
	return IRCAddress{Kind: IRCNick, Name: name, Server: server}, nil
}

// Local is the escaped localpart of the address's JID (its resource is Nick,
// for a channel occupant). For any address ParseIRC returned,
// ParseIRC(a.Local(), a.Nick, chantypes) returns a again.
//
// An address without a Server is a short one of the fixed network (see
// ParseIRCFixed): "#chan" or "nick"; a server address without a Server is
// "" (the caller names the fixed host).
func (a IRCAddress) Local() string {
	if a.Kind == IRCServer {
		return EscapeLocal(a.Server)
	}
	if a.Server == "" {
		return EscapeLocal(a.Name)
	}
	return EscapeLocal(a.Name + "%" + a.Server)
}

// checkIRCServer returns why s is not an IRC server host name or IP address.
func checkIRCServer(s string) string {
	if ip, err := netip.ParseAddr(s); err == nil && ip.Zone() == "" {
		return ""
	}
	bad := func(why string) string {
		return "the server " + s + " " + why + " (expected a host name such as irc.libera.chat)"
	}
	if len(s) > 253 {
		return bad("is too long")
	}
	for label := range strings.SplitSeq(s, ".") {
		switch {
		case label == "":
			return bad("has an empty label")
		case len(label) > 63:
			return bad("has a label longer than 63 characters")
		case label[0] == '-' || label[len(label)-1] == '-':
			return bad("has a label that starts or ends with a hyphen")
		}
		for _, r := range label {
			if !(r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return bad("contains " + strconv.QuoteRune(r))
			}
		}
	}
	return ""
}

// checkChannel returns why name (prefix included) is not a channel name:
// RFC 2812 excludes NUL, BEL, CR, LF, space, comma and colon.
func checkChannel(name string) string {
	if i := strings.IndexAny(name, "\x00\x07\r\n ,:"); i >= 0 {
		return "the channel name " + name + " contains " + describeIRCChar(name[i])
	}
	return ""
}

// checkNick returns why nick is not a nick. Networks differ in what they
// allow, so only what breaks the protocol or addressing is refused.
func checkNick(nick, chantypes string) string {
	if nick == "" {
		return "the nick is empty"
	}
	if i := strings.IndexAny(nick, "\x00\r\n ,!@*?"); i >= 0 {
		return "the nick " + nick + " contains " + describeIRCChar(nick[i])
	}
	switch {
	case nick[0] == ':' || nick[0] == '$':
		return "the nick " + nick + " starts with " + describeIRCChar(nick[0])
	case strings.IndexByte(chantypes, nick[0]) >= 0:
		return "the nick " + nick + " starts with a channel prefix"
	}
	return ""
}

func describeIRCChar(c byte) string {
	switch c {
	case ' ':
		return "a space"
	case 0, 7, '\r', '\n':
		return "a control character"
	}
	return "'" + string(c) + "'"
}
