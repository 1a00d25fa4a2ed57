package config

import (
	"fmt"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
)

// hidden replaces a secret wherever a value would be shown.
const hidden = "<hidden>"

// secretWords mark a key as secret when they appear as one of its
// underscore-separated words: secret, inbound_secret, auth_token, api_key,
// sasl_password. A key ending in _file names a file and is not secret.
var secretWords = map[string]bool{
	"secret": true, "password": true, "passwd": true, "passphrase": true,
	"token": true, "key": true, "credentials": true,
}

// isSecretKey reports whether the value of the dotted key must never be shown.
func isSecretKey(key string) bool {
	words := strings.Split(leafKey(key), "_")
	if words[len(words)-1] == "file" {
		return false
	}
	for _, w := range words {
		if secretWords[w] {
			return true
		}
	}
	return false
}

// dsnPassword finds password=... in a key=value PostgreSQL DSN, quoted or not.
var dsnPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)

// redactDSN hides the password of a database DSN (URL or key=value form).
// A URL that does not parse is hidden whole: it may hold a password we cannot
// find.
func redactDSN(dsn string) string {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return hidden
		}
		// url.URL escapes what it prints, so put a placeholder in and swap it
		// for the marker afterwards.
		const placeholder = "xgate-hidden-9c1e"
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), placeholder)
		}
		if q := u.Query(); q.Has("password") {
			q.Set("password", placeholder)
			u.RawQuery = q.Encode()
		}
		return strings.ReplaceAll(u.String(), placeholder, hidden)
	}
	return dsnPassword.ReplaceAllString(dsn, "${1}"+hidden)
}

// redactURL hides the password and the query values of a URL, where web hook
// services tend to put tokens. A URL that does not parse is hidden whole.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return hidden
	}
	const placeholder = "xgate-hidden-9c1e"
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), placeholder)
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{placeholder}
		}
		u.RawQuery = q.Encode()
	}
	return strings.ReplaceAll(u.String(), placeholder, hidden)
}

// readSecretFiles resolves every pair of string keys X and X_file in the
// configuration (secret/secret_file, inbound_secret/inbound_secret_file, and
// any a transport adds): at most one of the two may be set, and a file is read
// into X with trailing newlines trimmed. Whether X is required is for
// validation to say.
func readSecretFiles(v reflect.Value, path string, ps *problems) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			readSecretFiles(v.Elem(), path, ps)
		}
		return
	case reflect.Slice:
		for i := range v.Len() {
			readSecretFiles(v.Index(i), fmt.Sprintf("%s[%d]", path, i), ps)
		}
		return
	case reflect.Map:
		for _, k := range v.MapKeys() {
			// Map values are not addressable: copy, resolve, store back.
			elem := reflect.New(v.Type().Elem()).Elem()
			elem.Set(v.MapIndex(k))
			readSecretFiles(elem, joinKey(path, fmt.Sprint(k)), ps)
			v.SetMapIndex(k, elem)
		}
		return
	case reflect.Struct:
	default:
		return
	}
	fields := fieldsOf(v.Type())
	byKey := make(map[string]reflect.Value, len(fields))
	for _, f := range fields {
		byKey[f.key] = v.FieldByIndex(f.index)
	}
	for _, f := range fields {
		fv := byKey[f.key]
		readSecretFiles(fv, joinKey(path, f.key), ps)
		fileKey, ok := strings.CutSuffix(f.key, "_file")
		if !ok || fv.Kind() != reflect.String {
			continue
		}
		secret, ok := byKey[fileKey]
		if !ok || secret.Kind() != reflect.String {
			continue
		}
		name := fv.String()
		switch {
		case name == "":
			continue
		case secret.String() != "":
			ps.add(joinKey(path, fileKey), "both %s (%s) and %s (%q) are set (expected exactly one)",
				fileKey, hidden, f.key, name)
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			ps.add(joinKey(path, f.key), "cannot read %q: %v", name, unwrapPath(err))
			continue
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			ps.add(joinKey(path, f.key), "%q is empty (expected the secret in it)", name)
			continue
		}
		secret.SetString(s)
	}
}

// unwrapPath drops the path from an *os.PathError, which the message already
// shows.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
