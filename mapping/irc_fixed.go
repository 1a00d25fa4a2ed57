package mapping

import "strings"

// ParseIRCFixed is ParseIRC for a gateway with a fixed network (biboumi's
// fixed_irc_server): fixed is that network's host. Addresses with a '%'
// are parsed as ParseIRC does (any server, the fixed one included). The
// short forms name the fixed network and come back with an empty Server:
// "#chan" (a channel; its resource an occupant), "nick" (a user) and the
// fixed host itself (the server). A name with a dot is another server, as
// with ParseIRC. Local renders them short again, so JIDs
// the gateway makes from a short address stay short.
//
// With fixed empty it is ParseIRC.
func ParseIRCFixed(local, resource, chantypes, fixed string) (IRCAddress, error) {
	if fixed == "" || local == "" {
		return ParseIRC(local, resource, chantypes)
	}
	if chantypes == "" {
		chantypes = DefaultChanTypes
	}
	s, err := UnescapeLocal(local)
	if err != nil || strings.IndexByte(s, '%') >= 0 {
		return ParseIRC(local, resource, chantypes)
	}
	fail := func(input, kind, reason string) (IRCAddress, error) {
		return IRCAddress{}, &AddressError{Input: input, Kind: kind, Reason: reason}
	}
	switch {
	case strings.EqualFold(s, fixed):
		return IRCAddress{Kind: IRCServer}, nil
	case strings.IndexByte(chantypes, s[0]) >= 0:
		if reason := checkChannel(s); reason != "" {
			return fail(s, kindIRC, reason)
		}
		if resource != "" {
			if reason := checkNick(resource, chantypes); reason != "" {
				return fail(resource, "an IRC nick", reason)
			}
		}
		return IRCAddress{Kind: IRCChannel, Name: s, Nick: resource}, nil
	}
	if strings.ContainsAny(s, ".:") {
		// No nick has a dot: another server's JID (a %-session's notices
		// come from it).
		return ParseIRC(local, resource, chantypes)
	}
	if reason := checkNick(s, chantypes); reason != "" {
		return fail(s, kindIRC, reason+" (expected #channel or nick on "+fixed+", or name%server)")
	}
	return IRCAddress{Kind: IRCNick, Name: s}, nil
}
