package config

import (
	"strings"
	"testing"
)

// smsRequiredEnv completes an SMS section enabled by domain and secret alone
// (the generic section tests) with the keys the SMS transport requires.
var smsRequiredEnv = []string{
	"XGATE_TRANSPORTS__SMS__ACCOUNT_SID=AC0123456789abcdef0123456789abcdef",
	"XGATE_TRANSPORTS__SMS__AUTH_TOKEN=0123456789abcdef0123456789abcdef",
	"XGATE_TRANSPORTS__SMS__NUMBERS=+15550001000,+15550001001",
	"XGATE_TRANSPORTS__SMS__PUBLIC_URL=https://gw.example.org",
}

const smsYAML = `xmpp: {domain: example.org}
transports:
  sms:
    domain: sms.example.org
    secret: s
    account_sid: AC0123456789abcdef0123456789abcdef
    auth_token: 0123456789abcdef0123456789abcdef
    numbers: ["+15550001000"]
    public_url: https://gw.example.org
`

func TestSMSValid(t *testing.T) {
	c, err := loadYAML(t, smsYAML+"    assign: {\"+15550001002\": Alice@Example.org}\n    allowed_countries: [US, ca]\n    default_region: us\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Transports.SMS
	if s.Rate != 1 || s.MaxSegments != 10 || s.Timeout.Seconds() != 10 || s.MediaTTL.Hours() != 168 {
		t.Errorf("defaults: rate %v max_segments %d timeout %s media_ttl %s", s.Rate, s.MaxSegments, s.Timeout, s.MediaTTL)
	}
	if s.Assign["+15550001002"] != "alice@example.org" {
		t.Errorf("assign not normalised: %v", s.Assign)
	}
	if len(s.Numbers) != 1 || s.Numbers[0] != "+15550001000" {
		t.Errorf("numbers = %v", s.Numbers)
	}
}

func TestSMSInvalid(t *testing.T) {
	tests := []struct {
		name, extra string
		env         []string
		want        []string
	}{
		{"bad sids", "    api_key_sid: SKnope\n    messaging_service_sid: AC0123456789abcdef0123456789abcdef\n", nil, []string{
			`transports.sms.api_key_sid: "SKnope" is not a Twilio API key SID`,
			"transports.sms.api_key_secret: missing while api_key_sid is set",
			`transports.sms.messaging_service_sid: "AC0123456789abcdef0123456789abcdef" is not a Twilio messaging service SID (expected MG`,
		}},
		{"bad numbers", "    assign: {\"15550001\": bob}\n", []string{"XGATE_TRANSPORTS__SMS__NUMBERS=+1-555-000-1000,12345"}, []string{
			"transports.sms.numbers[0]: +1-555-000-1000 is not a phone number: it may hold only '+' and digits",
			`transports.sms.numbers[1]: "12345" is a short code`,
			`transports.sms.assign.15550001: "15550001" is a short code`,
			`transports.sms.assign.15550001: "bob" is a domain, not a JID`,
		}},
		{"bad limits", "    rate: 0\n    max_segments: 0\n    daily_cap: -1\n    default_region: XX\n    allowed_countries: [US, Narnia]\n", nil, []string{
			"transports.sms.rate: 0 is not a rate",
			"transports.sms.max_segments: 0 is out of range",
			"transports.sms.daily_cap: -1 is negative",
			`transports.sms.default_region: "XX" is not a region`,
			`transports.sms.allowed_countries[1]: "Narnia" is not a region`,
		}},
		{"urls", "", []string{"XGATE_TRANSPORTS__SMS__PUBLIC_URL=ftp://x", "XGATE_TRANSPORTS__SMS__API_URL=nope"}, []string{
			"transports.sms.public_url: \"ftp://x\" is not an absolute http(s) URL",
			"transports.sms.api_url: \"nope\" is not an absolute http(s) URL",
		}},
		{"token with symbols", "", []string{"XGATE_TRANSPORTS__SMS__AUTH_TOKEN=abc-def"}, []string{
			"transports.sms.auth_token: <hidden> has characters other than letters and digits",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadYAML(t, smsYAML+tt.extra, tt.env)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%s", w, err)
				}
			}
			if strings.Contains(err.Error(), "abc-def") {
				t.Errorf("error shows the token: %s", err)
			}
		})
	}
}

func TestSMSMissing(t *testing.T) {
	_, err := loadYAML(t, "xmpp: {domain: example.org}\ntransports:\n  sms: {domain: sms.example.org, secret: s}\n", nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"transports.sms.account_sid: missing", "transports.sms.auth_token: missing",
		"transports.sms.numbers: missing", "transports.sms.public_url: missing, and so is http.public_url"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%s", w, err)
		}
	}
}
