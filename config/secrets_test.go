package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretFile(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{"trailing newline trimmed", "file-secret\n", "file-secret"},
		{"crlf trimmed", "file-secret\r\n", "file-secret"},
		{"no newline", "file-secret", "file-secret"},
		{"inner spaces kept", " a b \n\n", " a b "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "secret", tt.content)
			yaml := strings.Replace(baseYAML, "secret: s3cret-webhook-value", "secret_file: "+path, 1)
			c, err := loadYAML(t, yaml, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Transports.Webhook.Secret; got != tt.want {
				t.Errorf("secret = %q, want %q", got, tt.want)
			}
			if c.Transports.Webhook.SecretFile != path {
				t.Errorf("secret_file = %q, want it kept", c.Transports.Webhook.SecretFile)
			}
		})
	}

	t.Run("from env", func(t *testing.T) {
		path := writeFile(t, "secret", "env-file-secret\n")
		c, err := loadYAML(t, "xmpp: {domain: example.org}\n", append([]string{
			"XGATE_TRANSPORTS__SMS__DOMAIN=sms.example.org",
			"XGATE_TRANSPORTS__SMS__SECRET_FILE=" + path,
		}, smsRequiredEnv...))
		if err != nil {
			t.Fatal(err)
		}
		if c.Transports.SMS.Secret != "env-file-secret" {
			t.Errorf("secret = %q", c.Transports.SMS.Secret)
		}
	})

	t.Run("inbound secret file", func(t *testing.T) {
		path := writeFile(t, "inbound", "hmac-key\n")
		c, err := loadYAML(t, baseYAML+"    inbound_secret_file: "+path+"\n", nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.Transports.Webhook.InboundSecret != "hmac-key" {
			t.Errorf("inbound_secret = %q", c.Transports.Webhook.InboundSecret)
		}
	})

	t.Run("both set", func(t *testing.T) {
		path := writeFile(t, "secret", "x\n")
		_, err := loadYAML(t, baseYAML+"    secret_file: "+path+"\n", nil)
		lines := problemsOf(t, err)
		if len(lines) != 1 {
			t.Fatalf("problems = %q", lines)
		}
		wantProblem(t, lines, "transports.webhook.secret",
			fmt.Sprintf(`both secret (<hidden>) and secret_file (%q) are set (expected exactly one)`, path))
	})

	t.Run("both inbound set", func(t *testing.T) {
		path := writeFile(t, "secret", "x\n")
		_, err := loadYAML(t, baseYAML+"    inbound_secret: y\n    inbound_secret_file: "+path+"\n", nil)
		wantProblem(t, problemsOf(t, err), "transports.webhook.inbound_secret", "both inbound_secret (<hidden>) and inbound_secret_file")
	})

	t.Run("missing file", func(t *testing.T) {
		yaml := strings.Replace(baseYAML, "secret: s3cret-webhook-value", "secret_file: /nonexistent/secret", 1)
		_, err := loadYAML(t, yaml, nil)
		lines := problemsOf(t, err)
		// One problem: the unread file is not also reported as a missing secret.
		if len(lines) != 1 {
			t.Fatalf("problems = %q", lines)
		}
		wantProblem(t, lines, "transports.webhook.secret_file", `cannot read "/nonexistent/secret": no such file or directory`, "(from file ")
	})

	t.Run("empty file", func(t *testing.T) {
		path := writeFile(t, "secret", "\n")
		yaml := strings.Replace(baseYAML, "secret: s3cret-webhook-value", "secret_file: "+path, 1)
		_, err := loadYAML(t, yaml, nil)
		lines := problemsOf(t, err)
		if len(lines) != 1 {
			t.Fatalf("problems = %q", lines)
		}
		wantProblem(t, lines, "transports.webhook.secret_file", "is empty")
	})
}

// secretValue must never appear in an error, in Redacted or in a log line.
const secretValue = "TOPSECRET-7c4f"

func TestSecretsNeverShown(t *testing.T) {
	secretPath := writeFile(t, "secret", secretValue+"\n")
	tests := []struct {
		name string
		yaml string
		env  []string
		args []string
	}{
		{"secret of the wrong type", baseYAML + "  irc: {domain: irc.example.org, secret: [" + secretValue + "]}\n", nil, nil},
		{"secret and secret_file", baseYAML + "  irc: {domain: irc.example.org, secret: " + secretValue + ", secret_file: " + secretPath + "}\n", nil, nil},
		{"inbound secret and file", baseYAML + "    inbound_secret: " + secretValue + "\n    inbound_secret_file: " + secretPath + "\n", nil, nil},
		{"secret from env with other problems", baseYAML, []string{
			"XGATE_TRANSPORTS__SMS__SECRET=" + secretValue, "XGATE_TRANSPORTS__SMS__DOMAIN=example.org"}, nil},
		{"unknown secret-looking key", baseYAML, []string{"XGATE_TRANSPORTS__SMS__TWILIO__AUTH_TOKEN=" + secretValue}, nil},
		{"postgres url with password, bad port", baseYAML, nil, []string{
			"--store.driver=postgres", "--store.dsn=postgres://xgate:" + secretValue + "@db:port/xgate"}},
		{"postgres url with password, sqlite driver", baseYAML, nil, []string{
			"--store.dsn=postgres://xgate:" + secretValue + "@db/xgate"}},
		{"postgres key=value with password, malformed", baseYAML, nil, []string{
			"--store.driver=postgres", "--store.dsn=host=db password=" + secretValue + " junk"}},
		{"postgres key=value with quoted password, malformed", baseYAML, nil, []string{
			"--store.driver=postgres", "--store.dsn=host=db password='" + secretValue + " x' junk"}},
		{"postgres other scheme with password", baseYAML, nil, []string{
			"--store.driver=postgres", "--store.dsn=mysql://u:" + secretValue + "@db/x"}},
		{"webhook url with password, bad scheme", baseYAML, []string{
			"XGATE_TRANSPORTS__WEBHOOK__URL=ftp://u:" + secretValue + "@h.example.org/"}, nil},
		{"webhook url with token in query, bad scheme", baseYAML, []string{
			"XGATE_TRANSPORTS__WEBHOOK__URL=ftp://h.example.org/?token=" + secretValue}, nil},
		{"unparseable webhook url", baseYAML, []string{
			"XGATE_TRANSPORTS__WEBHOOK__URL=http://u:" + secretValue + "@h.example.org:port/"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadYAML(t, tt.yaml, tt.env, tt.args...)
			if err == nil {
				t.Fatal("want an error")
			}
			if strings.Contains(err.Error(), secretValue) {
				t.Errorf("error shows the secret:\n%v", err)
			}
			if !strings.Contains(err.Error(), "<hidden>") && !strings.Contains(err.Error(), "unknown key") &&
				!strings.Contains(err.Error(), "does not parse") {
				t.Logf("note: error does not mention <hidden>:\n%v", err)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	inbound := writeFile(t, "inbound", secretValue+"-inbound\n")
	c, err := loadYAML(t, baseYAML+"    inbound_secret_file: "+inbound+"\n", append([]string{
		"XGATE_TRANSPORTS__WEBHOOK__SECRET=" + secretValue,
		"XGATE_TRANSPORTS__WEBHOOK__URL=https://hooks.example.org/in?token=" + secretValue,
		"XGATE_STORE__DRIVER=postgres",
		"XGATE_STORE__DSN=postgres://xgate:" + secretValue + "@db:5432/xgate?sslmode=disable",
		"XGATE_TRANSPORTS__SMS__DOMAIN=sms.example.org",
		"XGATE_TRANSPORTS__SMS__SECRET=" + secretValue + "-sms",
	}, smsRequiredEnv...))
	if err != nil {
		t.Fatal(err)
	}
	if c.Transports.Webhook.Secret != secretValue || c.Transports.Webhook.InboundSecret != secretValue+"-inbound" {
		t.Fatal("secrets not loaded")
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("config", "config", c)
	outputs := map[string]string{
		"Redacted": c.Redacted(),
		"%v":       fmt.Sprintf("%v", c),
		"%+v":      fmt.Sprintf("%+v", *c),
		"%#v":      fmt.Sprintf("%#v", *c),
		"%s":       fmt.Sprintf("%s", c),
		"slog":     logBuf.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, secretValue) {
			t.Errorf("%s shows a secret:\n%s", name, out)
		}
	}
	r := c.Redacted()
	for _, line := range []string{
		`xmpp.server: "127.0.0.1:5347"`,
		`xmpp.keepalive: 15s`,
		`xmpp.max_stanza_size: 262144`,
		`store.dsn: "postgres://xgate:<hidden>@db:5432/xgate?sslmode=disable"`,
		`transports.sms.secret: <hidden>`,
		`transports.sms.allow: []`,
		`transports.webhook.secret: <hidden>`,
		`transports.webhook.secret_file: ""`,
		`transports.webhook.inbound_secret: <hidden>`,
		`transports.webhook.inbound_secret_file: "` + inbound + `"`,
		`transports.webhook.url: "https://hooks.example.org/in?token=<hidden>"`,
		`transports.webhook.timeout: 10s`,
	} {
		if !strings.Contains(r, line+"\n") {
			t.Errorf("Redacted lacks %q:\n%s", line, r)
		}
	}
	if strings.Contains(r, "transports.irc") || strings.Contains(r, "transports.email") {
		t.Errorf("Redacted shows absent sections:\n%s", r)
	}
	if !strings.Contains(logBuf.String(), `"xmpp.domain":"example.org"`) {
		t.Errorf("slog output lacks the config: %s", logBuf.String())
	}
}

func TestIsSecretKey(t *testing.T) {
	for key, want := range map[string]bool{
		"transports.irc.secret":                  true,
		"transports.irc.secret_file":             false,
		"transports.webhook.inbound_secret":      true,
		"transports.sms.twilio.auth_token":       true,
		"transports.irc.sasl_password":           true,
		"store.encryption_key":                   true,
		"store.encryption_key_file":              false,
		"xmpp.keepalive":                         false,
		"xmpp.keepalive_timeout":                 false,
		"transports.irc.networks[0].password":    true,
		"transports.email.smtp.password_file":    false,
		"transports.webhook.url":                 false,
		"transports.webhook.inbound_secret_file": false,
	} {
		if got := isSecretKey(key); got != want {
			t.Errorf("isSecretKey(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"xgate.db":                              "xgate.db",
		"postgres://u:pw@h/db":                  "postgres://u:<hidden>@h/db",
		"postgres://u@h/db":                     "postgres://u@h/db",
		"postgres://h/db?password=pw&sslmode=x": "postgres://h/db?password=<hidden>&sslmode=x",
		"postgres://u:pw@h:port/db":             "<hidden>",
		"host=h password=pw dbname=x":           "host=h password=<hidden> dbname=x",
		"host=h password = 'p w' dbname=x":      "host=h password = <hidden> dbname=x",
	} {
		if got := redactDSN(in); got != want {
			t.Errorf("redactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}
