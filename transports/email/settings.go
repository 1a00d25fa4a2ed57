package email

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"xgate/store"
	"xgate/transports"
)

// Settings are a user's digest and policy settings: the operator's defaults,
// overridden by the user's registration.
type Settings struct {
	Name        string        // display name in From; default the JID's localpart
	Quiet       time.Duration // 0: each message at once
	MaxAge      time.Duration
	MaxMessages int
	// Senders is "contacts" (only addresses the user wrote to) or "anyone".
	Senders string
	// quietSet tells a configured 0 from an unset Quiet.
	quietSet bool
}

// Policies for unknown senders.
const (
	SendersContacts = "contacts"
	SendersAnyone   = "anyone"
)

func builtinDefaults() Settings {
	return Settings{Quiet: 5 * time.Minute, MaxAge: time.Hour, MaxMessages: 50, Senders: SendersContacts, quietSet: true}
}

// WithQuiet returns s with the quiet period set (0 means immediate).
func (s Settings) WithQuiet(d time.Duration) Settings {
	s.Quiet, s.quietSet = d, true
	return s
}

// withDefaults fills what s leaves unset from d.
func (s Settings) withDefaults(d Settings) Settings {
	if !s.quietSet && s.Quiet == 0 {
		s.Quiet, s.quietSet = d.Quiet, true
	}
	if s.MaxAge <= 0 {
		s.MaxAge = d.MaxAge
	}
	if s.MaxMessages <= 0 {
		s.MaxMessages = d.MaxMessages
	}
	if s.Senders == "" {
		s.Senders = d.Senders
	}
	if s.Name == "" {
		s.Name = d.Name
	}
	return s
}

// Registration form fields (settings keys).
const (
	fieldName        = "name"
	fieldQuiet       = "quiet"
	fieldMaxAge      = "max_age"
	fieldMaxMessages = "max_messages"
	fieldSenders     = "senders"
)

// RegistrationFields is the XEP-0077 form.
func (t *Transport) RegistrationFields() []transports.Field {
	d := t.cfg.Defaults
	return []transports.Field{
		{Var: fieldName, Label: "Display name in your emails", Legacy: "nick",
			Desc: "Shown as \"Name (XMPP)\" in the From of your emails; empty: your user name."},
		{Var: fieldQuiet, Label: "Send a digest after this much quiet",
			Desc: "A duration like 5m or 30s; 0 sends every message as its own email. Default " + fmtDuration(d.Quiet) + "."},
		{Var: fieldMaxAge, Label: "Send at the latest when the oldest message is this old",
			Desc: "A duration like 1h. Default " + fmtDuration(d.MaxAge) + "."},
		{Var: fieldMaxMessages, Label: "Send at the latest when this many messages wait",
			Desc: "A number. Default " + strconv.Itoa(d.MaxMessages) + "."},
		{Var: fieldSenders, Label: "Who may write to me", Type: "list-single",
			Options: []string{SendersContacts, SendersAnyone},
			Desc:    "contacts: only addresses you wrote to (you are told once about others); anyone: every sender."},
	}
}

// Register validates the form. Empty fields keep the defaults.
func (t *Transport) Register(ctx context.Context, user string, values map[string]string, prev *transports.Registration) (transports.Registration, error) {
	if user == "" {
		return transports.Registration{}, errors.New("email: register: no user")
	}
	out := map[string]string{}
	if v := strings.TrimSpace(values[fieldName]); v != "" {
		if len(v) > 64 || strings.ContainsAny(v, "\r\n\"<>") {
			return transports.Registration{}, &transports.FieldError{Field: fieldName, Reason: "at most 64 characters, without quotes, angle brackets or line breaks"}
		}
		out[fieldName] = v
	}
	for _, f := range []string{fieldQuiet, fieldMaxAge} {
		v := strings.TrimSpace(values[f])
		if v == "" {
			continue
		}
		d, err := parseDuration(v)
		if err != nil || d < 0 || (f == fieldMaxAge && d == 0) || d > 7*24*time.Hour {
			return transports.Registration{}, &transports.FieldError{Field: f, Reason: "expected a duration like 30s, 5m or 1h (at most a week)"}
		}
		out[f] = fmtDuration(d)
	}
	if v := strings.TrimSpace(values[fieldMaxMessages]); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return transports.Registration{}, &transports.FieldError{Field: fieldMaxMessages, Reason: "expected a number from 1 to 1000"}
		}
		out[fieldMaxMessages] = strconv.Itoa(n)
	}
	if v := strings.TrimSpace(values[fieldSenders]); v != "" {
		if v != SendersContacts && v != SendersAnyone {
			return transports.Registration{}, &transports.FieldError{Field: fieldSenders, Reason: "expected contacts or anyone"}
		}
		out[fieldSenders] = v
	}
	// The routing address exists from the first registration on, so that
	// the user can hand it out before writing.
	if _, err := t.routeAddress(ctx, user); err != nil {
		return transports.Registration{}, transports.Temporary("the gateway could not store your registration", err)
	}
	return transports.Registration{User: user, Settings: out}, nil
}

// Unregister keeps nothing: buffered digests still go out.
func (t *Transport) Unregister(ctx context.Context, r transports.Registration) error { return nil }

// settingsFor returns user's settings: the registration over the defaults.
func (t *Transport) settingsFor(ctx context.Context, user string) (Settings, error) {
	s := t.cfg.Defaults
	r, err := t.st.GetRegistration(ctx, Name, user)
	if errors.Is(err, store.ErrNotFound) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	return applySettings(s, r.Settings), nil
}

// applySettings overrides s with stored registration values (validated by
// Register; anything unparsable is ignored).
func applySettings(s Settings, m map[string]string) Settings {
	if v := m[fieldName]; v != "" {
		s.Name = v
	}
	if d, err := parseDuration(m[fieldQuiet]); err == nil && m[fieldQuiet] != "" && d >= 0 {
		s.Quiet = d
	}
	if d, err := parseDuration(m[fieldMaxAge]); err == nil && d > 0 {
		s.MaxAge = d
	}
	if n, err := strconv.Atoi(m[fieldMaxMessages]); err == nil && n > 0 {
		s.MaxMessages = n
	}
	if v := m[fieldSenders]; v == SendersContacts || v == SendersAnyone {
		s.Senders = v
	}
	return s
}

// parseDuration accepts Go durations and a bare 0.
func parseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	return time.ParseDuration(s)
}

func fmtDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
