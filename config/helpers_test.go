package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// baseYAML is a minimal valid configuration: one transport.
const baseYAML = `
xmpp:
  domain: example.org
transports:
  webhook:
    domain: hook.example.org
    secret: s3cret-webhook-value
    url: https://hooks.example.org/in
`

// writeFile writes content to a file in a fresh temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadYAML loads yaml (if not empty) as the config file, with env and extra
// arguments.
func loadYAML(t *testing.T, yaml string, env []string, args ...string) (*Config, error) {
	t.Helper()
	if yaml != "" {
		args = append([]string{"-c", writeFile(t, "xgate.yaml", yaml)}, args...)
	}
	return Load(args, env)
}

// problemsOf returns the problem lines of err, failing if err is not a
// *ValidationError.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	lines := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		lines[i] = p.String()
	}
	return lines
}

// wantProblem fails unless one problem line starts with key+": " and contains
// every part.
func wantProblem(t *testing.T, lines []string, key string, parts ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.HasPrefix(l, key+": ") {
			continue
		}
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return
		}
	}
	t.Errorf("no problem for %s containing %q in:\n%s", key, parts, strings.Join(lines, "\n"))
}

// validConfig is a valid Config built in Go, for validation tests.
func validConfig() Config {
	c := Defaults()
	c.XMPP.Domain = "example.org"
	w := &Webhook{}
	w.setDefaults()
	w.Domain = "hook.example.org"
	w.Secret = "s3cret-webhook-value"
	w.URL = "https://hooks.example.org/in"
	c.Transports.Webhook = w
	return c
}

// schemaKeys lists every leaf key of t (optional sections included).
func schemaKeys(t reflect.Type, prefix string) []string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == durationType {
		return []string{prefix}
	}
	var out []string
	for _, f := range fieldsOf(t) {
		out = append(out, schemaKeys(t.FieldByIndex(f.index).Type, joinKey(prefix, f.key))...)
	}
	return out
}
