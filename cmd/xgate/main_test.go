package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xgate/config"
	"xgate/store"
)

func TestRealMain(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	write(t, good, `xmpp: {server: "127.0.0.1:5347", domain: example.org}
store: {dsn: "`+filepath.Join(dir, "x.db")+`"}
transports:
  webhook: {domain: hook.example.org, secret: "s3cret-value", url: "http://127.0.0.1:9/hook"}
`)
	bad := filepath.Join(dir, "bad.yaml")
	write(t, bad, "xmpp: {server: nowhere, domain: example.org, colour: blue}\n")

	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderr   string
		noSecret bool
	}{
		{"version", []string{"version"}, exitOK, "xgate " + version, "", false},
		{"help", []string{"help"}, exitOK, "usage: xgate", "", false},
		{"unknown subcommand", []string{"frobnicate"}, exitConfig, "", `unknown subcommand "frobnicate"`, false},
		{"check-config ok", []string{"check-config", "-c", good}, exitOK, "configuration is valid; transports: webhook", "", true},
		{"check-config bad", []string{"check-config", "-c", bad}, exitConfig, "", "xmpp.colour", true},
		{"bad server named", []string{"check-config", "-c", bad}, exitConfig, "", "xmpp.server", true},
		{"migrate", []string{"migrate", "-c", good}, exitOK, "database schema", "", true},
		{"migrate again", []string{"migrate", "-c", good}, exitOK, "up to date", "", true},
		{"flag -h", []string{"run", "-h"}, exitOK, "usage: xgate", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := realMain(tc.args, nil, &out, &errb)
			if code != tc.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tc.stdout) {
				t.Errorf("stdout %q does not contain %q", out.String(), tc.stdout)
			}
			if !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("stderr %q does not contain %q", errb.String(), tc.stderr)
			}
			if tc.noSecret && strings.Contains(out.String()+errb.String(), "s3cret-value") {
				t.Errorf("the secret was printed:\n%s%s", out.String(), errb.String())
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	st, err := store.Open(context.Background(), store.DriverSQLite, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// No gateway: healthy when the store answers.
	rec := httptest.NewRecorder()
	healthz(st, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("healthz with a working store: %d %s", rec.Code, rec.Body)
	}
	st.Close()
	rec = httptest.NewRecorder()
	healthz(st, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "store") {
		t.Errorf("healthz with a closed store: %d %s", rec.Code, rec.Body)
	}
}

func TestAllowList(t *testing.T) {
	if got := allowList(nil, "example.org"); len(got) != 1 || got[0] != "example.org" {
		t.Errorf("default allow list %v", got)
	}
	if got := allowList([]string{"a@b.org"}, "example.org"); len(got) != 1 || got[0] != "a@b.org" {
		t.Errorf("explicit allow list %v", got)
	}
}

func TestEnabledTransports(t *testing.T) {
	cfg := config.Defaults()
	cfg.Transports.Webhook = &config.Webhook{}
	cfg.Transports.IRC = &config.IRC{}
	if got := enabledTransports(&cfg); got != "irc,webhook" {
		t.Errorf("enabledTransports = %q", got)
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
