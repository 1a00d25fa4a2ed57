package config

import (
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Redacted renders the configuration one "key: value" line per key, in
// declaration order, for logs and `xgate check-config`. Secrets show as
// "<hidden>" (or "" when unset), the DSN and URLs without passwords or query
// values. Absent transport sections are left out.
func (c Config) Redacted() string {
	var b strings.Builder
	for _, kv := range c.flatten() {
		v := kv.value
		if kv.quote {
			v = strconv.Quote(v)
		}
		fmt.Fprintf(&b, "%s: %s\n", kv.key, v)
	}
	return b.String()
}

// String is Redacted, so that printing a Config with %v never shows a secret.
func (c Config) String() string { return c.Redacted() }

// GoString is Redacted too: %#v must not show secrets either.
func (c Config) GoString() string { return c.Redacted() }

// LogValue makes slog log the redacted configuration as a group of flat keys.
func (c Config) LogValue() slog.Value {
	kvs := c.flatten()
	attrs := make([]slog.Attr, len(kvs))
	for i, kv := range kvs {
		attrs[i] = slog.String(kv.key, kv.value)
	}
	return slog.GroupValue(attrs...)
}

// keyValue is one key of the flattened configuration; quote is set for
// string values, which Redacted quotes and slog does not.
type keyValue struct {
	key, value string
	quote      bool
}

func (c Config) flatten() []keyValue {
	var out []keyValue
	flattenValue(reflect.ValueOf(c), "", &out)
	return out
}

func flattenValue(v reflect.Value, key string, out *[]keyValue) {
	if v.Type() == durationType {
		*out = append(*out, keyValue{key: key, value: time.Duration(v.Int()).String()})
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			flattenValue(v.Elem(), key, out)
		}
	case reflect.Struct:
		for _, f := range fieldsOf(v.Type()) {
			flattenValue(v.FieldByIndex(f.index), joinKey(key, f.key), out)
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			flattenValue(v.MapIndex(k), joinKey(key, fmt.Sprint(k)), out)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Struct {
			for i := range v.Len() {
				flattenValue(v.Index(i), fmt.Sprintf("%s[%d]", key, i), out)
			}
			return
		}
		items := make([]string, v.Len())
		for i := range v.Len() {
			s, quote := display(key, v.Index(i))
			if quote {
				s = strconv.Quote(s)
			}
			items[i] = s
		}
		*out = append(*out, keyValue{key: key, value: "[" + strings.Join(items, ", ") + "]"})
	default:
		s, quote := display(key, v)
		*out = append(*out, keyValue{key: key, value: s, quote: quote})
	}
}

// display renders one scalar value of key with secrets hidden; quote says
// whether it is a string to quote (a hidden secret is not).
func display(key string, v reflect.Value) (string, bool) {
	if v.Kind() != reflect.String {
		return fmt.Sprint(v.Interface()), false
	}
	s := v.String()
	switch leaf := leafKey(key); {
	case s == "":
		return "", true
	case isSecretKey(key):
		return hidden, false
	case leaf == "dsn":
		return redactDSN(s), true
	case leaf == "url" || strings.HasSuffix(leaf, "_url"):
		return redactURL(s), true
	}
	return s, true
}
