package mapping

import "testing"

func TestParseIRCFixed(t *testing.T) {
	tests := []struct {
		local, res, fixed string
		want              IRCAddress
		wantErr           bool
	}{
		{"#chan", "alice", "irc.fixed.net", IRCAddress{Kind: IRCChannel, Name: "#chan", Nick: "alice"}, false},
		{"bob", "", "irc.fixed.net", IRCAddress{Kind: IRCNick, Name: "bob"}, false},
		{"IRC.Fixed.Net", "", "irc.fixed.net", IRCAddress{Kind: IRCServer}, false},
		{"irc.other.net", "", "irc.fixed.net", IRCAddress{Kind: IRCServer, Server: "irc.other.net"}, false},
		{"#chan%irc.fixed.net", "", "irc.fixed.net", IRCAddress{Kind: IRCChannel, Name: "#chan", Server: "irc.fixed.net"}, false},
		{"bob%irc.other.net", "", "irc.fixed.net", IRCAddress{Kind: IRCNick, Name: "bob", Server: "irc.other.net"}, false},
		{"#a\\3ab", "", "irc.fixed.net", IRCAddress{}, true}, // ':' in a channel
		{"#chan", "bad nick", "irc.fixed.net", IRCAddress{}, true},
		{"b*b", "", "irc.fixed.net", IRCAddress{}, true},
		{"#chan", "", "", IRCAddress{}, true}, // no fixed network: ParseIRC
	}
	for _, tt := range tests {
		got, err := ParseIRCFixed(tt.local, tt.res, "", tt.fixed)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseIRCFixed(%q, %q, %q) = %+v, %v", tt.local, tt.res, tt.fixed, got, err)
		}
	}
}

// FuzzParseIRCFixed: whatever it accepts renders back to the same address.
func FuzzParseIRCFixed(f *testing.F) {
	for _, s := range []string{"#chan", "bob", "irc.fixed.net", "#c%h.net", "x\\20y"} {
		f.Add(s, "nick")
	}
	f.Fuzz(func(t *testing.T, local, res string) {
		a, err := ParseIRCFixed(local, res, "", "irc.fixed.net")
		if err != nil || a.Kind == IRCServer && a.Server == "" {
			return
		}
		b, err := ParseIRCFixed(a.Local(), a.Nick, "", "irc.fixed.net")
		if err != nil || b != a {
			t.Fatalf("%q/%q → %+v → %q → %+v, %v", local, res, a, a.Local(), b, err)
		}
	})
}
