package mapping

import (
	"errors"
	"strings"
	"testing"
)

func TestPhoneToLocal(t *testing.T) {
	tests := []struct {
		input, region, want string
	}{
		{"+15550001111", "", "+15550001111"},
		{"+1 (555) 000-1111", "", "+15550001111"},
		{"+1.555.000.1111", "FR", "+15550001111"},
		{"(555) 000-1111", "US", "+15550001111"},
		{"555-000-1111", "us", "+15550001111"},
		{"06 12 34 56 78", "FR", "+33612345678"},
		{"0612345678", "FR", "+33612345678"},
		{"+33 6 12 34 56 78", "US", "+33612345678"},
		{"0044 20 7946 0958", "FR", "+442079460958"},
		{"020 7946 0958", "GB", "+442079460958"},
		{"+39 06 6988 0000", "", "+390669880000"}, // Italian leading zero kept
		{"  +4930123456  ", "", "+4930123456"},
		// Short codes stay short codes.
		{"12345", "US", "12345"},
		{"12345", "", "12345"},
		{"898211", "US", "898211"},
	}
	for _, tt := range tests {
		got, err := PhoneToLocal(tt.input, tt.region)
		if err != nil || got != tt.want {
			t.Errorf("PhoneToLocal(%q, %q) = %q, %v; want %q", tt.input, tt.region, got, err, tt.want)
			continue
		}
		back, err := LocalToPhone(got)
		if err != nil || back != got {
			t.Errorf("LocalToPhone(%q) = %q, %v; want it unchanged", got, back, err)
		}
	}
}

func TestPhoneToLocalErrors(t *testing.T) {
	tests := []struct {
		input, region, want string
	}{
		{"", "US", `"" is not a phone number: it is empty (expected a number such as +15551234567)`},
		{"hello", "US", "hello is not a phone number: it is not a phone number"},
		{"0612345678", "", "0612345678 is not a phone number: it has no country code (expected the international form, e.g. +15551234567)"},
		{"+999 1234567", "", "+999 1234567 is not a phone number: its country code is unknown"},
		{"+1 555", "", "+1 555 is not a phone number: it is too short for its country"},
		{"+1 555 000 1111 2222", "", "+1 555 000 1111 2222 is not a phone number: it is too long for its country"},
		{"+1 555 000 1111 ext. 12", "", "+1 555 000 1111 ext. 12 is not a phone number: it has an extension, which text messages cannot reach"},
		{strings.Repeat("1", 80), "US", `1111111111111111111111111111111111111111111111111111111111111111111111111111111 is not a phone number: it is too long`},
	}
	for _, tt := range tests {
		got, err := PhoneToLocal(tt.input, tt.region)
		var ae *AddressError
		if err == nil || !errors.As(err, &ae) {
			t.Errorf("PhoneToLocal(%q, %q) = %q, %v; want an *AddressError", tt.input, tt.region, got, err)
			continue
		}
		if tt.input != strings.Repeat("1", 80) && err.Error() != tt.want {
			t.Errorf("PhoneToLocal(%q, %q) error:\n got %s\nwant %s", tt.input, tt.region, err, tt.want)
		}
	}
}

func TestLocalToPhoneErrors(t *testing.T) {
	tests := []struct{ local, want string }{
		{"", `"" is not a phone number: it is empty (expected an international number such as +15551234567)`},
		{"15550001111", "15550001111 is not a phone number: it has no country code (expected the international form, e.g. +15551234567; a short code has 3 to 8 digits)"},
		{"bob", "bob is not a phone number: expected the international form, e.g. +15551234567"},
		{"+1-555-000-1111", "+1-555-000-1111 is not a phone number: it may hold only '+' and digits (write it without spaces or punctuation, here +15550001111)"},
		{"+", "+ is not a phone number: an international number has 2 to 15 digits after the '+'"},
		{"+1234567890123456", "+1234567890123456 is not a phone number: an international number has 2 to 15 digits after the '+'"},
		{"+0123456789", "+0123456789 is not a phone number: a country code never starts with 0"},
		{"+9991234567", "+9991234567 is not a phone number: its country code is unknown"},
		{"+1555", "+1555 is not a phone number: it is too short for its country"},
		{"12", "12 is not a phone number: it has no country code (expected the international form, e.g. +15551234567; a short code has 3 to 8 digits)"},
	}
	for _, tt := range tests {
		got, err := LocalToPhone(tt.local)
		if err == nil {
			t.Errorf("LocalToPhone(%q) = %q; want an error", tt.local, got)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("LocalToPhone(%q) error:\n got %s\nwant %s", tt.local, err, tt.want)
		}
	}
}

func TestPhoneRegion(t *testing.T) {
	tests := []struct{ local, want string }{
		{"+15550001111", "US"}, // not assigned: the main region of +1
		{"+14165550123", "CA"},
		{"+33612345678", "FR"},
		{"+442079460958", "GB"},
		{"12345", ""},
		{"bob", ""},
	}
	for _, tt := range tests {
		if got := PhoneRegion(tt.local); got != tt.want {
			t.Errorf("PhoneRegion(%q) = %q, want %q", tt.local, got, tt.want)
		}
	}
}

// checkPhoneLocal: whatever LocalToPhone accepts comes back unchanged from
// both directions of the codec.
func checkPhoneLocal(t *testing.T, local string) {
	phone, err := LocalToPhone(local)
	if err != nil {
		var ae *AddressError
		if !errors.As(err, &ae) || ae.Input != local {
			t.Fatalf("LocalToPhone(%q): error %v is not an *AddressError about the input", local, err)
		}
		return
	}
	if phone != local {
		t.Fatalf("LocalToPhone(%q) = %q, want it unchanged", local, phone)
	}
	if IsShortCode(local) {
		return
	}
	back, err := PhoneToLocal(phone, "")
	if err != nil || back != local {
		t.Fatalf("PhoneToLocal(LocalToPhone(%q)) = %q, %v; want %q", local, back, err, local)
	}
}

func TestPhoneRoundTrip(t *testing.T) {
	for _, l := range []string{"+15550001111", "+33612345678", "+390669880000", "12345", "+4930123456", "+8613812345678"} {
		checkPhoneLocal(t, l)
	}
}

func FuzzLocalToPhone(f *testing.F) {
	for _, s := range []string{"+15550001111", "12345", "+390669880000", "+1-555", "+0", "", "+9991234567"} {
		f.Add(s)
	}
	f.Fuzz(checkPhoneLocal)
}

func FuzzPhoneToLocal(f *testing.F) {
	for _, s := range []string{"+1 (555) 000-1111", "0612345678", "12345", "+39 06 6988 0000", "tel:+1-555", "00 44 20"} {
		f.Add(s, "FR")
		f.Add(s, "US")
	}
	f.Fuzz(func(t *testing.T, input, region string) {
		local, err := PhoneToLocal(input, region)
		if err != nil {
			var ae *AddressError
			if !errors.As(err, &ae) {
				t.Fatalf("PhoneToLocal(%q, %q): %v is not an *AddressError", input, region, err)
			}
			return
		}
		// What PhoneToLocal returns is a valid localpart.
		if back, err := LocalToPhone(local); err != nil || back != local {
			t.Fatalf("PhoneToLocal(%q, %q) = %q, which LocalToPhone refuses: %v", input, region, local, err)
		}
	})
}
