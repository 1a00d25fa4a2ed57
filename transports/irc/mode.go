package irc

import (
	"strings"
)

// modeChange is one +x or -x of a MODE line, with its parameter if any.
type modeChange struct {
	add   bool
	mode  byte
	param string
}

// parseModes splits a channel MODE's mode string and parameters, using the
// server's PREFIX and CHANMODES to know which modes take a parameter.
func (s *session) parseModes(modes string, params []string) []modeChange {
	var out []modeChange
	add := true
	for i := 0; i < len(modes); i++ {
		c := modes[i]
		switch c {
		case '+':
			add = true
			continue
		case '-':
			add = false
			continue
		}
		mc := modeChange{add: add, mode: c}
		if s.modeTakesParam(c, add) && len(params) > 0 {
			mc.param, params = params[0], params[1:]
		}
		out = append(out, mc)
	}
	return out
}

// modeTakesParam: prefix modes and CHANMODES types A and B always, type C
// when set, type D never.
func (s *session) modeTakesParam(c byte, add bool) bool {
	if strings.IndexByte(s.prefixes, c) >= 0 {
		return true
	}
	groups := strings.SplitN(s.chanmodes, ",", 4)
	for i, g := range groups {
		if strings.IndexByte(g, c) >= 0 {
			return i < 2 || i == 2 && add
		}
	}
	return false
}

// channelMode applies a MODE on a channel: prefix changes update the
// occupant and send its new presence (110 for our own) when its role or
// affiliation changed.
func (s *session) channelMode(channel string, modes string, params []string) {
	r := s.rooms[s.fold(channel)]
	if r == nil {
		return
	}
	for _, mc := range s.parseModes(modes, params) {
		i := strings.IndexByte(s.prefixes, mc.mode)
		if i < 0 || mc.param == "" {
			continue
		}
		sym := s.symbols[i]
		k := s.fold(mc.param)
		o, ok := r.occupants[k]
		if !ok {
			if !r.joined {
				continue
			}
			o = occupant{nick: mc.param}
		}
		before := o.prefix
		if mc.add {
			if strings.IndexByte(o.prefix, sym) < 0 {
				o.prefix = s.sortPrefix(o.prefix + string(sym))
			}
		} else {
			o.prefix = strings.ReplaceAll(o.prefix, string(sym), "")
		}
		r.occupants[k] = o
		if !r.joined || !ok {
			continue
		}
		oa, or := affiliationRole(before)
		na, nr := affiliationRole(o.prefix)
		if oa == na && or == nr {
			continue
		}
		if s.isMe(o.nick) {
			r.broadcast(s, func(to string) *el {
				return presenceEl(r.occupantJID(o.nick), to, "").add(
					mucItem{affiliation: na, role: nr, jid: to, codes: []int{110}}.el())
			})
			continue
		}
		r.broadcast(s, func(to string) *el { return r.presenceOf(o, to) })
	}
}

// sortPrefix orders prefix symbols by rank (PREFIX order).
func (s *session) sortPrefix(p string) string {
	var b strings.Builder
	for i := 0; i < len(s.symbols); i++ {
		if strings.IndexByte(p, s.symbols[i]) >= 0 {
			b.WriteByte(s.symbols[i])
		}
	}
	return b.String()
}

// hasMode reports whether the server has the prefix mode m.
func (s *session) hasMode(m byte) bool { return strings.IndexByte(s.prefixes, m) >= 0 }

// modeOf is the prefix mode of symbol sym, or 0.
func (s *session) modeOf(sym byte) byte {
	if i := strings.IndexByte(s.symbols, sym); i >= 0 {
		return s.prefixes[i]
	}
	return 0
}

// adminModes is the MODE change for a XEP-0045 affiliation or role change
// of an occupant with prefix (biboumi's mapping, the inverse of
// affiliationRole): owner +q (else +a, else +o), admin +o, member +v, none
// removes every prefix mode; role moderator +h (else +o), participant +v
// for a nick without any, visitor -v. It returns "" when nothing changes.
func (s *session) adminModes(prefix, affiliation, role string) (modes string, n int) {
	var plus, minus []byte
	holds := func(m byte) bool {
		for i := 0; i < len(prefix); i++ {
			if s.modeOf(prefix[i]) == m {
				return true
			}
		}
		return false
	}
	grant := func(ms ...byte) {
		for _, m := range ms {
			if s.hasMode(m) {
				if !holds(m) {
					plus = append(plus, m)
				}
				return
			}
		}
	}
	switch affiliation {
	case "owner":
		grant('q', 'a', 'o')
	case "admin":
		grant('o')
	case "member":
		grant('v')
	case "none":
		for i := 0; i < len(prefix); i++ {
			if m := s.modeOf(prefix[i]); m != 0 {
				minus = append(minus, m)
			}
		}
	}
	switch role {
	case "moderator":
		grant('h', 'o')
	case "participant":
		if prefix == "" {
			grant('v')
		}
	case "visitor":
		if holds('v') {
			minus = append(minus, 'v')
		}
	}
	if len(plus) > 0 {
		modes += "+" + string(plus)
	}
	if len(minus) > 0 {
		modes += "-" + string(minus)
	}
	return modes, len(plus) + len(minus)
}
