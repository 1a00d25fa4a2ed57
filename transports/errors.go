package transports

import (
	"errors"
	"fmt"
)

// ErrStreamDown is returned by Uplink.Send while the domain's stream is down.
var ErrStreamDown = errors.New("xmpp stream is down")

// Error is a classified delivery error: whether retrying can help, and what the
// sender is told if it cannot. Condition is an RFC 6120 stanza error condition
// ("item-not-found", "not-acceptable", "policy-violation", "remote-server-not-found",
// ...); Text is the human text for the <text/> element. Neither may contain secrets.
type Error struct {
	Temporary bool
	Condition string
	Text      string
	Err       error
}

func (e *Error) Error() string {
	switch {
	case e.Err != nil && e.Text != "":
		return e.Text + ": " + e.Err.Error()
	case e.Err != nil:
		return e.Err.Error()
	default:
		return e.Text
	}
}

func (e *Error) Unwrap() error { return e.Err }

// Temporary marks err as worth retrying (network down, HTTP 429/5xx, SMTP 4xx).
// If it is still failing at the give-up deadline, the sender is told with
// condition "remote-server-timeout" and text.
func Temporary(text string, err error) error {
	return &Error{Temporary: true, Condition: "remote-server-timeout", Text: text, Err: err}
}

// Permanent marks err as final: the message is dropped from the outbox and the
// sender gets a stanza error with condition and text.
func Permanent(condition, text string, err error) error {
	return &Error{Condition: condition, Text: text, Err: err}
}

// IsTemporary reports whether err should be retried. Unclassified errors are
// temporary: a transient fault must never lose a message.
func IsTemporary(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Temporary
	}
	return true
}

// ErrorOf returns the condition and text a sender is told for err.
// Unclassified errors become "undefined-condition" with a generic text (their
// message may hold details that are not for users).
func ErrorOf(err error) (condition, text string) {
	var e *Error
	if errors.As(err, &e) {
		c, t := e.Condition, e.Text
		if c == "" {
			c = "undefined-condition"
		}
		if t == "" && e.Err != nil {
			t = e.Err.Error()
		}
		return c, t
	}
	return "undefined-condition", "the message could not be delivered"
}

// FieldError is a registration or command form field that is missing or invalid;
// the component answers not-acceptable naming the field.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("field %q: %s", e.Field, e.Reason) }
