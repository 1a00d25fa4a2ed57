package mapping

import (
	"net/mail"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

const kindEmail = "an email address"

// maxEmailLen is the longest address SMTP carries (RFC 5321 §4.5.3.1.3: a
// 256-octet path, angle brackets included). Escaped, it stays well inside the
// 1023 bytes of a localpart.
const maxEmailLen = 254

// EmailToLocal turns an email address into the localpart of its JID on the
// email transport's domain: bob@Example.COM becomes bob\40example.com. The
// address is parsed with net/mail (a quoted local part is fine, a display name
// is not), the domain is lower-cased, the local part is kept as it is, and the
// result is XEP-0106 escaped. The error says, for a human, why addr is not
// usable.
func EmailToLocal(addr string) (string, error) {
	a, err := mail.ParseAddress(addr)
	if err != nil {
		// net/mail's messages are terse ("missing '@' or angle-addr"). For
		// a plain address, our own checks usually say more; quoted and
		// bracketed forms are left to the parser.
		reason := ""
		if !strings.ContainsAny(addr, `"<>()`) {
			_, reason = canonicalEmail(strings.TrimSpace(addr))
		}
		if reason == "" {
			reason = describeMailError(err)
		}
		return "", &AddressError{Input: addr, Kind: kindEmail, Reason: reason}
	}
	if a.Name != "" {
		return "", &AddressError{Input: addr, Kind: kindEmail,
			Reason: "it has a display name (expected only the address, e.g. bob@example.org)"}
	}
	canonical, reason := canonicalEmail(a.Address)
	if reason != "" {
		return "", &AddressError{Input: addr, Kind: kindEmail, Reason: reason}
	}
	return EscapeLocal(canonical), nil
}

// LocalToEmail turns the localpart of a JID on the email transport's domain
// back into the address: bob\40example.com becomes bob@example.com. It
// unescapes (XEP-0106) and checks the result: exactly one @, a non-empty local
// part, no spaces or control characters, a valid domain. The address is
// returned as an RFC 5322 addr-spec, the local part quoted when it needs to be,
// ready for SMTP (RCPT TO:<...>) and for mail headers.
func LocalToEmail(local string) (string, error) {
	s, err := UnescapeLocal(local)
	if err != nil {
		reason := err.Error()
		if ae, ok := err.(*AddressError); ok {
			reason = ae.Reason
		}
		return "", &AddressError{Input: local, Kind: kindEmail, Reason: reason}
	}
	canonical, reason := canonicalEmail(s)
	if reason != "" {
		return "", &AddressError{Input: s, Kind: kindEmail, Reason: reason}
	}
	return addrSpec(canonical), nil
}

// canonicalEmail checks an address in net/mail's unquoted form (local@domain,
// as in mail.Address.Address) and returns it with the domain lower-cased, or
// the reason it is not acceptable. EmailToLocal and LocalToEmail apply the same
// rules, so whatever one accepts the other gives back.
func canonicalEmail(s string) (string, string) {
	switch n := strings.Count(s, "@"); {
	case s == "":
		return "", "it is empty"
	case n == 0:
		return "", "it has no @ (expected e.g. bob@example.org)"
	case n > 1:
		return "", "it has " + strconv.Itoa(n) + " @ signs (expected exactly one)"
	}
	local, domain, _ := strings.Cut(s, "@")
	switch {
	case local == "":
		return "", "nothing comes before the @"
	case domain == "":
		return "", "nothing comes after the @"
	case len(s) > maxEmailLen:
		return "", "it is longer than " + strconv.Itoa(maxEmailLen) + " characters"
	case !utf8.ValidString(s):
		return "", "it is not valid UTF-8"
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		if r == ' ' {
			return "", "it contains a space"
		}
		return "", "it contains the character " + strconv.QuoteRune(r)
	}
	domain = strings.ToLower(domain)
	if reason := checkMailDomain(domain); reason != "" {
		return "", "the domain " + domain + " " + reason
	}
	canonical := local + "@" + domain
	// Whatever net/mail cannot read back in its written form is not an
	// address we can send to.
	a, err := mail.ParseAddress(addrSpec(canonical))
	if err != nil || a.Address != canonical {
		return "", "its local part " + local + " cannot be written in an email header"
	}
	return canonical, ""
}

// describeMailError rewrites a net/mail parse error for a human.
func describeMailError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "mail: ")
	switch {
	case msg == "no address":
		return "it is empty"
	case strings.HasPrefix(msg, "expected single address"):
		return "it holds more than one address (expected exactly one)"
	case strings.HasPrefix(msg, "missing '@'"), strings.HasPrefix(msg, "no angle-addr"),
		strings.HasPrefix(msg, "missing word in phrase"):
		return "it is not of the form name@domain (e.g. bob@example.org)"
	}
	return "it is malformed (" + msg + ")"
}

// addrSpec writes an address in net/mail's unquoted form as an RFC 5322
// addr-spec, quoting the local part if it needs it.
func addrSpec(s string) string {
	formatted := (&mail.Address{Address: s}).String() // "<addr-spec>"
	return formatted[1 : len(formatted)-1]
}

// checkMailDomain returns why d is not a domain mail can be sent to, or "".
// Labels are letters, digits and hyphens; internationalised names (RFC 6532)
// are accepted in Unicode. Address literals ([192.0.2.1]) are not supported.
func checkMailDomain(d string) string {
	if strings.HasPrefix(d, "[") {
		return "is an address literal, which is not supported"
	}
	if len(d) > 253 {
		return "is too long"
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" {
			return "has an empty label"
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "has a label that starts or ends with a hyphen"
		}
		if len(label) > 63 {
			return "has a label longer than 63 bytes"
		}
		for _, r := range label {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r) {
				return "contains " + strconv.QuoteRune(r)
			}
		}
	}
	return ""
}
