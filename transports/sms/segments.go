package sms

import (
	"strings"
	"unicode/utf16"
)

// Encoding of an SMS body: GSM-7 when every character is in the GSM 03.38
// default alphabet or its extension table, UCS-2 otherwise.
type Encoding string

const (
	GSM7 Encoding = "GSM-7"
	UCS2 Encoding = "UCS-2"
)

// gsm7Basic is the GSM 03.38 default alphabet (one septet each).
const gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsm7Ext is the extension table (escape + one septet: two each).
const gsm7Ext = "\f^{}\\[~]|€"

// Segments is how many SMS segments body takes, and in which encoding:
// GSM-7 fits 160 septets in one segment and 153 per segment when
// concatenated; UCS-2 fits 70 UTF-16 units, 67 when concatenated. An
// extension character (€, [, ...) takes two septets and is never split across
// segments; neither is a UTF-16 surrogate pair. An empty body is 0 segments.
func Segments(body string) (n int, enc Encoding, units int) {
	if body == "" {
		return 0, GSM7, 0
	}
	septets := make([]int, 0, len(body))
	gsm := true
	for _, r := range body {
		switch {
		case strings.ContainsRune(gsm7Basic, r):
			septets = append(septets, 1)
		case strings.ContainsRune(gsm7Ext, r):
			septets = append(septets, 2)
		default:
			gsm = false
		}
		if !gsm {
			break
		}
	}
	if gsm {
		return pack(septets, 160, 153)
	}
	var us []int
	for _, r := range body {
		us = append(us, len(utf16.Encode([]rune{r})))
	}
	n, _, units = pack(us, 70, 67)
	return n, UCS2, units
}

// pack counts the segments of characters of the given widths: all in one
// when they fit single, else in segments of multi without splitting one.
func pack(widths []int, single, multi int) (int, Encoding, int) {
	total := 0
	for _, w := range widths {
		total += w
	}
	if total <= single {
		return 1, GSM7, total
	}
	n, used := 1, 0
	for _, w := range widths {
		if used+w > multi {
			n++
			used = 0
		}
		used += w
	}
	return n, GSM7, total
}
