package main

import "testing"

func TestParsePhoneLine(t *testing.T) {
	tests := []struct {
		line, from, text string
		ok               bool
	}{
		{"sms +15550001111 hello there", "+15550001111", "hello there", true},
		{"sms   +15550001111   spaced  out ", "+15550001111", "spaced  out", true},
		{"sms +15550001111", "", "", false},
		{"sms 15550001111 no plus", "", "", false},
		{"text +15550001111 hi", "", "", false},
		{"", "", "", false},
	}
	for _, tc := range tests {
		from, text, ok := parsePhoneLine(tc.line)
		if from != tc.from || text != tc.text || ok != tc.ok {
			t.Errorf("parsePhoneLine(%q) = %q, %q, %v; want %q, %q, %v", tc.line, from, text, ok, tc.from, tc.text, tc.ok)
		}
	}
}
