package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xgate/integration/harness"
)

// TestCLI runs the real binary's one-shot subcommands: version, check-config
// on a valid and on an invalid file (exit 2, the key named on stderr, never a
// secret), and migrate on a fresh SQLite file.
func TestCLI(t *testing.T) {
	dir := t.TempDir()
	valid := harness.XgateConfig{
		Server:     "127.0.0.1:5347",
		HTTPListen: "127.0.0.1:8480",
		Webhook: &harness.WebhookSection{
			Domain: "hook.localhost", Secret: "cli-component-secret",
			URL: "http://127.0.0.1:9/hook", InboundSecret: "cli-inbound-secret",
		},
	}.YAML()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", valid)
	typo := write("typo.yaml", strings.Replace(valid, "  keepalive:", "  keepalieve:", 1))

	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		want     string // in stdout (code 0) or stderr
	}{
		{"version", []string{"version"}, 0, "xgate"},
		{"valid config", []string{"check-config", "-c", good}, 0, "webhook"},
		{"unknown key", []string{"check-config", "-c", typo}, 2, "xmpp.keepalieve"},
		{"missing file", []string{"check-config", "-c", filepath.Join(dir, "absent.yaml")}, 2, "absent.yaml"},
		{"migrate", []string{"migrate", "-c", good}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := harness.RunXgate(t, dir, tc.args...)
			out := stdout
			if tc.wantCode != 0 {
				out = stderr
			}
			if code != tc.wantCode || !strings.Contains(out, tc.want) {
				t.Errorf("xgate %s: exit %d, want %d with %q in the output\nstdout: %s\nstderr: %s",
					strings.Join(tc.args, " "), code, tc.wantCode, tc.want, stdout, stderr)
			}
			for _, secret := range []string{"cli-component-secret", "cli-inbound-secret"} {
				if strings.Contains(stdout+stderr, secret) {
					t.Errorf("xgate %s printed a secret", strings.Join(tc.args, " "))
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "xgate.db")); err != nil {
		t.Errorf("migrate did not create the SQLite database: %v", err)
	}
}
