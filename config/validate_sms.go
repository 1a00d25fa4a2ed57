package config

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"xgate/mapping"
)

// setDefaults fills transports.sms before the configured keys apply.
func (s *SMS) setDefaults() {
	s.Rate = 1
	s.MaxSegments = 10
	s.Timeout = 10 * time.Second
	s.MediaTTL = 7 * 24 * time.Hour
}

// twilioSID matches a Twilio resource id: two letters and 32 hex digits.
var twilioSID = regexp.MustCompile(`^[A-Z]{2}[0-9a-fA-F]{32}$`)

// alnum matches what twilio-go accepts as API credentials.
var alnum = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// validateSMS checks transports.sms (the Component part is checked with the
// other transports).
func (c *Config) validateSMS(ps *problems) {
	s := c.Transports.SMS
	if s == nil {
		return
	}
	const base = "transports.sms."
	sid := func(key, v, prefix, what string, required bool) {
		switch {
		case v == "" && required:
			ps.add(base+key, "missing (expected %s, %s followed by 32 hex digits, from the Twilio console)", what, prefix)
		case v != "" && (!twilioSID.MatchString(v) || !strings.HasPrefix(v, prefix)):
			ps.add(base+key, "%q is not %s (expected %s followed by 32 hex digits)", v, what, prefix)
		}
	}
	sid("account_sid", s.AccountSID, "AC", "a Twilio account SID", true)
	switch {
	case s.AuthToken == "":
		ps.add(base+"auth_token", "missing (expected the account's auth token, or auth_token_file; Twilio signs webhooks with it)")
	case !alnum.MatchString(s.AuthToken):
		ps.add(base+"auth_token", "%s has characters other than letters and digits (expected the token as the Twilio console shows it)", hidden)
	}
	sid("api_key_sid", s.APIKeySID, "SK", "a Twilio API key SID", false)
	switch {
	case s.APIKeySID != "" && s.APIKeySecret == "":
		ps.add(base+"api_key_secret", "missing while api_key_sid is set (expected the API key's secret, or api_key_secret_file)")
	case s.APIKeySID == "" && s.APIKeySecret != "":
		ps.add(base+"api_key_sid", "missing while api_key_secret is set (expected the API key's SID, SK...)")
	case s.APIKeySecret != "" && !alnum.MatchString(s.APIKeySecret):
		ps.add(base+"api_key_secret", "%s has characters other than letters and digits", hidden)
	}
	sid("messaging_service_sid", s.MessagingServiceSID, "MG", "a Twilio messaging service SID", false)

	seen := map[string]string{}
	number := func(key, v string) {
		local, err := mapping.LocalToPhone(v)
		switch {
		case err != nil:
			ps.add(key, "%v (expected an E.164 number such as +15551234567)", err)
		case mapping.IsShortCode(local):
			ps.add(key, "%q is a short code (expected one of your Twilio numbers in E.164, e.g. +15551234567)", v)
		case seen[v] != "":
			ps.add(key, "%q is already listed as %s", v, seen[v])
		default:
			seen[v] = key
		}
	}
	for i, n := range s.Numbers {
		number(base+"numbers["+strconv.Itoa(i)+"]", n)
	}
	for n, user := range s.Assign {
		key := base + "assign." + n
		number(key, n)
		if j, reason := parseBare(user, true); reason != "" {
			ps.add(key, "%q %s (expected the bare JID of the user who owns the number)", user, reason)
		} else {
			s.Assign[n] = j
		}
	}
	if len(s.Numbers) == 0 && len(s.Assign) == 0 {
		ps.add(base+"numbers", "missing (expected at least one of your Twilio numbers in numbers or assign, e.g. [\"+15551234567\"])")
	}
	if s.DefaultRegion != "" && !mapping.KnownRegion(s.DefaultRegion) {
		ps.add(base+"default_region", "%q is not a region (expected an ISO 3166 code such as US, GB or FR)", s.DefaultRegion)
	}
	for i, r := range s.AllowedCountries {
		if !mapping.KnownRegion(r) {
			ps.add(base+"allowed_countries["+strconv.Itoa(i)+"]", "%q is not a region (expected an ISO 3166 code such as US, GB or FR)", r)
		}
	}
	if s.Rate <= 0 {
		ps.add(base+"rate", "%v is not a rate (expected segments per second greater than 0, e.g. 1 for a long code)", s.Rate)
	}
	if s.MaxSegments < 1 || s.MaxSegments > 100 {
		ps.add(base+"max_segments", "%d is out of range (expected 1 to 100; Twilio accepts at most 1600 characters)", s.MaxSegments)
	}
	if s.DailyCap < 0 {
		ps.add(base+"daily_cap", "%d is negative (expected 0 for no cap, or messages per user per day)", s.DailyCap)
	}
	switch {
	case s.PublicURL != "":
		httpURL(ps, base+"public_url", s.PublicURL, "https://gw.example.org")
	case c.HTTP.PublicURL == "":
		ps.add(base+"public_url", "missing, and so is http.public_url (expected the base URL Twilio uses to reach http.listen, e.g. https://gw.example.org; it is needed to check Twilio's signatures)")
	}
	if s.APIURL != "" {
		httpURL(ps, base+"api_url", s.APIURL, "http://127.0.0.1:8999")
	}
	positive(ps, base+"timeout", s.Timeout)
	positive(ps, base+"media_ttl", s.MediaTTL)
}
