package harness

import "strings"

// Match selects received stanzas (see Client.Expect).
type Match func(*Element) bool

// All matches when every m matches.
func All(ms ...Match) Match {
	return func(e *Element) bool {
		for _, m := range ms {
			if !m(e) {
				return false
			}
		}
		return true
	}
}

// Any matches stanzas.
func Any() Match { return func(*Element) bool { return true } }

// Name matches the element's local name: "message", "presence", "iq".
func Name(local string) Match { return func(e *Element) bool { return e.Name.Local == local } }

// Type matches the type attribute ("" matches an absent one).
func Type(typ string) Match { return func(e *Element) bool { return e.Type() == typ } }

// ID matches the id attribute.
func ID(id string) Match { return func(e *Element) bool { return e.ID() == id } }

// From matches the from attribute: exactly when jid has a resource, on the
// bare JID otherwise.
func From(jid string) Match {
	return func(e *Element) bool {
		f := e.From()
		if strings.Contains(jid, "/") {
			return f == jid
		}
		return bareOf(f) == jid
	}
}

// HasChild matches stanzas with a direct child of that local name.
func HasChild(local string) Match { return func(e *Element) bool { return e.Child(local) != nil } }

// Body matches messages whose <body/> is exactly body.
func Body(body string) Match {
	return func(e *Element) bool { return e.Child("body") != nil && e.ChildText("body") == body }
}

// Message matches message stanzas from jid (bare or full, see From) that carry
// a body.
func Message(from string) Match { return All(Name("message"), From(from), HasChild("body")) }

// Presence matches presence stanzas of type typ ("" for available) from jid.
func Presence(from, typ string) Match { return All(Name("presence"), From(from), Type(typ)) }

func bareOf(j string) string {
	if i := strings.IndexByte(j, '/'); i >= 0 {
		return j[:i]
	}
	return j
}
