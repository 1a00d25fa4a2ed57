// Package config loads xgate's configuration and checks it before anything
// starts.
//
// Sources, lowest precedence first:
//
//  1. Defaults (see Defaults).
//  2. A YAML file, named by -c/--config. Without the flag no file is read.
//  3. XGATE_* environment variables: XGATE_TRANSPORTS__SMS__TWILIO__AUTH_TOKEN
//     sets transports.sms.twilio.auth_token. A double underscore separates
//     levels, single underscores stay, and the name is lower-cased.
//  4. Command-line flags for the common scalar keys (--xmpp.server, ...).
//
// Loading is strict: a key that xgate does not know, from any source, is an
// error naming the full dotted key, so a typo never silently falls back to a
// default. Every problem found (unknown keys, values of the wrong type,
// unreadable secret files, failed validation) is collected into one
// *ValidationError, whose lines each name the key, the value and what was
// expected; cmd/xgate prints them and exits with status 2.
//
// A transport runs when its section is present (Transports.IRC etc. are then
// non-nil), whether the section comes from the file or only from environment
// variables. Secrets can be given inline or read from a file (secret_file);
// they never appear in errors, in Redacted or in String.
//
// Adding a key: add a field with a koanf tag to types.go (a per-section default
// goes in the section's setDefaults method in defaults.go), document it in
// docs/configuration.md and docs/xgate.example.yaml — the tests fail until
// both mention it — and validate it in validate.go. Supported field types are
// string, bool, integers, floats, time.Duration, []string, nested structs,
// pointers to structs (optional sections), slices of structs and maps with
// string keys.
package config
