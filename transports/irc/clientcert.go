package irc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"xgate/transports/irc/ircconn"
)

// Client certificates (CertFP, SASL EXTERNAL). xgate makes one per user
// and network on request ("Configure an IRC network"), self-signed: IRC
// networks trust a certificate by its fingerprint, which the user adds to
// their account (NickServ CERT ADD). The certificate and its key are kept
// sealed in the user's settings, like a password.

// clientCertValidity is how long a generated certificate is valid: IRC
// services check fingerprints, not dates, so it is long.
const clientCertValidity = 10 * 365 * 24 * time.Hour

// newClientCertPEM makes a self-signed ECDSA P-256 certificate named cn and
// returns it with its key, PEM-encoded.
func newClientCertPEM(cn string) (string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", fmt.Errorf("irc: client certificate: key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return "", fmt.Errorf("irc: client certificate: serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(clientCertValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", fmt.Errorf("irc: client certificate: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("irc: client certificate: key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})), nil
}

// parseClientCert reads a certificate and key newClientCertPEM made.
func parseClientCert(pemText string) (tls.Certificate, error) {
	c, err := tls.X509KeyPair([]byte(pemText), []byte(pemText))
	if err != nil {
		return tls.Certificate{}, errors.New("irc: client certificate: not a certificate and key")
	}
	return c, nil
}

// certFingerprint is the SHA-256 of the certificate in lower-case hex, as
// IRC servers (InspIRCd, UnrealIRCd, Solanum) show CertFP and services take
// it (CERT ADD).
func certFingerprint(c tls.Certificate) string {
	if len(c.Certificate) == 0 {
		return ""
	}
	sum := sha256.Sum256(c.Certificate[0])
	return hex.EncodeToString(sum[:])
}

// clientCert is the user's certificate for this network, if they have one.
func (s *session) clientCert() (tls.Certificate, bool) {
	p := s.u.t.netSettingsFor(s.u.jid, s.saslKey()).clientCert
	if p == "" {
		return tls.Certificate{}, false
	}
	c, err := parseClientCert(p)
	if err != nil {
		s.u.t.log.Warn("irc: a stored client certificate does not parse; connecting without it", "user", s.u.jid, "network", s.displayHost())
		return tls.Certificate{}, false
	}
	return c, true
}

// saslExternal reports whether the user chose SASL EXTERNAL for this network.
func (s *session) saslExternal() bool {
	return s.u.t.netSettingsFor(s.u.jid, s.saslKey()).saslMechanism == "EXTERNAL"
}

// wantsSASL reports whether the user set up a SASL login for this network.
func (s *session) wantsSASL() bool {
	if s.saslExternal() {
		return true
	}
	_, pass := s.saslCreds()
	return pass != ""
}

// sasl is the SASL mechanism to log in with (nil: none), and the client
// certificate to present on a TLS connection.
func (s *session) sasl(tlsOn bool) (*ircconn.SASL, *tls.Certificate) {
	var cert *tls.Certificate
	if c, ok := s.clientCert(); ok && tlsOn {
		cert = &c
	}
	if s.saslExternal() {
		if cert == nil {
			return nil, nil // refused at 001 (saslUnavailable) with the reason
		}
		return &ircconn.SASL{Mech: "EXTERNAL"}, cert
	}
	if acct, pass := s.saslCreds(); pass != "" {
		return &ircconn.SASL{Mech: "PLAIN", Account: acct, Password: pass}, cert
	}
	return nil, cert
}
