package config

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

const (
	examplePath = "../docs/xgate.example.yaml"
	docPath     = "../docs/configuration.md"
)

// TestExampleLoads keeps docs/xgate.example.yaml loadable and valid.
func TestExampleLoads(t *testing.T) {
	c, err := Load([]string{"-c", examplePath}, nil)
	if err != nil {
		t.Fatalf("%s does not load:\n%v", examplePath, err)
	}
	var names []string
	for _, s := range c.Transports.Enabled() {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, ","); got != "irc,sms,email,webhook" {
		t.Errorf("example enables %q, want every transport", got)
	}
}

// TestExampleShowsDefaults: where a key has a default, the example shows it.
func TestExampleShowsDefaults(t *testing.T) {
	c, err := Load([]string{"-c", examplePath}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.XMPP.Domain = c.XMPP.Domain // required, no default
	want.Transports = c.Transports   // checked below
	if got, want := c.Redacted(), want.Redacted(); got != want {
		t.Errorf("example differs from the defaults:\n got:\n%s\nwant:\n%s", got, want)
	}
	// Within each section, every key with a non-zero default shows it.
	tr := reflect.ValueOf(c.Transports)
	for _, f := range fieldsOf(tr.Type()) {
		sec := tr.FieldByIndex(f.index).Elem()
		def := newSection(sec.Type()).Elem()
		for _, sf := range fieldsOf(sec.Type()) {
			d := def.FieldByIndex(sf.index)
			if d.IsZero() {
				continue
			}
			if got := sec.FieldByIndex(sf.index); !reflect.DeepEqual(got.Interface(), d.Interface()) {
				t.Errorf("transports.%s.%s = %v in the example, default %v", f.key, sf.key, got, d)
			}
		}
	}
}

// TestExampleHasEveryKey: every key xgate knows is set in the example, except
// X_file keys, which appear as a comment next to X (only one may be set).
func TestExampleHasEveryKey(t *testing.T) {
	k := koanf.New(".")
	if err := k.Load(file.Provider(examplePath), yaml.Parser()); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range schemaKeys(reflect.TypeFor[Config](), "") {
		if k.Exists(key) {
			continue
		}
		if base, ok := strings.CutSuffix(key, "_file"); ok && k.Exists(base) &&
			strings.Contains(string(text), "# "+leafKey(key)+": ") {
			continue
		}
		t.Errorf("%s: not in %s (add it with its default and a comment)", key, examplePath)
	}
}

// TestDocumentationHasEveryKey: docs/configuration.md names every key and its
// environment variable. Transport keys may be documented once for all
// transports as transports.<name>.key / XGATE_TRANSPORTS__<NAME>__KEY.
func TestDocumentationHasEveryKey(t *testing.T) {
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, key := range schemaKeys(reflect.TypeFor[Config](), "") {
		forms := []string{key}
		if parts := strings.SplitN(key, ".", 3); len(parts) == 3 && parts[0] == "transports" {
			forms = append(forms, "transports.<name>."+parts[2])
		}
		found := false
		for _, f := range forms {
			found = found || strings.Contains(doc, "`"+f+"`") && strings.Contains(doc, EnvName(f))
		}
		if !found {
			t.Errorf("%s: %s does not document it (want `%s` and %s in the key table)", key, docPath, key, EnvName(key))
		}
	}
}
