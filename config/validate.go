package config

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"
)

// Section is one enabled transport: its name (the key below transports) and
// the part every transport section shares.
type Section struct {
	Name      string
	Component *Component
}

// Enabled lists the transports whose sections are present, in a fixed order:
// irc, sms, email, webhook. The Components point into t.
func (t Transports) Enabled() []Section {
	var out []Section
	if t.IRC != nil {
		out = append(out, Section{"irc", &t.IRC.Component})
	}
	if t.SMS != nil {
		out = append(out, Section{"sms", &t.SMS.Component})
	}
	if t.Email != nil {
		out = append(out, Section{"email", &t.Email.Component})
	}
	if t.Webhook != nil {
		out = append(out, Section{"webhook", &t.Webhook.Component})
	}
	return out
}

// normalize puts values in the form the rest of xgate compares: domains
// lower-cased, allow and admin entries in canonical JID form. Entries that do
// not parse are left for Validate to report.
func (c *Config) normalize() {
	c.XMPP.Domain = strings.ToLower(c.XMPP.Domain)
	for _, s := range c.Transports.Enabled() {
		s.Component.Domain = strings.ToLower(s.Component.Domain)
		for i, a := range s.Component.Allow {
			if j, err := parseBare(a, false); err == "" {
				s.Component.Allow[i] = j
			}
		}
		for i, a := range s.Component.Admins {
			if j, err := parseBare(a, true); err == "" {
				s.Component.Admins[i] = j
			}
		}
	}
}

// Validate checks every value and returns a *ValidationError listing all
// problems, or nil. It expects secret files to have been read (Load does it):
// a section whose secret is empty is reported as missing its secret.
func (c *Config) Validate() error {
	var ps problems

	hostPort(&ps, "xmpp.server", c.XMPP.Server, "host:port of the XMPP server's component listener", "127.0.0.1:5347", false)
	domain(&ps, "xmpp.domain", c.XMPP.Domain, "the XMPP server's own domain, e.g. example.org")
	positive(&ps, "xmpp.keepalive", c.XMPP.Keepalive)
	positive(&ps, "xmpp.keepalive_timeout", c.XMPP.KeepaliveTimeout)
	positive(&ps, "xmpp.reconnect_max", c.XMPP.ReconnectMax)
	if c.XMPP.MaxStanzaSize <= 0 {
		ps.add("xmpp.max_stanza_size", "%d is not a size (expected a number of bytes greater than 0, e.g. 262144)", c.XMPP.MaxStanzaSize)
	}

	c.validateStore(&ps)

	hostPort(&ps, "http.listen", c.HTTP.Listen, "host:port to listen on", "127.0.0.1:8480", true)
	if c.HTTP.PublicURL != "" {
		httpURL(&ps, "http.public_url", c.HTTP.PublicURL, "https://gw.example.org")
	}
	oneOf(&ps, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(&ps, "log.format", c.Log.Format, "text", "json")

	positive(&ps, "delivery.give_up_after", c.Delivery.GiveUpAfter)
	positive(&ps, "delivery.retry_min", c.Delivery.RetryMin)
	positive(&ps, "delivery.retry_max", c.Delivery.RetryMax)
	positive(&ps, "delivery.lease", c.Delivery.Lease)
	positive(&ps, "delivery.handle_timeout", c.Delivery.HandleTimeout)
	if c.Delivery.RetryMin > 0 && c.Delivery.RetryMax > 0 && c.Delivery.RetryMin > c.Delivery.RetryMax {
		ps.add("delivery.retry_min", "%s is more than delivery.retry_max (%s) (expected retry_min <= retry_max)",
			c.Delivery.RetryMin, c.Delivery.RetryMax)
	}
	if c.Delivery.Workers < 1 {
		ps.add("delivery.workers", "%d is not a number of workers (expected 1 or more)", c.Delivery.Workers)
	}

	c.validateTransports(&ps)
	return ps.err()
}

func (c *Config) validateStore(ps *problems) {
	switch c.Store.Driver {
	case "sqlite":
		if strings.TrimSpace(c.Store.DSN) == "" {
			ps.add("store.dsn", "missing (expected the SQLite database file, e.g. /var/lib/xgate/xgate.db)")
		} else if isPostgresURL(c.Store.DSN) {
			ps.add("store.dsn", "%q is a PostgreSQL URL but store.driver is sqlite (expected a file path, or store.driver: postgres)",
				redactDSN(c.Store.DSN))
		}
	case "postgres":
		if reason := checkPostgresDSN(c.Store.DSN); reason != "" {
			ps.add("store.dsn", "%s (expected postgres://user:password@host:5432/xgate or host=... dbname=... key=value pairs)", reason)
		}
	default:
		ps.add("store.driver", "%q is not a database driver (expected sqlite or postgres)", c.Store.Driver)
	}
}

func isPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// checkPostgresDSN returns why dsn is not a PostgreSQL connection string, or
// "". It checks the form only; whether the server answers is for the store.
// The reason never contains the password.
func checkPostgresDSN(dsn string) string {
	dsn = strings.TrimSpace(dsn)
	if dsn == "" {
		return "missing"
	}
	if strings.Contains(dsn, "://") {
		if !isPostgresURL(dsn) {
			return strconv.Quote(redactDSN(dsn)) + " is not a postgres:// URL"
		}
		if _, err := url.Parse(dsn); err != nil {
			// url.Error repeats the URL, password included: keep only the cause.
			if ue, ok := err.(*url.Error); ok {
				err = ue.Err
			}
			return "the postgres:// URL does not parse: " + err.Error()
		}
		return ""
	}
	if !validKeyValueDSN(dsn) {
		return strconv.Quote(redactDSN(dsn)) + " is neither a postgres:// URL nor key=value pairs"
	}
	return ""
}

// validKeyValueDSN checks the libpq keyword/value form: key=value pairs
// separated by spaces, values optionally single-quoted with \ escapes.
func validKeyValueDSN(s string) bool {
	n := 0
	for {
		s = strings.TrimLeft(s, " \t\n\r")
		if s == "" {
			return n > 0
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return false
		}
		key := strings.TrimRight(s[:eq], " \t")
		for _, r := range key {
			if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return false
			}
		}
		s = strings.TrimLeft(s[eq+1:], " \t")
		if strings.HasPrefix(s, "'") {
			i, closed := 1, false
			for i < len(s) {
				if s[i] == '\\' {
					i += 2
					continue
				}
				if s[i] == '\'' {
					closed = true
					break
				}
				i++
			}
			if !closed {
				return false
			}
			s = s[i+1:]
		} else {
			end := strings.IndexAny(s, " \t\n\r")
			if end < 0 {
				end = len(s)
			}
			s = s[end:]
		}
		n++
	}
}

func (c *Config) validateTransports(ps *problems) {
	enabled := c.Transports.Enabled()
	if len(enabled) == 0 {
		ps.add("transports", "no transport is configured (expected at least one of the sections transports.irc, transports.sms, transports.email, transports.webhook)")
	}
	usedBy := map[string]string{}
	if c.XMPP.Domain != "" {
		usedBy[c.XMPP.Domain] = "xmpp.domain"
	}
	for _, s := range enabled {
		base := "transports." + s.Name
		comp := s.Component
		key := base + ".domain"
		if domain(ps, key, comp.Domain, "the component domain of this transport, e.g. "+s.Name+".example.org") {
			if other, ok := usedBy[comp.Domain]; ok {
				ps.add(key, "%q is already used by %s (expected a domain of its own for each transport, e.g. %s.%s)",
					comp.Domain, other, s.Name, c.XMPP.Domain)
			} else {
				usedBy[comp.Domain] = key
			}
		}
		if comp.Secret == "" {
			ps.add(base+".secret", "missing (expected the component secret set on the XMPP server for %s, or secret_file)", orDefault(comp.Domain, "this domain"))
		}
		for i, a := range comp.Allow {
			if _, reason := parseBare(a, false); reason != "" {
				ps.add(base+".allow["+strconv.Itoa(i)+"]", "%q %s (expected a bare JID like alice@example.org or a domain like example.org)", a, reason)
			}
		}
		for i, a := range comp.Admins {
			if _, reason := parseBare(a, true); reason != "" {
				ps.add(base+".admins["+strconv.Itoa(i)+"]", "%q %s (expected a bare JID like admin@example.org)", a, reason)
			}
		}
	}
	c.validateSMS(ps)
	c.validateIRC(ps)
	c.validateIRCArchive(ps)
	c.validateIRCBudget(ps)
	c.validateEmail(ps)
	if w := c.Transports.Webhook; w != nil {
		if w.URL == "" {
			ps.add("transports.webhook.url", "missing (expected the http(s) URL that receives outbound messages, e.g. https://hooks.example.org/xgate)")
		} else {
			httpURL(ps, "transports.webhook.url", w.URL, "https://hooks.example.org/xgate")
		}
		positive(ps, "transports.webhook.timeout", w.Timeout)
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// parseBare checks a bare JID (or, unless needLocal, a bare domain) and returns
// its canonical form, or why it is not one.
func parseBare(s string, needLocal bool) (string, string) {
	local, dom, found := strings.Cut(s, "@")
	if !found {
		dom, local = local, ""
	}
	switch {
	case strings.Contains(dom, "/"):
		return "", "has a resource"
	case found && local == "":
		return "", "has an empty localpart"
	case needLocal && local == "":
		return "", "is a domain, not a JID"
	}
	if reason := checkDomain(dom); reason != "" {
		return "", "has an invalid domain: " + reason
	}
	j, err := jid.New(local, strings.ToLower(dom), "")
	if err != nil {
		return "", "is not a valid JID: " + err.Error()
	}
	return j.String(), ""
}

// hostPort checks "host:port". With forListen the host may be empty (all
// interfaces) and the port 0 (any free port).
func hostPort(ps *problems, key, v, what, example string, forListen bool) {
	if v == "" {
		ps.add(key, "missing (expected %s, e.g. %s)", what, example)
		return
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil || (host == "" && !forListen) {
		ps.add(key, "%q is not host:port (expected e.g. %s)", v, example)
		return
	}
	low := 1
	if forListen {
		low = 0
	}
	if n, err := strconv.Atoi(port); err != nil || n < low || n > 65535 {
		ps.add(key, "%q has an invalid port %q (expected %d to 65535, e.g. %s)", v, port, low, example)
	}
}

// domain checks a required domain and reports whether it is valid.
func domain(ps *problems, key, v, expected string) bool {
	if v == "" {
		ps.add(key, "missing (expected %s)", expected)
		return false
	}
	if reason := checkDomain(v); reason != "" {
		ps.add(key, "%q is not a valid domain: %s (expected %s)", v, reason, expected)
		return false
	}
	return true
}

// checkDomain returns why s is not a DNS domain name usable as an XMPP
// domain, or "". Internationalised names must be given in their xn-- form.
func checkDomain(s string) string {
	switch {
	case s == "":
		return "it is empty"
	case len(s) > 253:
		return "it is longer than 253 characters"
	case strings.HasSuffix(s, "."):
		return "it ends with a dot"
	case net.ParseIP(strings.Trim(s, "[]")) != nil:
		return "it is an IP address"
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" {
			return "it has an empty label"
		}
		if len(label) > 63 {
			return "a label is longer than 63 characters"
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "a label starts or ends with a hyphen"
		}
		for _, r := range label {
			if !(r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return "it contains " + strconv.QuoteRune(r) + " (letters, digits, hyphens and dots only; write international names in xn-- form)"
			}
		}
	}
	return ""
}

func httpURL(ps *problems, key, v, example string) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		ps.add(key, "%q is not an absolute http(s) URL (expected e.g. %s)", redactURL(v), example)
	}
}

func positive(ps *problems, key string, d time.Duration) {
	if d <= 0 {
		ps.add(key, "%s is not a positive duration (expected e.g. 15s, 10m or 24h)", d)
	}
}

func oneOf(ps *problems, key, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	ps.add(key, "%q is not allowed (expected one of %s)", v, strings.Join(allowed, ", "))
}
