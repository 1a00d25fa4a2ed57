package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The decoder turns the merged key tree (maps from YAML, strings from the
// environment and flags) into the typed Config. It is ours rather than
// mapstructure's so that every problem names the full dotted key, shows the
// value (never a secret's) and says what was expected, and so that all of them
// are collected instead of the first.

var durationType = reflect.TypeFor[time.Duration]()

// field is one configurable field of a struct: its key and where it lives
// (an index path, because squashed embedded structs contribute their fields).
type field struct {
	key   string
	index []int
}

// fieldsOf lists the configurable fields of struct type t in declaration order.
// Fields without a koanf tag are not configurable.
func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("koanf")
		if !ok || tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" && strings.Contains(opts, "squash") && f.Type.Kind() == reflect.Struct {
			for _, sub := range fieldsOf(f.Type) {
				sub.index = append([]int{i}, sub.index...)
				out = append(out, sub)
			}
			continue
		}
		out = append(out, field{key: name, index: []int{i}})
	}
	return out
}

func joinKey(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// decoder collects problems while it fills a value from the key tree.
type decoder struct {
	problems
}

// section fills struct out from the keys of m.
func (d *decoder) section(path string, m map[string]any, out reflect.Value) {
	fields := fieldsOf(out.Type())
	byKey := make(map[string]field, len(fields))
	for _, f := range fields {
		byKey[f.key] = f
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		key := joinKey(path, k)
		f, ok := byKey[k]
		if !ok {
			d.unknown(path, k, m[k], fields)
			continue
		}
		d.value(key, m[k], out.FieldByIndex(f.index))
	}
}

// unknown reports key k of section path, which has no such field. When its
// value is a subtree, every leaf below it is reported by its full dotted key
// (transports.sms.twilio.auth_token), which is what the operator wrote.
func (d *decoder) unknown(path, k string, v any, fields []field) {
	known := make([]string, len(fields))
	for i, f := range fields {
		known[i] = f.key
	}
	where := "in " + path
	if path == "" {
		where = "at the top level"
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		d.add(joinKey(path, k), "unknown key (known keys %s: %s)", where, strings.Join(known, ", "))
		return
	}
	for _, leaf := range leafKeys(joinKey(path, k), m) {
		d.add(leaf, "unknown key (there is no %q %s; known keys: %s)", k, where, strings.Join(known, ", "))
	}
}

// leafKeys lists the full dotted keys of the leaves below m, sorted.
func leafKeys(prefix string, m map[string]any) []string {
	var out []string
	for k, v := range m {
		key := joinKey(prefix, k)
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			out = append(out, leafKeys(key, sub)...)
			continue
		}
		out = append(out, key)
	}
	sort.Strings(out)
	return out
}

// value fills out (the field at key) from in.
func (d *decoder) value(key string, in any, out reflect.Value) {
	t := out.Type()
	if t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct {
		// An optional section: present as soon as its key is, even empty.
		if out.IsNil() {
			out.Set(newSection(t.Elem()))
		}
		if in == nil {
			return
		}
		d.value(key, in, out.Elem())
		return
	}
	if in == nil {
		// "key:" with no value in YAML: keep the default.
		return
	}
	if t == durationType {
		d.duration(key, in, out)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := in.(map[string]any)
		if !ok {
			d.add(key, "%s is not a section (expected keys below %s)", show(key, in), key)
			return
		}
		d.section(key, m, out)
	case reflect.String:
		switch v := in.(type) {
		case string:
			out.SetString(v)
		case bool, int, int64, uint64, float64:
			// YAML typed the bare word, and its spelling is lost (0x1F,
			// 1.50, True): refuse rather than guess, a secret must be exact.
			d.add(key, "%s is a %s, not text (put it in quotes)", show(key, in), yamlType(v))
		default:
			d.add(key, "%s is not a string", show(key, in))
		}
	case reflect.Bool:
		d.boolean(key, in, out)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		d.integer(key, in, out)
	case reflect.Float32, reflect.Float64:
		d.float(key, in, out)
	case reflect.Slice:
		d.slice(key, in, out)
	case reflect.Map:
		d.mapping(key, in, out)
	default:
		d.add(key, "cannot be configured (unsupported type %s)", t)
	}
}

// newSection allocates an optional section with its own defaults.
func newSection(t reflect.Type) reflect.Value {
	p := reflect.New(t)
	if s, ok := p.Interface().(sectionDefaulter); ok {
		s.setDefaults()
	}
	return p
}

func (d *decoder) duration(key string, in any, out reflect.Value) {
	s, ok := in.(string)
	if !ok {
		d.add(key, "%s is not a duration (expected a number with a unit, e.g. 15s, 10m or 24h)", show(key, in))
		return
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		d.add(key, "%s is not a duration (expected a number with a unit, e.g. 15s, 10m or 24h)", show(key, in))
		return
	}
	out.SetInt(int64(v))
}

func (d *decoder) boolean(key string, in any, out reflect.Value) {
	switch v := in.(type) {
	case bool:
		out.SetBool(v)
		return
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err == nil {
			out.SetBool(b)
			return
		}
	}
	d.add(key, "%s is not a boolean (expected true or false)", show(key, in))
}

func (d *decoder) integer(key string, in any, out reflect.Value) {
	var s string
	switch v := in.(type) {
	case int, int64, uint64:
		s = fmt.Sprint(v)
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		s = strings.TrimSpace(v)
	default:
		d.add(key, "%s is not a whole number", show(key, in))
		return
	}
	var err error
	switch out.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var u uint64
		if u, err = strconv.ParseUint(s, 10, out.Type().Bits()); err == nil {
			out.SetUint(u)
			return
		}
	default:
		var n int64
		if n, err = strconv.ParseInt(s, 10, out.Type().Bits()); err == nil {
			out.SetInt(n)
			return
		}
	}
	if errors.Is(err, strconv.ErrRange) {
		d.add(key, "%s is out of range for this key", show(key, in))
		return
	}
	d.add(key, "%s is not a whole number", show(key, in))
}

func (d *decoder) float(key string, in any, out reflect.Value) {
	var f float64
	switch v := in.(type) {
	case int:
		f = float64(v)
	case int64:
		f = float64(v)
	case uint64:
		f = float64(v)
	case float64:
		f = v
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
			d.add(key, "%s is not a number", show(key, in))
			return
		}
	default:
		d.add(key, "%s is not a number", show(key, in))
		return
	}
	out.SetFloat(f)
}

// slice fills a list. A list of scalars may also be given as one string with
// comma-separated items, which is how environment variables and flags set it.
func (d *decoder) slice(key string, in any, out reflect.Value) {
	var items []any
	switch v := in.(type) {
	case []any:
		items = v
	case string:
		for s := range strings.SplitSeq(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
	default:
		d.add(key, "%s is not a list", show(key, in))
		return
	}
	list := reflect.MakeSlice(out.Type(), len(items), len(items))
	for i, item := range items {
		d.value(fmt.Sprintf("%s[%d]", key, i), item, list.Index(i))
	}
	out.Set(list)
}

func (d *decoder) mapping(key string, in any, out reflect.Value) {
	if out.Type().Key().Kind() != reflect.String {
		d.add(key, "cannot be configured (unsupported type %s)", out.Type())
		return
	}
	m, ok := in.(map[string]any)
	if !ok {
		d.add(key, "%s is not a section (expected keys below %s)", show(key, in), key)
		return
	}
	if out.IsNil() {
		out.Set(reflect.MakeMapWithSize(out.Type(), len(m)))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		elem := reflect.New(out.Type().Elem()).Elem()
		if existing := out.MapIndex(reflect.ValueOf(k).Convert(out.Type().Key())); existing.IsValid() {
			elem.Set(existing)
		}
		d.value(joinKey(key, k), m[k], elem)
		out.SetMapIndex(reflect.ValueOf(k).Convert(out.Type().Key()), elem)
	}
}

func yamlType(v any) string {
	if _, ok := v.(bool); ok {
		return "boolean"
	}
	return "number"
}

// show renders a configured value for a message: quoted if it is a string,
// described if it is a section or a list, "<hidden>" if key is a secret.
func show(key string, v any) string {
	if isSecretKey(key) {
		return hidden
	}
	switch v := v.(type) {
	case string:
		if leafKey(key) == "dsn" {
			return strconv.Quote(redactDSN(v))
		}
		return strconv.Quote(v)
	case map[string]any:
		return "a section"
	case []any:
		return "a list"
	case time.Duration:
		return v.String()
	}
	return fmt.Sprint(v)
}

// leafKey is the last element of a dotted key, without any [i] suffix.
func leafKey(key string) string {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		key = key[i+1:]
	}
	if i := strings.IndexByte(key, '['); i >= 0 {
		key = key[:i]
	}
	return key
}
