package harness

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
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// StartInspIRCdTLS is StartInspIRCd plus a TLS client listener on
// 127.0.0.1:TLSPort (ssl_gnutls; a server certificate for IP 127.0.0.1
// signed by a CA generated for the test, whose PEM is CAFile) that requests
// client certificates; sslinfo passes the certificate's SHA-256 fingerprint
// to Atheme, which has nickserv/cert and saslserv/external loaded: an
// account whose fingerprint was added (AddCertFP) logs in with SASL
// EXTERNAL. Client certificates need not be signed by any known CA
// (self-signed is the usual CertFP case), but the server's
// CertificateRequest names the test CA as acceptable (cafile), so a Go
// client must present its certificate with tls.Config.GetClientCertificate:
// with tls.Config.Certificates, crypto/tls sends none for a certificate not
// issued by a listed CA. The plaintext listener (Addr) stays as in
// StartInspIRCd.
func StartInspIRCdTLS(t T) *SASLServer {
	t.Helper()
	s := startInspIRCd(t, func(s *SASLServer) inspircdExtras {
		s.TLSPort = FreePort(t)
		for s.TLSPort == s.Port {
			s.TLSPort = FreePort(t)
		}
		s.TLSAddr = Addr(s.TLSPort)
		certFile, keyFile, caFile := writeTestPKI(t, s.Dir)
		s.CAFile = caFile
		return inspircdExtras{
			ircdConf:   inspircdTLSConfig(s.TLSPort, certFile, keyFile, caFile),
			athemeConf: athemeCertFPConfig,
			waitAddrs:  []string{s.TLSAddr},
		}
	})
	if s == nil {
		return nil
	}
	// InspIRCd 3.15 (Debian) with ssl_gnutls loaded segfaults when it exits
	// on SIGTERM, even with no client ever connected, and dumps core. It
	// keeps no state: once Atheme has quit cleanly, kill it. This cleanup
	// runs before StartInspIRCd's (last in, first out), which then find
	// both stopped.
	t.Cleanup(func() {
		if err := s.services.stop(syscall.SIGTERM, 5*time.Second); err != nil {
			t.Logf("harness: atheme: final stop: %v", err)
		}
		_ = s.ircd.stop(syscall.SIGKILL, 5*time.Second)
	})
	return s
}

// AddCertFP identifies as account with NickServ (IDENTIFY account password)
// from a raw plaintext IRC client and adds the fingerprint fp (lower-case
// hex SHA-256 of the DER certificate, as InspIRCd computes it; see
// CertFingerprint) with NickServ CERT ADD. It fails the test unless
// NickServ confirms both.
func (s *SASLServer) AddCertFP(t T, account, password, fp string) {
	t.Helper()
	c := DialIRC(t, s.Addr, account+"_cfp")
	defer c.Close()
	c.Send(t, "PRIVMSG NickServ :IDENTIFY "+account+" "+password)
	c.Expect(t, 10*time.Second, "You are now identified for")
	c.Send(t, "PRIVMSG NickServ :CERT ADD "+fp)
	// "Added fingerprint \x02fp\x02 to your fingerprint list." — anything
	// else (already on another user's list, bad syntax) is a failure.
	line, ok := c.Next(10*time.Second, func(l string) bool {
		return strings.HasPrefix(l, ":NickServ!") && strings.Contains(l, " NOTICE ")
	})
	if !ok || !strings.Contains(line, "Added fingerprint") || !strings.Contains(line, fp) {
		t.Fatalf("harness: NickServ CERT ADD %s for %s: got %q", fp, account, line)
	}
	c.Send(t, "QUIT :cert added")
}

// CertFingerprint is the CertFP of a DER certificate as InspIRCd
// (hash="sha256") reports it and Atheme stores it: lower-case hex SHA-256 of
// the whole DER certificate, no separators.
func CertFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// ClientCert is a self-signed client certificate for CertFP tests.
type ClientCert struct {
	// TLS is the certificate and key for tls.Config.
	TLS tls.Certificate
	// CertFile and KeyFile are its PEM files (PKCS#8 key).
	CertFile, KeyFile string
	// FP is its fingerprint (CertFingerprint).
	FP string
}

// NewClientCert generates a self-signed ECDSA P-256 client certificate
// (CN name, valid a day) and writes its PEM files into a new temporary
// directory.
func NewClientCert(t T, name string) ClientCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("harness: client cert: %v", err)
	}
	tmpl := certTemplate(name)
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("harness: client cert: %v", err)
	}
	dir := t.TempDir()
	cc := ClientCert{
		TLS:      tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		CertFile: filepath.Join(dir, name+".crt"),
		KeyFile:  filepath.Join(dir, name+".key"),
		FP:       CertFingerprint(der),
	}
	writePEM(t, cc.CertFile, "CERTIFICATE", der)
	writeKey(t, cc.KeyFile, key)
	return cc
}

// writeTestPKI generates a CA and a server certificate for 127.0.0.1
// signed by it (ECDSA P-256, valid a day) and writes server.crt, server.key
// and ca.crt into dir.
func writeTestPKI(t T, dir string) (certFile, keyFile, caFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("harness: tls: %v", err)
	}
	caTmpl := certTemplate("xgate test CA")
	caTmpl.IsCA = true
	caTmpl.BasicConstraintsValid = true
	caTmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("harness: tls: create CA: %v", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatalf("harness: tls: parse CA: %v", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("harness: tls: %v", err)
	}
	tmpl := certTemplate(inspircdName)
	tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatalf("harness: tls: create server certificate: %v", err)
	}
	certFile = filepath.Join(dir, "server.crt")
	keyFile = filepath.Join(dir, "server.key")
	caFile = filepath.Join(dir, "ca.crt")
	writePEM(t, certFile, "CERTIFICATE", der)
	writeKey(t, keyFile, key)
	writePEM(t, caFile, "CERTIFICATE", caDER)
	return certFile, keyFile, caFile
}

func certTemplate(cn string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
}

func writeKey(t T, path string, key *ecdsa.PrivateKey) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("harness: tls: marshal key: %v", err)
	}
	writePEM(t, path, "PRIVATE KEY", der)
}

func writePEM(t T, path, typ string, der []byte) {
	t.Helper()
	b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("harness: tls: write %s: %v", path, err)
	}
}

// inspircdTLSConfig is appended to inspircdConfig: a TLS client listener
// whose profile requests (but does not require) client certificates and
// fingerprints them with SHA-256, and sslinfo, which sends the fingerprint
// to services (ssl_cert metadata). The "main" connect class (127.0.0.1)
// admits its clients.
func inspircdTLSConfig(port int, certFile, keyFile, caFile string) string {
	return fmt.Sprintf(`<module name="sslinfo">
<module name="ssl_gnutls">
<sslinfo operonly="no">
<sslprofile name="clients" provider="gnutls" certfile="%[2]s" keyfile="%[3]s" cafile="%[4]s" hash="sha256" requestclientcert="yes" priority="NORMAL">
<bind address="127.0.0.1" port="%[1]d" type="clients" sslprofile="clients">
`, port, certFile, keyFile, caFile)
}

// athemeCertFPConfig is appended to athemeConfig: NickServ CERT and the
// EXTERNAL SASL mechanism.
const athemeCertFPConfig = `loadmodule "modules/nickserv/cert";
loadmodule "modules/saslserv/external";
`

// NewIRCClient wraps an established connection (a *tls.Conn, say) in an
// IRCClient without registering: the caller sends NICK/USER (and CAP,
// AUTHENTICATE) itself. name labels failures. Cleanup closes it.
func NewIRCClient(t T, conn net.Conn, name string) *IRCClient {
	t.Helper()
	c := &IRCClient{Nick: name, conn: conn, more: make(chan struct{}, 1), done: make(chan struct{})}
	t.Cleanup(func() { c.Close() })
	go c.read()
	return c
}
