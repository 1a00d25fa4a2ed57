package email

import (
	"context"
	"errors"
	"testing"
	"time"

	"xgate/transports"
)

func TestRegister(t *testing.T) {
	st := openStore(t)
	tr := newTransport(t, st, Config{Relay: "127.0.0.1:1"})
	ctx := context.Background()
	tests := []struct {
		name     string
		values   map[string]string
		badField string
		want     map[string]string
	}{
		{"defaults", map[string]string{}, "", map[string]string{}},
		{"all", map[string]string{"name": "Alice", "quiet": "0", "max_age": "2h", "max_messages": "10", "senders": "anyone"}, "",
			map[string]string{"name": "Alice", "quiet": "0", "max_age": "2h", "max_messages": "10", "senders": "anyone"}},
		{"bad quiet", map[string]string{"quiet": "soon"}, "quiet", nil},
		{"bad count", map[string]string{"max_messages": "0"}, "max_messages", nil},
		{"bad policy", map[string]string{"senders": "everyone"}, "senders", nil},
		{"bad name", map[string]string{"name": "A <b>"}, "name", nil},
	}
	for _, tt := range tests {
		r, err := tr.Register(ctx, "alice@example.org", tt.values, nil)
		var fe *transports.FieldError
		if tt.badField != "" {
			if !errors.As(err, &fe) || fe.Field != tt.badField {
				t.Errorf("%s: err = %v; want a FieldError on %s", tt.name, err, tt.badField)
			}
			continue
		}
		if err != nil || len(r.Settings) != len(tt.want) {
			t.Errorf("%s: %+v, %v; want %v", tt.name, r, err, tt.want)
			continue
		}
		for k, v := range tt.want {
			if r.Settings[k] != v {
				t.Errorf("%s: %s = %q, want %q", tt.name, k, r.Settings[k], v)
			}
		}
	}
	s := applySettings(builtinDefaults(), map[string]string{"quiet": "0", "max_messages": "7", "senders": "anyone"})
	if s.Quiet != 0 || s.MaxMessages != 7 || s.Senders != SendersAnyone || s.MaxAge != time.Hour {
		t.Errorf("applySettings = %+v", s)
	}
	if _, err := st.RouteUser(ctx, Name, "nope"); err == nil {
		t.Error("unknown token found")
	}
}

func TestCheckAddress(t *testing.T) {
	tr := newTransport(t, openStore(t), Config{Relay: "127.0.0.1:1"})
	if err := tr.CheckAddress(`bob\40example.org`); err != nil {
		t.Errorf("valid address: %v", err)
	}
	for _, bad := range []string{"bob", `bob\40`, `\40example.org`} {
		if err := tr.CheckAddress(bad); err == nil {
			t.Errorf("CheckAddress(%q) = nil; want an error", bad)
		}
	}
	if l, err := tr.Translate(" Bob@Example.ORG "); err != nil || l != `Bob\40example.org` {
		t.Errorf("Translate = %q, %v", l, err)
	}
}
