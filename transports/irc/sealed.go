package irc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// sealer encrypts the SASL passwords kept in registration settings with
// AES-256-GCM (Config.SecretsKey). A sealed value is "v1:" and the base64 of
// nonce and ciphertext; the additional data binds it to the user and the
// settings key, so a value copied to another user or network does not open.
type sealer struct{ aead cipher.AEAD }

// sealedPrefix versions the format of sealed values.
const sealedPrefix = "v1:"

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("irc: config: secrets key is %d bytes (expected 32)", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("irc: config: secrets key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("irc: config: secrets key: %w", err)
	}
	return &sealer{aead: aead}, nil
}

// seal encrypts plain for user's settings key.
func (s *sealer) seal(user, key, plain string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("irc: seal: nonce: %w", err)
	}
	out := s.aead.Seal(nonce, nonce, []byte(plain), sealAD(user, key))
	return sealedPrefix + base64.StdEncoding.EncodeToString(out), nil
}

// open decrypts a value seal made for user's settings key.
func (s *sealer) open(user, key, sealed string) (string, error) {
	if len(sealed) < len(sealedPrefix) || sealed[:len(sealedPrefix)] != sealedPrefix {
		return "", errors.New("irc: open: unknown format")
	}
	raw, err := base64.StdEncoding.DecodeString(sealed[len(sealedPrefix):])
	if err != nil || len(raw) < s.aead.NonceSize() {
		return "", errors.New("irc: open: malformed value")
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], sealAD(user, key))
	if err != nil {
		return "", errors.New("irc: open: wrong secrets key or altered value")
	}
	return string(plain), nil
}

func sealAD(user, key string) []byte { return []byte("xgate irc\x00" + user + "\x00" + key) }
