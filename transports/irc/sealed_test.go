package irc

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func sealedTransport(t *testing.T, key []byte) *Transport {
	t.Helper()
	tr, err := New(Config{Domain: fakeDomain, Networks: []Network{{Host: fakeHost, Plaintext: true}}, SecretsKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.stop)
	return tr
}

func storedPassword(tr *Transport, user string) string {
	return tr.netSettingsFor(user, fakeHost).saslPassword
}

func TestSealedSASLPassword(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	const user = "alice@example.org"
	reg, err := sealedTransport(t, key).Register(context.Background(), "Alice@example.org",
		map[string]string{"network": fakeHost, "sasl_account": "acct", "sasl_password": "hunter2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range reg.Settings {
		if strings.Contains(v, "hunter2") || k == saslPasswordKey(fakeHost) {
			t.Fatalf("the password is stored in clear: %s=%s", k, v)
		}
	}
	if !strings.HasPrefix(reg.Settings[saslSealedKey(fakeHost)], sealedPrefix) {
		t.Fatalf("no sealed password: %v", reg.Settings)
	}
	moved := map[string]string{saslSealedKey("other.net"): reg.Settings[saslSealedKey(fakeHost)]}
	legacy := map[string]string{saslPasswordKey(fakeHost): "plain-pw"}
	tests := []struct {
		name     string
		key      []byte
		user     string
		settings map[string]string
		want     string
	}{
		{"restored with the same key", key, user, reg.Settings, "hunter2"},
		{"another key", bytes.Repeat([]byte{8}, 32), user, reg.Settings, ""},
		{"no key", nil, user, reg.Settings, ""},
		{"copied to another user", key, "mallory@example.org", reg.Settings, ""},
		{"legacy clear password", key, user, legacy, "plain-pw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := sealedTransport(t, tt.key)
			tr.loadSettings(tt.user, tt.settings)
			if got := storedPassword(tr, tt.user); got != tt.want {
				t.Fatalf("password %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("copied to another network", func(t *testing.T) {
		tr := sealedTransport(t, key)
		tr.loadSettings(user, moved)
		if p := tr.netSettingsFor(user, "other.net").saslPassword; p != "" {
			t.Fatalf("a value sealed for %s opened for other.net: %q", fakeHost, p)
		}
	})
	if _, err := New(Config{Domain: fakeDomain, AnyNetwork: true, SecretsKey: []byte("short")}); err == nil {
		t.Fatal("a 5-byte secrets key was accepted")
	}
}

func FuzzSealedOpen(f *testing.F) {
	s, err := newSealer(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		f.Fatal(err)
	}
	good, _ := s.seal("u", "k", "pw")
	f.Add(good)
	f.Add("v1:")
	f.Add("v1:AAAA")
	f.Fuzz(func(t *testing.T, v string) {
		if plain, err := s.open("u", "k", v); err == nil && v != good && plain == "pw" && !strings.HasPrefix(v, sealedPrefix) {
			t.Fatalf("opened %q", v)
		}
	})
}
