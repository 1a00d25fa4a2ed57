package config

import (
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"github.com/knadh/koanf/maps"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// EnvPrefix starts every environment variable xgate reads.
const EnvPrefix = "XGATE_"

// keyAnnotation marks the flags of a FlagSet that set a configuration key (the
// flag's name is the key); other flags are left to their owner.
const keyAnnotation = "xgate-config-key"

// overrideFlags are the keys settable with --key=value, with their help text.
var overrideFlags = []struct{ key, usage string }{
	{"xmpp.server", "host:port of the XMPP server's component listener"},
	{"xmpp.domain", "the XMPP server's own domain"},
	{"store.driver", "database: sqlite or postgres"},
	{"store.dsn", "database file (sqlite) or postgres:// URL"},
	{"http.listen", "host:port of the metrics/health/webhook endpoint"},
	{"log.level", "debug, info, warn or error"},
	{"log.format", "text or json"},
}

// NewFlagSet returns a FlagSet with -c/--config and the configuration
// overrides (--xmpp.server, --xmpp.domain, --store.driver, --store.dsn,
// --http.listen, --log.level, --log.format). A subcommand may add flags of its
// own before parsing it and passing it to LoadFlags. The FlagSet does not
// print: errors come back from Parse, and FlagUsages gives the help text.
func NewFlagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	fs.StringP("config", "c", "", "YAML configuration `FILE` (optional)")
	d := Defaults()
	defaults := map[string]string{
		"xmpp.server": d.XMPP.Server, "store.driver": d.Store.Driver, "store.dsn": d.Store.DSN,
		"http.listen": d.HTTP.Listen, "log.level": d.Log.Level, "log.format": d.Log.Format,
	}
	for _, f := range overrideFlags {
		usage := f.usage
		if v := defaults[f.key]; v != "" {
			usage += fmt.Sprintf(" (default %q)", v)
		}
		// The flag's own default stays empty: an unset flag must not override
		// the file or the environment.
		fs.String(f.key, "", usage)
		_ = fs.SetAnnotation(f.key, keyAnnotation, []string{"true"})
	}
	return fs
}

// Load parses the arguments that follow the subcommand (for example
// ["-c", "xgate.yaml"] of "xgate run -c xgate.yaml") with NewFlagSet, then
// loads the configuration as LoadFlags does. environ is the process
// environment (os.Environ()), passed in so tests control it.
//
// A bad flag or a positional argument is reported as a plain error; -h/--help
// as an error wrapping pflag.ErrHelp. Every other problem comes as one
// *ValidationError. Either way the configuration is unusable: cmd/xgate exits
// with status 2 (0 for help).
func Load(args, environ []string) (*Config, error) {
	fs := NewFlagSet("xgate")
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}
	return LoadFlags(fs, environ)
}

// LoadFlags loads the configuration from the defaults, the file named by the
// parsed fs's --config, the XGATE_* variables of environ and fs's override
// flags, in that order of precedence; then reads secret files and validates.
// The error, if any, is a *ValidationError listing every problem.
func LoadFlags(fs *pflag.FlagSet, environ []string) (*Config, error) {
	l := loader{origins: make(map[string]string)}
	k := koanf.New(".")

	if path, _ := fs.GetString("config"); path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return nil, &ValidationError{Problems: []Problem{{
				Msg: fmt.Sprintf("config file %s: %v", path, unwrapPath(err)),
			}}}
		}
		l.record(k, "file "+path)
	}

	ke := koanf.New(".")
	_ = ke.Load(env.Provider(".", env.Opt{
		Prefix:        EnvPrefix,
		EnvironFunc:   func() []string { return environ },
		TransformFunc: l.envTransform,
	}), nil)
	if err := k.Merge(ke); err != nil {
		return nil, fmt.Errorf("config: merge environment: %w", err)
	}

	kf := koanf.New(".")
	_ = kf.Load(posflag.ProviderWithFlag(fs, ".", nil, func(f *pflag.Flag) (string, any) {
		if _, ok := f.Annotations[keyAnnotation]; !ok {
			return "", nil
		}
		if f.Changed {
			l.origins[f.Name] = "flag --" + f.Name
		}
		return f.Name, posflag.FlagVal(fs, f)
	}), nil)
	if err := k.Merge(kf); err != nil {
		return nil, fmt.Errorf("config: merge flags: %w", err)
	}

	cfg := Defaults()
	// Decode from the flattened keys so that a dotted key in YAML
	// ("xmpp.server: x" at the top level) means the same as the nested form.
	d := decoder{problems: l.problems}
	d.section("", maps.Unflatten(k.All(), "."), reflect.ValueOf(&cfg).Elem())
	readSecretFiles(reflect.ValueOf(&cfg).Elem(), "", &d.problems)
	cfg.normalize()
	if err := cfg.Validate(); err != nil {
		d.list = mergeProblems(d.list, err.(*ValidationError).Problems)
	}
	for i := range d.list {
		d.list[i].Source = l.sourceOf(d.list[i].Key)
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// loader remembers which source last set each key, so problems can say where a
// bad value came from.
type loader struct {
	problems
	origins map[string]string // flat key → "file x", "env XGATE_X", "flag --x"
}

func (l *loader) record(k *koanf.Koanf, source string) {
	for _, key := range k.Keys() {
		l.origins[key] = source
	}
}

// envTransform maps XGATE_TRANSPORTS__SMS__TWILIO__AUTH_TOKEN to
// transports.sms.twilio.auth_token, remembering where it came from.
func (l *loader) envTransform(name, value string) (string, any) {
	key, ok := EnvKey(name)
	if !ok {
		l.add("", "environment variable %s is not a configuration key (expected %sSECTION__KEY, levels separated by a double underscore)", name, EnvPrefix)
		return "", nil
	}
	l.origins[key] = "env " + name
	return key, value
}

// EnvKey maps an XGATE_* variable name to its dotted key: the prefix is
// removed, "__" separates levels, single underscores stay, and the result is
// lower-cased. ok is false when the name has no prefix or an empty level.
func EnvKey(name string) (key string, ok bool) {
	rest, found := strings.CutPrefix(name, EnvPrefix)
	if !found || rest == "" {
		return "", false
	}
	parts := strings.Split(rest, "__")
	for i, p := range parts {
		if p == "" || strings.HasPrefix(p, "_") || strings.HasSuffix(p, "_") {
			return "", false
		}
		parts[i] = strings.ToLower(p)
	}
	return strings.Join(parts, "."), true
}

// EnvName is the inverse of EnvKey: transports.sms.domain gives
// XGATE_TRANSPORTS__SMS__DOMAIN.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "__"))
}

// sourceOf says where key (or, for a section, the keys below it) came from;
// "" means the defaults.
func (l *loader) sourceOf(key string) string {
	if key == "" {
		return ""
	}
	if s, ok := l.origins[key]; ok {
		return s
	}
	// A list item "allow[2]" comes from wherever the list came from.
	if i := strings.IndexByte(key, '['); i >= 0 {
		return l.sourceOf(key[:i])
	}
	// A section: name the source of one of its keys, deterministically.
	var below []string
	for k := range l.origins {
		if strings.HasPrefix(k, key+".") {
			below = append(below, k)
		}
	}
	if len(below) > 0 {
		sort.Strings(below)
		return l.origins[below[0]]
	}
	return ""
}

// mergeProblems appends later problems to earlier ones, dropping those about a
// key (or its _file twin) that already has one: a value that failed to decode
// or a secret file that could not be read should not also be reported as
// missing.
func mergeProblems(earlier, later []Problem) []Problem {
	seen := make(map[string]bool, len(earlier))
	for _, p := range earlier {
		seen[strings.TrimSuffix(p.Key, "_file")] = true
	}
	for _, p := range later {
		if p.Key != "" && seen[strings.TrimSuffix(p.Key, "_file")] {
			continue
		}
		earlier = append(earlier, p)
	}
	return earlier
}
