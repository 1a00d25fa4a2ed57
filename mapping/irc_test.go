package mapping

import (
	"errors"
	"strings"
	"testing"
)

var ircCases = []struct {
	local, resource, chantypes string
	want                       IRCAddress
}{
	{"#go-nuts%irc.libera.chat", "", "", IRCAddress{Kind: IRCChannel, Name: "#go-nuts", Server: "irc.libera.chat"}},
	{"#go-nuts%irc.libera.chat", "alice", "", IRCAddress{Kind: IRCChannel, Name: "#go-nuts", Server: "irc.libera.chat", Nick: "alice"}},
	{`\26local%irc.example.org`, "", "", IRCAddress{Kind: IRCChannel, Name: "&local", Server: "irc.example.org"}},
	{"alice%irc.libera.chat", "", "", IRCAddress{Kind: IRCNick, Name: "alice", Server: "irc.libera.chat"}},
	{"alice%irc.libera.chat", "ignored", "", IRCAddress{Kind: IRCNick, Name: "alice", Server: "irc.libera.chat"}},
	{"irc.libera.chat", "", "", IRCAddress{Kind: IRCServer, Server: "irc.libera.chat"}},
	{"localhost", "", "", IRCAddress{Kind: IRCServer, Server: "localhost"}},
	{"127.0.0.1", "", "", IRCAddress{Kind: IRCServer, Server: "127.0.0.1"}},
	{`\3a\3a1`, "", "", IRCAddress{Kind: IRCServer, Server: "::1"}},
	{`bob%\3a\3a1`, "", "", IRCAddress{Kind: IRCNick, Name: "bob", Server: "::1"}},
	// XEP-0106 escapes characters a localpart cannot hold.
	{`#b\40byfoot%irc.example.org`, "", "", IRCAddress{Kind: IRCChannel, Name: "#b@byfoot", Server: "irc.example.org"}},
	{`#it\27s%irc.example.org`, "", "", IRCAddress{Kind: IRCChannel, Name: "#it's", Server: "irc.example.org"}},
	{`#a\2fb%irc.example.org`, "", "", IRCAddress{Kind: IRCChannel, Name: "#a/b", Server: "irc.example.org"}},
	{`nick\5c%irc.example.org`, "", "", IRCAddress{Kind: IRCNick, Name: `nick\`, Server: "irc.example.org"}},
	{`[m]%irc.example.org`, "", "", IRCAddress{Kind: IRCNick, Name: "[m]", Server: "irc.example.org"}},
	// The last % separates the server: host names never contain one.
	{"#100%%irc.example.org", "", "", IRCAddress{Kind: IRCChannel, Name: "#100%", Server: "irc.example.org"}},
	// Occupant nicks are resources: not escaped, any case.
	{"#chan%irc.example.org", "Some[Nick]", "", IRCAddress{Kind: IRCChannel, Name: "#chan", Server: "irc.example.org", Nick: "Some[Nick]"}},
	// chantypes decide channel versus nick.
	{"+modeless%irc.example.org", "", "#&+!", IRCAddress{Kind: IRCChannel, Name: "+modeless", Server: "irc.example.org"}},
	{"+modeless%irc.example.org", "", "", IRCAddress{Kind: IRCNick, Name: "+modeless", Server: "irc.example.org"}},
	{`\26notachannel%irc.example.org`, "", "#", IRCAddress{Kind: IRCNick, Name: "&notachannel", Server: "irc.example.org"}},
	// \2c is not an escape sequence: the name keeps its backslash.
	{`#a\2cb%irc.example.org`, "", "", IRCAddress{Kind: IRCChannel, Name: `#a\2cb`, Server: "irc.example.org"}},
}

func TestParseIRC(t *testing.T) {
	for _, tt := range ircCases {
		got, err := ParseIRC(tt.local, tt.resource, tt.chantypes)
		if err != nil || got != tt.want {
			t.Errorf("ParseIRC(%q, %q, %q) = %+v, %v; want %+v", tt.local, tt.resource, tt.chantypes, got, err, tt.want)
		}
	}
}

func TestIRCLocal(t *testing.T) {
	tests := []struct {
		a    IRCAddress
		want string
	}{
		{IRCAddress{Kind: IRCChannel, Name: "#go-nuts", Server: "irc.libera.chat"}, "#go-nuts%irc.libera.chat"},
		{IRCAddress{Kind: IRCChannel, Name: "#b@byfoot", Server: "irc.example.org", Nick: "x"}, `#b\40byfoot%irc.example.org`},
		{IRCAddress{Kind: IRCNick, Name: "alice", Server: "irc.libera.chat"}, "alice%irc.libera.chat"},
		{IRCAddress{Kind: IRCServer, Server: "irc.libera.chat"}, "irc.libera.chat"},
		{IRCAddress{Kind: IRCServer, Server: "::1"}, `\3a\3a1`},
	}
	for _, tt := range tests {
		if got := tt.a.Local(); got != tt.want {
			t.Errorf("%+v.Local() = %q, want %q", tt.a, got, tt.want)
		}
	}
}

func TestParseIRCErrors(t *testing.T) {
	tests := []struct {
		local, resource string
		want            string
	}{
		{"", "", `"" is not an IRC address: it is empty (expected #channel%irc.example.org, nick%irc.example.org or irc.example.org)`},
		{"#chan", "", "#chan is not an IRC address: it names no server (expected #chan%irc.example.org)"},
		{"#chan%", "", "#chan% is not an IRC address: nothing comes after the % (expected the IRC server, e.g. #chan%irc.example.org)"},
		{"%irc.example.org", "", "%irc.example.org is not an IRC address: nothing comes before the % (expected a #channel or a nick)"},
		{"alice%irc_example.org", "", "alice%irc_example.org is not an IRC address: the server irc_example.org contains '_' (expected a host name such as irc.libera.chat)"},
		{"irc..example.org", "", "irc..example.org is not an IRC address: the server irc..example.org has an empty label (expected a host name such as irc.libera.chat)"},
		{`#a,b%irc.example.org`, "", "#a,b%irc.example.org is not an IRC address: the channel name #a,b contains ','"},
		{`#a\3ab%irc.example.org`, "", "#a:b%irc.example.org is not an IRC address: the channel name #a:b contains ':'"},
		{`#a\20b%irc.example.org`, "", "#a b%irc.example.org is not an IRC address: the channel name #a b contains a space"},
		{`ali\40ce%irc.example.org`, "", "ali@ce%irc.example.org is not an IRC address: the nick ali@ce contains '@'"},
		{`ali!ce%irc.example.org`, "", "ali!ce%irc.example.org is not an IRC address: the nick ali!ce contains '!'"},
		{`\3aalice%irc.example.org`, "", ":alice%irc.example.org is not an IRC address: the nick :alice starts with ':'"},
		{"#chan%irc.example.org", "bad nick", "bad nick is not an IRC nick: the nick bad nick contains a space"},
		{"#chan%irc.example.org", "#nick", "#nick is not an IRC nick: the nick #nick starts with a channel prefix"},
		{"a b%irc.example.org", "", `a b%irc.example.org is not an IRC address: it contains a space, which must be written \20`},
		{`\20x%irc.example.org`, "", `\20x%irc.example.org is not an IRC address: it begins or ends with an escaped space (\20)`},
		{"fe80::1%eth0", "", `fe80::1%eth0 is not an IRC address: it contains ':', which must be written \3a`},
	}
	for _, tt := range tests {
		got, err := ParseIRC(tt.local, tt.resource, "")
		var ae *AddressError
		if !errors.As(err, &ae) {
			t.Errorf("ParseIRC(%q, %q) = %+v, %v; want an *AddressError", tt.local, tt.resource, got, err)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("ParseIRC(%q, %q) error\n got  %s\n want %s", tt.local, tt.resource, err, tt.want)
		}
	}
}

// checkIRCRoundTrip: whatever ParseIRC accepts, its Local (with the same
// resource and chantypes) parses to the same address, and Local is stable.
func checkIRCRoundTrip(t *testing.T, local, resource, chantypes string) {
	t.Helper()
	a, err := ParseIRC(local, resource, chantypes)
	if err != nil {
		return
	}
	if a.Kind != IRCServer && a.Kind != IRCChannel && a.Kind != IRCNick {
		t.Fatalf("ParseIRC(%q) kind %v", local, a.Kind)
	}
	l := a.Local()
	if strings.ContainsAny(l, ` "&'/:<>@`) {
		t.Fatalf("Local() = %q holds a character a localpart cannot", l)
	}
	b, err := ParseIRC(l, a.Nick, chantypes)
	if err != nil || b != a {
		t.Fatalf("ParseIRC(%q) = %+v; Local %q parses to %+v, %v", local, a, l, b, err)
	}
	if l2 := b.Local(); l2 != l {
		t.Fatalf("Local not stable: %q then %q", l, l2)
	}
}

func TestIRCRoundTrip(t *testing.T) {
	for _, tt := range ircCases {
		checkIRCRoundTrip(t, tt.local, tt.resource, tt.chantypes)
		a := tt.want
		if got, err := ParseIRC(a.Local(), a.Nick, tt.chantypes); err != nil || got != a {
			t.Errorf("ParseIRC(%+v.Local()) = %+v, %v", a, got, err)
		}
	}
}

func FuzzParseIRC(f *testing.F) {
	for _, tt := range ircCases {
		f.Add(tt.local, tt.resource, tt.chantypes)
	}
	f.Add("#a%b%c", "", "#")
	f.Add(`\5c40%x`, "n", "")
	f.Fuzz(checkIRCRoundTrip)
}

func TestIRCKindString(t *testing.T) {
	for k, want := range map[IRCKind]string{IRCServer: "server", IRCChannel: "channel", IRCNick: "nick", 0: "IRCKind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(k), got, want)
		}
	}
}
