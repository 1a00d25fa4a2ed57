package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with the configuration.
type Problem struct {
	// Key is the full dotted key ("transports.sms.domain"); empty for problems
	// that belong to no key (an unreadable config file, a bad flag).
	Key string
	// Msg says what is wrong, showing the offending value (secrets as
	// "<hidden>") and what was expected.
	Msg string
	// Source says where the key's value came from when that was not the
	// defaults: "file xgate.yaml", "env XGATE_XMPP__SERVER", "flag --xmpp.server".
	Source string
}

// String renders the problem as one line: "key: msg (from source)".
func (p Problem) String() string {
	var b strings.Builder
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	if p.Source != "" {
		fmt.Fprintf(&b, " (from %s)", p.Source)
	}
	return b.String()
}

// ValidationError lists every problem found while loading or validating a
// configuration. cmd/xgate prints Error() and exits with status 2.
type ValidationError struct {
	Problems []Problem
}

// Error returns the problems one per line, in the order they were found.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problems accumulates Problems; the zero value is ready to use.
type problems struct {
	list []Problem
}

func (ps *problems) add(key, format string, args ...any) {
	ps.list = append(ps.list, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps.list}
}
