package mapping

// SMS addresses: a contact on the SMS domain is +15551234567@sms.gw (E.164:
// '+', the country calling code and the national number, digits only) or a
// short code such as 12345@sms.gw. Anything else is refused, so that one phone
// has exactly one JID. What a user types ("(555) 000-1111", "06 12 34 56 78")
// is normalised with a default region by PhoneToLocal; parsing and the
// per-country length rules come from github.com/nyaruka/phonenumbers (a port
// of Google's libphonenumber), not from hand-written rules.

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

const (
	kindPhone = "a phone number"
	// Short codes are 3 to 8 digits in every numbering plan that has them.
	minShortCode = 3
	maxShortCode = 8
	// maxPhoneInput bounds what PhoneToLocal parses (phonenumbers has its own
	// cap of 250; ours keeps error texts short).
	maxPhoneInput = 64
)

// IsShortCode reports whether local has the form of a short code (3 to 8
// digits, no '+').
func IsShortCode(local string) bool {
	return len(local) >= minShortCode && len(local) <= maxShortCode && allDigits(local)
}

// LocalToPhone checks a contact localpart of the SMS domain and returns the
// address to give the SMS provider: the E.164 number as it is, or the short
// code. An E.164 localpart must be canonical (what PhoneToLocal returns) and
// have a possible length for its country; the error text says how to write it.
func LocalToPhone(local string) (string, error) {
	fail := func(reason string) (string, error) {
		return "", &AddressError{Input: local, Kind: kindPhone, Reason: reason}
	}
	switch {
	case local == "":
		return fail("it is empty (expected an international number such as +15551234567)")
	case IsShortCode(local):
		return local, nil
	case !strings.HasPrefix(local, "+"):
		if allDigits(local) {
			return fail("it has no country code (expected the international form, e.g. +15551234567; a short code has 3 to 8 digits)")
		}
		return fail("expected the international form, e.g. +15551234567")
	}
	digits := local[1:]
	if digits != "" && !allDigits(digits) {
		hint := ""
		if n, err := phonenumbers.Parse(local, "ZZ"); err == nil && phonenumbers.IsPossibleNumber(n) {
			hint = ", here " + phonenumbers.Format(n, phonenumbers.E164)
		}
		return fail("it may hold only '+' and digits (write it without spaces or punctuation" + hint + ")")
	}
	if len(digits) < 2 || len(digits) > 15 {
		return fail("an international number has 2 to 15 digits after the '+'")
	}
	if digits[0] == '0' {
		return fail("a country code never starts with 0")
	}
	n, err := phonenumbers.Parse(local, "ZZ")
	if err != nil {
		return fail(describeParseError(err))
	}
	if reason := possible(n); reason != "" {
		return fail(reason)
	}
	if e := phonenumbers.Format(n, phonenumbers.E164); e != local {
		return fail("write it as " + e)
	}
	return local, nil
}

// PhoneToLocal normalises a phone number as a user types it or a provider
// sends it ("+1 (555) 000-1111", "0612345678", "12345") to the contact
// localpart: E.164, or a short code. Input without '+' is read as a national
// number of defaultRegion (ISO 3166 code such as "US" or "FR"; "" accepts only
// international input); digits that form no valid national number but a
// possible short code of the region stay a short code.
func PhoneToLocal(input, defaultRegion string) (string, error) {
	in := strings.TrimSpace(input)
	fail := func(reason string) (string, error) {
		return "", &AddressError{Input: input, Kind: kindPhone, Reason: reason}
	}
	switch {
	case in == "":
		return fail("it is empty (expected a number such as +15551234567)")
	case len(in) > maxPhoneInput:
		return fail("it is too long")
	}
	region := strings.ToUpper(defaultRegion)
	if region == "" {
		region = "ZZ"
	}
	international := strings.HasPrefix(in, "+")
	if !international && region == "ZZ" {
		if IsShortCode(in) {
			return in, nil
		}
		return fail("it has no country code (expected the international form, e.g. +15551234567)")
	}
	n, err := phonenumbers.Parse(in, region)
	if err != nil {
		return fail(describeParseError(err))
	}
	if n.GetExtension() != "" {
		return fail("it has an extension, which text messages cannot reach")
	}
	if !international {
		digits := phonenumbers.NormalizeDigitsOnly(in)
		if !phonenumbers.IsValidNumber(n) && IsShortCode(digits) && phonenumbers.IsPossibleShortNumberForRegion(n, region) {
			return digits, nil
		}
	}
	if reason := possible(n); reason != "" {
		return fail(reason)
	}
	local := phonenumbers.Format(n, phonenumbers.E164)
	// A national number with odd leading zeros can format to an E.164 form
	// that reads back as another number: refuse it rather than guess.
	if _, err := LocalToPhone(local); err != nil {
		return fail("it does not form a valid international number")
	}
	return local, nil
}

// PhoneRegion returns the ISO 3166 region of an E.164 localpart ("US",
// "FR"), the main region of its country code when the number is not assigned
// in a specific one, or "" for a short code or an invalid localpart.
func PhoneRegion(local string) string {
	if !strings.HasPrefix(local, "+") {
		return ""
	}
	n, err := phonenumbers.Parse(local, "ZZ")
	if err != nil {
		return ""
	}
	if r := phonenumbers.GetRegionCodeForNumber(n); r != "" && r != "ZZ" {
		return r
	}
	if r := phonenumbers.GetRegionCodeForCountryCode(int(n.GetCountryCode())); r != "ZZ" {
		return r
	}
	return ""
}

// possible returns why n cannot be a phone number (its length), or "".
func possible(n *phonenumbers.PhoneNumber) string {
	switch phonenumbers.IsPossibleNumberWithReason(n) {
	case phonenumbers.IS_POSSIBLE:
		return ""
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return "it is too short for its country (is the area code missing?)"
	case phonenumbers.INVALID_COUNTRY_CODE:
		return "its country code is unknown"
	case phonenumbers.TOO_SHORT:
		return "it is too short for its country"
	case phonenumbers.TOO_LONG:
		return "it is too long for its country"
	default:
		return "it has an impossible length for its country"
	}
}

func describeParseError(err error) string {
	switch err {
	case phonenumbers.ErrInvalidCountryCode:
		return "its country code is unknown"
	case phonenumbers.ErrNotANumber:
		return "it is not a phone number"
	case phonenumbers.ErrTooShortNSN, phonenumbers.ErrTooShortAfterIDD:
		return "it is too short"
	case phonenumbers.ErrNumTooLong:
		return "it is too long"
	}
	return "it is not a phone number"
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// KnownRegion reports whether r is an ISO 3166 region code ("US", "fr") the
// phone-number metadata knows.
func KnownRegion(r string) bool {
	return phonenumbers.GetSupportedRegions()[strings.ToUpper(r)]
}
