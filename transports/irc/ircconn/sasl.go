package ircconn

import (
	"encoding/base64"

	"github.com/lrstanley/girc"
)

// saslChunk is the longest AUTHENTICATE payload (IRCv3 SASL 3.1).
const saslChunk = 400

// authenticate answers the server's "AUTHENTICATE +" with the credentials
// of the configured mechanism.
func (c *Conn) authenticate(e *girc.Event) {
	s := c.cfg.SASL
	if s == nil || len(e.Params) == 0 || e.Params[0] != "+" {
		return
	}
	var payload string
	switch s.Mech {
	case "PLAIN":
		// authzid (empty: the same as authcid) NUL authcid NUL password.
		payload = base64.StdEncoding.EncodeToString([]byte("\x00" + s.Account + "\x00" + s.Password))
	default: // EXTERNAL: the identity is the TLS client certificate
		payload = "+"
	}
	for _, chunk := range saslChunks(payload) {
		if err := c.Write(&girc.Event{Command: girc.AUTHENTICATE, Params: []string{chunk}, Sensitive: true}); err != nil {
			return
		}
	}
}

// saslChunks splits a payload into AUTHENTICATE arguments: 400-byte
// pieces, and a "+" after a last piece of exactly 400.
func saslChunks(payload string) []string {
	var out []string
	for len(payload) >= saslChunk {
		out = append(out, payload[:saslChunk])
		payload = payload[saslChunk:]
	}
	if payload == "" {
		payload = "+"
	}
	return append(out, payload)
}
