package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary YAML and one environment variable to Load: it must
// never panic, and must either succeed with a valid configuration or return a
// *ValidationError.
func FuzzLoad(f *testing.F) {
	example, err := os.ReadFile(examplePath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(example), "XGATE_LOG__LEVEL=debug")
	f.Add(baseYAML, "XGATE_TRANSPORTS__SMS__TWILIO__AUTH_TOKEN=x")
	f.Add(baseYAML+"  irc: [1, 2]\n", "XGATE_TRANSPORTS__IRC__ALLOW=a,b,,c")
	f.Add("xmpp: {keepalive: 1e400, max_stanza_size: -1}\n", "XGATE_DELIVERY__WORKERS=99999999999999999999")
	f.Add("transports: {webhook: null, irc: {}}\n", "XGATE_TRANSPORTS__WEBHOOK=x")
	f.Add("? [a]\n: b\n", "XGATE_XMPP=x")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, yaml, env string) {
		path := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(env, EnvPrefix) {
			env = EnvPrefix + env
		}
		c, err := Load([]string{"-c", path}, []string{env})
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("error %v (%T) is not a *ValidationError with problems", err, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load returned a config that does not validate: %v", err)
		}
		_ = c.Redacted()
	})
}
