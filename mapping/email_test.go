package mapping

import (
	"errors"
	"net/mail"
	"strings"
	"testing"
)

var emailCases = []struct {
	addr  string // what the user or a mail header gives
	local string // the JID localpart
	back  string // LocalToEmail(local)
}{
	{"bob@example.com", `bob\40example.com`, "bob@example.com"},
	{"Bob@Example.COM", `Bob\40example.com`, "Bob@example.com"},
	{"<bob@example.com>", `bob\40example.com`, "bob@example.com"},
	{"  bob@example.com ", `bob\40example.com`, "bob@example.com"},
	{"first.last+tag@mail.example.org", `first.last+tag\40mail.example.org`, "first.last+tag@mail.example.org"},
	{"here's_a_wild_&_/cr%zy/_address@example.com", `here\27s_a_wild_\26_\2fcr%zy\2f_address\40example.com`,
		"here's_a_wild_&_/cr%zy/_address@example.com"},
	{"o'hara@example.ie", `o\27hara\40example.ie`, "o'hara@example.ie"},
	{"bob@localhost", `bob\40localhost`, "bob@localhost"},
	// Quoted local parts come back quoted.
	{`"a,b"@example.com`, `a,b\40example.com`, `"a,b"@example.com`},
	{`"a\\b"@example.com`, `a\b\40example.com`, `"a\\b"@example.com`},
	{`"a\\40b"@example.com`, `a\5c40b\40example.com`, `"a\\40b"@example.com`},
	// RFC 6532 addresses.
	{"josé@exämple.org", `josé\40exämple.org`, "josé@exämple.org"},
}

func TestEmailToLocal(t *testing.T) {
	for _, tt := range emailCases {
		local, err := EmailToLocal(tt.addr)
		if err != nil || local != tt.local {
			t.Errorf("EmailToLocal(%q) = %q, %v; want %q", tt.addr, local, err, tt.local)
			continue
		}
		back, err := LocalToEmail(local)
		if err != nil || back != tt.back {
			t.Errorf("LocalToEmail(%q) = %q, %v; want %q", local, back, err, tt.back)
		}
	}
}

func TestEmailErrors(t *testing.T) {
	tests := []struct {
		addr string
		want string // the whole error text
	}{
		{"bob@@x", "bob@@x is not an email address: it has 2 @ signs (expected exactly one)"},
		{"bob", "bob is not an email address: it has no @ (expected e.g. bob@example.org)"},
		{"bob@", "bob@ is not an email address: nothing comes after the @"},
		{"@example.org", "@example.org is not an email address: nothing comes before the @"},
		{"", `"" is not an email address: it is empty`},
		{"bob smith@example.org", "bob smith@example.org is not an email address: it contains a space"},
		{`"bob smith"@example.org`, `"bob smith"@example.org is not an email address: it contains a space`},
		{"Bob <bob@example.org>", "Bob <bob@example.org> is not an email address: it has a display name (expected only the address, e.g. bob@example.org)"},
		{"bob@example..org", "bob@example..org is not an email address: the domain example..org has an empty label"},
		{"bob@exa_mple.org", "bob@exa_mple.org is not an email address: the domain exa_mple.org contains '_'"},
		{"bob@-x.org", "bob@-x.org is not an email address: the domain -x.org has a label that starts or ends with a hyphen"},
		{"bob@[192.0.2.1]", "bob@[192.0.2.1] is not an email address: the domain [192.0.2.1] is an address literal, which is not supported"},
		{`"a@b"@example.org`, `"a@b"@example.org is not an email address: it has 2 @ signs (expected exactly one)`},
		{"a@example.org, b@example.org", "a@example.org, b@example.org is not an email address: it has 2 @ signs (expected exactly one)"},
		{"bob.@example.org", "bob.@example.org is not an email address: it is not of the form name@domain (e.g. bob@example.org)"},
		{"bob@example.org\r\nBcc: x@y.org", `"bob@example.org\r\nBcc: x@y.org" is not an email address: it has 2 @ signs (expected exactly one)`},
		{"b\tob@example.org", `"b\tob@example.org" is not an email address: it contains the character '\t'`},
		{strings.Repeat("a", 250) + "@x.org", strings.Repeat("a", 250) + "@x.org is not an email address: it is longer than 254 characters"},
	}
	for _, tt := range tests {
		local, err := EmailToLocal(tt.addr)
		var ae *AddressError
		if !errors.As(err, &ae) {
			t.Errorf("EmailToLocal(%q) = %q, %v; want an *AddressError", tt.addr, local, err)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("EmailToLocal(%q) error\n got  %s\n want %s", tt.addr, err, tt.want)
		}
	}
}

func TestLocalToEmailErrors(t *testing.T) {
	tests := []struct {
		local string
		want  string
	}{
		{`bob\40\40x`, "bob@@x is not an email address: it has 2 @ signs (expected exactly one)"},
		{"bob", "bob is not an email address: it has no @ (expected e.g. bob@example.org)"},
		{`bob\40`, "bob@ is not an email address: nothing comes after the @"},
		{`\40example.org`, "@example.org is not an email address: nothing comes before the @"},
		{`bob\20smith\40example.org`, "bob smith@example.org is not an email address: it contains a space"},
		{`bob\40exa_mple.org`, "bob@exa_mple.org is not an email address: the domain exa_mple.org contains '_'"},
		{`\20bob\40example.org`, `\20bob\40example.org is not an email address: it begins or ends with an escaped space (\20)`},
		{"bob@example.org", `bob@example.org is not an email address: it contains '@', which must be written \40`},
		{"", `"" is not an email address: it is empty`},
	}
	for _, tt := range tests {
		addr, err := LocalToEmail(tt.local)
		var ae *AddressError
		if !errors.As(err, &ae) {
			t.Errorf("LocalToEmail(%q) = %q, %v; want an *AddressError", tt.local, addr, err)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("LocalToEmail(%q) error\n got  %s\n want %s", tt.local, err, tt.want)
		}
	}
}

// checkEmailFromAddress: whatever EmailToLocal accepts, LocalToEmail turns
// back into an address that maps to the same localpart and that net/mail reads
// as the same mailbox, domain lower-cased.
func checkEmailFromAddress(t *testing.T, addr string) {
	t.Helper()
	local, err := EmailToLocal(addr)
	if err != nil {
		return
	}
	back, err := LocalToEmail(local)
	if err != nil {
		t.Fatalf("EmailToLocal(%q) = %q, which LocalToEmail refuses: %v", addr, local, err)
	}
	again, err := EmailToLocal(back)
	if err != nil || again != local {
		t.Fatalf("EmailToLocal(%q) = %q; LocalToEmail = %q; EmailToLocal again = %q, %v", addr, local, back, again, err)
	}
	orig, _ := mail.ParseAddress(addr)
	got, err := mail.ParseAddress(back)
	if err != nil {
		t.Fatalf("net/mail cannot read %q back: %v", back, err)
	}
	at := strings.LastIndexByte(orig.Address, '@')
	if want := orig.Address[:at] + strings.ToLower(orig.Address[at:]); got.Address != want {
		t.Fatalf("round trip of %q gives mailbox %q, want %q", addr, got.Address, want)
	}
}

// checkEmailFromLocal: whatever LocalToEmail accepts, EmailToLocal accepts
// back, and the pair is then stable.
func checkEmailFromLocal(t *testing.T, local string) {
	t.Helper()
	addr, err := LocalToEmail(local)
	if err != nil {
		return
	}
	l2, err := EmailToLocal(addr)
	if err != nil {
		t.Fatalf("LocalToEmail(%q) = %q, which EmailToLocal refuses: %v", local, addr, err)
	}
	addr2, err := LocalToEmail(l2)
	if err != nil || addr2 != addr {
		t.Fatalf("LocalToEmail(%q) = %q; EmailToLocal = %q; LocalToEmail again = %q, %v", local, addr, l2, addr2, err)
	}
}

func TestEmailRoundTrip(t *testing.T) {
	for _, tt := range emailCases {
		checkEmailFromAddress(t, tt.addr)
		checkEmailFromLocal(t, tt.local)
	}
}

func FuzzEmailToLocal(f *testing.F) {
	for _, tt := range emailCases {
		f.Add(tt.addr)
	}
	f.Add("bob@@x")
	f.Add(`"a b"@x.org`)
	f.Fuzz(checkEmailFromAddress)
}

func FuzzLocalToEmail(f *testing.F) {
	for _, tt := range emailCases {
		f.Add(tt.local)
	}
	f.Add(`a\5c40b\40x.org`)
	f.Fuzz(checkEmailFromLocal)
}
