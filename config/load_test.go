package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestDefaults(t *testing.T) {
	d := Defaults()
	checks := []struct {
		name      string
		got, want any
	}{
		{"xmpp.server", d.XMPP.Server, "127.0.0.1:5347"},
		{"xmpp.keepalive", d.XMPP.Keepalive, 15 * time.Second},
		{"xmpp.keepalive_timeout", d.XMPP.KeepaliveTimeout, 10 * time.Second},
		{"xmpp.reconnect_max", d.XMPP.ReconnectMax, 30 * time.Second},
		{"xmpp.max_stanza_size", d.XMPP.MaxStanzaSize, 256 * 1024},
		{"store.driver", d.Store.Driver, "sqlite"},
		{"store.dsn", d.Store.DSN, "xgate.db"},
		{"http.listen", d.HTTP.Listen, "127.0.0.1:8480"},
		{"log.level", d.Log.Level, "info"},
		{"log.format", d.Log.Format, "text"},
		{"delivery.give_up_after", d.Delivery.GiveUpAfter, 24 * time.Hour},
		{"delivery.retry_min", d.Delivery.RetryMin, time.Second},
		{"delivery.retry_max", d.Delivery.RetryMax, 10 * time.Minute},
		{"delivery.workers", d.Delivery.Workers, 8},
		{"delivery.lease", d.Delivery.Lease, 30 * time.Second},
		{"delivery.handle_timeout", d.Delivery.HandleTimeout, 2 * time.Minute},
		{"transports enabled", len(d.Transports.Enabled()), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	var w Webhook
	w.setDefaults()
	if w.Timeout != 10*time.Second {
		t.Errorf("webhook timeout default = %v, want 10s", w.Timeout)
	}
}

func TestPrecedence(t *testing.T) {
	const (
		def  = "127.0.0.1:5347"
		file = "10.0.0.1:5347"
		env  = "10.0.0.2:5347"
		flag = "10.0.0.3:5347"
	)
	tests := []struct {
		name                string
		inFile, inEnv, flag bool
		want, wantSource    string
	}{
		{"defaults only", false, false, false, def, ""},
		{"file over defaults", true, false, false, file, "file"},
		{"env over file", true, true, false, env, "env XGATE_XMPP__SERVER"},
		{"flag over env and file", true, true, true, flag, "flag --xmpp.server"},
		{"flag over file", true, false, true, flag, "flag --xmpp.server"},
		{"flag over env", false, true, true, flag, "flag --xmpp.server"},
		{"env alone", false, true, false, env, "env XGATE_XMPP__SERVER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := baseYAML
			if tt.inFile {
				yaml = strings.Replace(yaml, "xmpp:\n", "xmpp:\n  server: "+file+"\n", 1)
			}
			var environ []string
			if tt.inEnv {
				environ = append(environ, "XGATE_XMPP__SERVER="+env)
			}
			var args []string
			if tt.flag {
				args = append(args, "--xmpp.server", flag)
			}
			c, err := loadYAML(t, yaml, environ, args...)
			if err != nil {
				t.Fatal(err)
			}
			if c.XMPP.Server != tt.want {
				t.Errorf("xmpp.server = %q, want %q", c.XMPP.Server, tt.want)
			}
			// The same layering, seen through an invalid value: the problem
			// names the source that won.
			bad := func(s string) string { return strings.Replace(s, ":5347", "", 1) }
			yaml = strings.Replace(yaml, file, bad(file), 1)
			for i := range environ {
				environ[i] = bad(environ[i])
			}
			for i := range args {
				args[i] = bad(args[i])
			}
			if tt.want == def {
				return
			}
			_, err = loadYAML(t, yaml, environ, args...)
			wantProblem(t, problemsOf(t, err), "xmpp.server", `is not host:port`, "(from "+tt.wantSource)
		})
	}
}

func TestFlagsOverrideEveryCommonKey(t *testing.T) {
	c, err := loadYAML(t, baseYAML, nil,
		"--xmpp.server=xmpp.internal:5348", "--xmpp.domain=other.example",
		"--store.driver=postgres", "--store.dsn=postgres://xgate@db/xgate",
		"--http.listen=:9000", "--log.level=debug", "--log.format=json")
	if err != nil {
		t.Fatal(err)
	}
	got := []string{c.XMPP.Server, c.XMPP.Domain, c.Store.Driver, c.Store.DSN, c.HTTP.Listen, c.Log.Level, c.Log.Format}
	want := []string{"xmpp.internal:5348", "other.example", "postgres", "postgres://xgate@db/xgate", ":9000", "debug", "json"}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("flag %d: got %q, want %q", i, got[i], want[i])
		}
	}
}

func TestEnvKey(t *testing.T) {
	tests := []struct {
		name, key string
		ok        bool
	}{
		{"XGATE_XMPP__SERVER", "xmpp.server", true},
		{"XGATE_XMPP__KEEPALIVE_TIMEOUT", "xmpp.keepalive_timeout", true},
		{"XGATE_TRANSPORTS__SMS__DOMAIN", "transports.sms.domain", true},
		{"XGATE_TRANSPORTS__SMS__TWILIO__AUTH_TOKEN", "transports.sms.twilio.auth_token", true},
		{"XGATE_TRANSPORTS__WEBHOOK__INBOUND_SECRET_FILE", "transports.webhook.inbound_secret_file", true},
		{"XGATE_Log__Level", "log.level", true},
		{"XGATE_", "", false},
		{"XGATE_XMPP____SERVER", "", false},
		{"XGATE_XMPP___SERVER", "", false},
		{"XGATE__XMPP", "", false},
		{"XGATE_XMPP__", "", false},
		{"xgate_xmpp__server", "", false},
		{"HOME", "", false},
	}
	for _, tt := range tests {
		key, ok := EnvKey(tt.name)
		if key != tt.key || ok != tt.ok {
			t.Errorf("EnvKey(%q) = %q, %v; want %q, %v", tt.name, key, ok, tt.key, tt.ok)
		}
		if ok && !strings.EqualFold(EnvName(key), tt.name) {
			t.Errorf("EnvName(%q) = %q, want %q", key, EnvName(key), tt.name)
		}
	}
}

func TestEnvSetsNestedKeys(t *testing.T) {
	c, err := loadYAML(t, baseYAML, []string{
		"PATH=/usr/bin", // not ours: ignored
		"XGATE_TRANSPORTS__WEBHOOK__URL=https://elsewhere.example.org/hook",
		"XGATE_TRANSPORTS__WEBHOOK__TIMEOUT=30s",
		"XGATE_TRANSPORTS__WEBHOOK__ALLOW=friends.example.org, bob@example.net",
		"XGATE_TRANSPORTS__WEBHOOK__INBOUND_SECRET=in-secret",
		"XGATE_DELIVERY__WORKERS=3",
		"XGATE_DELIVERY__GIVE_UP_AFTER=1h30m",
		"XGATE_XMPP__MAX_STANZA_SIZE=65536",
	})
	if err != nil {
		t.Fatal(err)
	}
	w := c.Transports.Webhook
	if w.URL != "https://elsewhere.example.org/hook" || w.Timeout != 30*time.Second || w.InboundSecret != "in-secret" {
		t.Errorf("webhook = url %q timeout %v inbound %q", w.URL, w.Timeout, w.InboundSecret)
	}
	if w.Secret != "s3cret-webhook-value" || w.Domain != "hook.example.org" {
		t.Errorf("file keys of the section lost: domain %q", w.Domain)
	}
	if got := strings.Join(w.Allow, "|"); got != "friends.example.org|bob@example.net" {
		t.Errorf("allow = %q", got)
	}
	if c.Delivery.Workers != 3 || c.Delivery.GiveUpAfter != 90*time.Minute || c.XMPP.MaxStanzaSize != 65536 {
		t.Errorf("delivery = %+v, max_stanza_size = %d", c.Delivery, c.XMPP.MaxStanzaSize)
	}
}

func TestSectionPresence(t *testing.T) {
	smsEnv := append([]string{"XGATE_TRANSPORTS__SMS__DOMAIN=sms.example.org", "XGATE_TRANSPORTS__SMS__SECRET=sms-secret"}, smsRequiredEnv...)
	tests := []struct {
		name                     string
		yaml                     string
		env                      []string
		irc, sms, email, webhook bool
	}{
		{"file section", baseYAML, nil, false, false, false, true},
		{"env alone enables a section", baseYAML, smsEnv, false, true, false, true},
		{"env alone, no file at all", "", append([]string{
			"XGATE_XMPP__DOMAIN=example.org"}, smsEnv...), false, true, false, false},
		{"empty section in file, keys from env", baseYAML + "  sms:\n", smsEnv, false, true, false, true},
		{"empty map section", baseYAML + "  irc: {domain: irc.example.org, secret: x}\n  email: {}\n", append([]string{
			"XGATE_TRANSPORTS__EMAIL__DOMAIN=mail.example.org", "XGATE_TRANSPORTS__EMAIL__SECRET=y"}, emailRequiredEnv...), true, false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadYAML(t, tt.yaml, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			tr := c.Transports
			got := [4]bool{tr.IRC != nil, tr.SMS != nil, tr.Email != nil, tr.Webhook != nil}
			if want := [4]bool{tt.irc, tt.sms, tt.email, tt.webhook}; got != want {
				t.Errorf("enabled irc/sms/email/webhook = %v, want %v", got, want)
			}
			if tt.sms && (tr.SMS.Domain != "sms.example.org" || tr.SMS.Secret != "sms-secret") {
				t.Errorf("sms section = %+v", tr.SMS.Component)
			}
		})
	}

	// An empty section is present, so it is validated: its missing keys are named.
	_, err := loadYAML(t, baseYAML+"  irc:\n", nil)
	lines := problemsOf(t, err)
	wantProblem(t, lines, "transports.irc.domain", "missing")
	wantProblem(t, lines, "transports.irc.secret", "missing")

	// A section created by the environment gets the section's defaults.
	c, err := loadYAML(t, "xmpp: {domain: example.org}\n", []string{
		"XGATE_TRANSPORTS__WEBHOOK__DOMAIN=hook.example.org",
		"XGATE_TRANSPORTS__WEBHOOK__SECRET=x",
		"XGATE_TRANSPORTS__WEBHOOK__URL=https://h.example.org/",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Transports.Webhook.Timeout != 10*time.Second {
		t.Errorf("webhook timeout = %v, want the section default 10s", c.Transports.Webhook.Timeout)
	}
}

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name, yaml string
		env        []string
		key        string
		parts      []string
	}{
		{"top level in file", baseYAML + "bogus: 1\n", nil, "bogus",
			[]string{"unknown key", "known keys at the top level: xmpp, store, http, log, delivery, transports", "(from file "}},
		{"in a section in file", baseYAML + "log:\n  colour: true\n", nil, "log.colour",
			[]string{"unknown key", "known keys in log: level, format"}},
		{"in a transport section in file", baseYAML + "    bogus: 1\n", nil, "transports.webhook.bogus",
			[]string{"unknown key", "known keys in transports.webhook: domain, secret, secret_file, allow, admins, url, timeout"}},
		{"nested below a transport in file", baseYAML + "  sms:\n    twilio:\n      auth_token: abc\n", nil,
			"transports.sms.twilio.auth_token", []string{`there is no "twilio" in transports.sms`}},
		{"unknown transport", baseYAML + "  matrix: {domain: m.example.org}\n", nil,
			"transports.matrix.domain", []string{`there is no "matrix" in transports`}},
		{"wrong case", baseYAML + "LOG: {level: info}\n", nil, "LOG.level", []string{"unknown key"}},
		{"top level in env", baseYAML, []string{"XGATE_BOGUS=1"}, "bogus",
			[]string{"unknown key", "(from env XGATE_BOGUS)"}},
		{"in a transport in env", baseYAML, []string{"XGATE_TRANSPORTS__WEBHOOK__HEADERS=x"},
			"transports.webhook.headers", []string{"unknown key", "(from env XGATE_TRANSPORTS__WEBHOOK__HEADERS)"}},
		{"nested in env", baseYAML, []string{"XGATE_TRANSPORTS__SMS__TWILIO__AUTH_TOKEN=abc"},
			"transports.sms.twilio.auth_token", []string{"unknown key", "(from env XGATE_TRANSPORTS__SMS__TWILIO__AUTH_TOKEN)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadYAML(t, tt.yaml, tt.env)
			wantProblem(t, problemsOf(t, err), tt.key, tt.parts...)
		})
	}

	t.Run("malformed env name", func(t *testing.T) {
		_, err := loadYAML(t, baseYAML, []string{"XGATE_XMPP___SERVER=x"})
		lines := problemsOf(t, err)
		if len(lines) != 1 || !strings.Contains(lines[0], "environment variable XGATE_XMPP___SERVER is not a configuration key") {
			t.Errorf("problems = %q", lines)
		}
	})
	t.Run("dotted key in the file is the nested key", func(t *testing.T) {
		c, err := loadYAML(t, baseYAML+"xmpp.server: 10.9.9.9:5347\n", nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.XMPP.Server != "10.9.9.9:5347" || c.XMPP.Domain != "example.org" {
			t.Errorf("xmpp = %+v", c.XMPP)
		}
	})
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		key        string
		parts      []string
	}{
		{"duration without unit", "xmpp: {keepalive: 15}", "xmpp.keepalive", []string{"15 is not a duration", "e.g. 15s"}},
		{"duration garbage", "xmpp: {keepalive: soon}", "xmpp.keepalive", []string{`"soon" is not a duration`}},
		{"int garbage", "delivery: {workers: many}", "delivery.workers", []string{`"many" is not a whole number`}},
		{"int fraction", "delivery: {workers: 1.5}", "delivery.workers", []string{"1.5 is not a whole number"}},
		{"int too big", "delivery: {workers: 100000000000000000000}", "delivery.workers", []string{"out of range"}},
		{"scalar for a section", "xmpp: localhost", "xmpp", []string{`"localhost" is not a section`}},
		{"scalar for a transport", "transports: {irc: true}", "transports.irc", []string{"true is not a section"}},
		{"map for a list", "transports: {irc: {allow: {a: b}}}", "transports.irc.allow", []string{"a section is not a list"}},
		{"list in a list", "transports: {irc: {allow: [[a]]}}", "transports.irc.allow[0]", []string{"a list is not a string"}},
		{"list for a string", "log: {level: [debug]}", "log.level", []string{"a list is not a string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// No base config: the other problems (xmpp.domain missing...) do
			// not hide this one.
			_, err := loadYAML(t, tt.yaml+"\n", nil)
			wantProblem(t, problemsOf(t, err), tt.key, tt.parts...)
		})
	}

	t.Run("env strings are converted", func(t *testing.T) {
		_, err := loadYAML(t, baseYAML, []string{
			"XGATE_XMPP__KEEPALIVE=15", "XGATE_DELIVERY__WORKERS=eight", "XGATE_LOG__LEVEL=debug",
		})
		lines := problemsOf(t, err)
		wantProblem(t, lines, "xmpp.keepalive", `"15" is not a duration`, "(from env XGATE_XMPP__KEEPALIVE)")
		wantProblem(t, lines, "delivery.workers", `"eight" is not a whole number`)
		if len(lines) != 2 {
			t.Errorf("want exactly 2 problems, got %q", lines)
		}
	})
}

func TestAllProblemsCollected(t *testing.T) {
	_, err := loadYAML(t, baseYAML+`
bogus: 1
log: {level: loud, format: xml}
delivery: {workers: 0}
`, []string{"XGATE_XMPP__SERVER=localhost"})
	lines := problemsOf(t, err)
	for _, key := range []string{"bogus", "log.level", "log.format", "delivery.workers", "xmpp.server"} {
		wantProblem(t, lines, key)
	}
	if len(lines) != 5 {
		t.Errorf("want 5 problems, got %d:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if got := err.Error(); strings.Count(got, "\n") != 4 {
		t.Errorf("Error() should be one problem per line:\n%s", got)
	}
}

func TestLoadArguments(t *testing.T) {
	t.Run("unknown flag", func(t *testing.T) {
		_, err := Load([]string{"--nope"}, nil)
		var ve *ValidationError
		if err == nil || errors.As(err, &ve) || !strings.Contains(err.Error(), "nope") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("positional argument", func(t *testing.T) {
		_, err := Load([]string{"extra"}, nil)
		if err == nil || !strings.Contains(err.Error(), `unexpected argument "extra"`) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("help", func(t *testing.T) {
		_, err := Load([]string{"--help"}, nil)
		if !errors.Is(err, pflag.ErrHelp) {
			t.Errorf("err = %v, want pflag.ErrHelp", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := Load([]string{"-c", "/nonexistent/xgate.yaml"}, nil)
		lines := problemsOf(t, err)
		if len(lines) != 1 || !strings.Contains(lines[0], "config file /nonexistent/xgate.yaml: no such file") {
			t.Errorf("problems = %q", lines)
		}
	})
	t.Run("yaml syntax", func(t *testing.T) {
		_, err := loadYAML(t, "xmpp:\n  server: [\n", nil)
		lines := problemsOf(t, err)
		if len(lines) != 1 || !strings.Contains(lines[0], "config file ") || !strings.Contains(lines[0], "yaml") {
			t.Errorf("problems = %q", lines)
		}
	})
	t.Run("duplicate key in yaml", func(t *testing.T) {
		_, err := loadYAML(t, baseYAML+"xmpp:\n  server: a:1\n", nil)
		lines := problemsOf(t, err)
		if len(lines) != 1 || !strings.Contains(lines[0], "already defined") {
			t.Errorf("problems = %q", lines)
		}
	})
	t.Run("subcommand flags", func(t *testing.T) {
		fs := NewFlagSet("migrate")
		dry := fs.Bool("dry-run", false, "show what would be done")
		path := writeFile(t, "xgate.yaml", baseYAML)
		if err := fs.Parse([]string{"--dry-run", "-c", path, "--log.level", "warn"}); err != nil {
			t.Fatal(err)
		}
		c, err := LoadFlags(fs, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !*dry || c.Log.Level != "warn" || c.Transports.Webhook == nil {
			t.Errorf("dry-run %v, log.level %q", *dry, c.Log.Level)
		}
	})
	t.Run("usage lists the overrides", func(t *testing.T) {
		usage := NewFlagSet("run").FlagUsages()
		for _, f := range []string{"--config", "-c", "--xmpp.server", "--xmpp.domain", "--store.driver",
			"--store.dsn", "--http.listen", "--log.level", "--log.format", `default "127.0.0.1:5347"`} {
			if !strings.Contains(usage, f) {
				t.Errorf("usage lacks %q:\n%s", f, usage)
			}
		}
	})
}

func TestTextMustBeText(t *testing.T) {
	_, err := loadYAML(t, baseYAML+"  irc: {domain: irc.example.org, secret: 0x1F, allow: [123]}\nlog: {level: 1.50}\n", nil)
	lines := problemsOf(t, err)
	wantProblem(t, lines, "transports.irc.secret", "<hidden> is a number, not text (put it in quotes)")
	wantProblem(t, lines, "transports.irc.allow[0]", "123 is a number, not text")
	wantProblem(t, lines, "log.level", "1.5 is a number, not text")
	for _, l := range lines {
		// The problem lines name the file (a temp path that may hold any
		// digits): look only at what follows the key.
		msg, _, _ := strings.Cut(l, " (from ")
		if strings.Contains(msg, "31") || strings.Contains(msg, "0x1F") {
			t.Errorf("problem shows the secret's value: %s", l)
		}
	}
	c, err := loadYAML(t, baseYAML+"  irc: {domain: irc.example.org, secret: \"0x1F\"}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Transports.IRC.Secret != "0x1F" {
		t.Errorf("quoted secret = %q", c.Transports.IRC.Secret)
	}
}
