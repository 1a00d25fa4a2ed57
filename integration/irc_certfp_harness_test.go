package integration

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"xgate/integration/harness"
)

// TestHarnessInspIRCdCertFP proves StartInspIRCdTLS: a client certificate
// whose fingerprint was added to an account with NickServ CERT ADD logs in
// with SASL EXTERNAL over the TLS listener, with no password.
func TestHarnessInspIRCdCertFP(t *testing.T) {
	ircd := harness.StartInspIRCdTLS(t)
	const account, accountPass = "certfpa", "cert-acct-pass"
	ircd.RegisterAccount(t, account, accountPass)

	cert := harness.NewClientCert(t, "certfp-client")
	leaf, err := x509.ParseCertificate(cert.TLS.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := harness.CertFingerprint(leaf.Raw); got != cert.FP || len(got) != 64 || got != strings.ToLower(got) {
		t.Fatalf("fingerprint %q: want lower-case hex SHA-256 of the DER (%q)", cert.FP, got)
	}
	ircd.AddCertFP(t, account, accountPass, cert.FP)

	caPEM, err := os.ReadFile(ircd.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("no certificate in %s", ircd.CAFile)
	}
	conn, err := tls.Dial("tcp", ircd.TLSAddr, &tls.Config{
		RootCAs:    roots,
		ServerName: "127.0.0.1",
		// Always present the certificate: the server's CertificateRequest
		// lists its CA (cafile) as acceptable, and with Certificates Go
		// would then send no certificate at all, the self-signed one not
		// being issued by that CA (SASL EXTERNAL then fails with 904).
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &cert.TLS, nil
		},
		MinVersion: tls.VersionTLS12,
	})
	if err != nil {
		t.Fatalf("TLS dial %s: %v", ircd.TLSAddr, err)
	}
	if n := len(conn.ConnectionState().PeerCertificates); n == 0 {
		t.Fatal("no server certificate")
	}
	c := harness.NewIRCClient(t, conn, "certfp")
	const wait = 10 * time.Second
	c.Send(t, "CAP LS 302")
	c.Send(t, "NICK certfpnick")
	c.Send(t, "USER certfp 0 * :certfp")
	if ls := c.Expect(t, wait, " CAP * LS "); !strings.Contains(ls, "sasl") {
		t.Fatalf("CAP LS offers no sasl: %q", ls)
	}
	c.Send(t, "CAP REQ :sasl")
	c.Expect(t, wait, " ACK :sasl")
	c.Send(t, "AUTHENTICATE EXTERNAL")
	// The server's empty challenge: "AUTHENTICATE +" (InspIRCd: "AUTHENTICATE :+").
	if _, ok := c.Next(wait, func(l string) bool { return strings.HasPrefix(l, "AUTHENTICATE ") && strings.HasSuffix(l, "+") }); !ok {
		t.Fatalf("no AUTHENTICATE + after AUTHENTICATE EXTERNAL\n%s", strings.Join(c.Transcript(), "\n"))
	}
	c.Send(t, "AUTHENTICATE +")
	line, ok := c.Next(wait, func(l string) bool {
		for _, n := range []string{" 900 ", " 902 ", " 904 ", " 905 ", " 906 ", " 908 "} {
			if strings.Contains(l, n) {
				return true
			}
		}
		return false
	})
	if !ok || !strings.Contains(line, " 900 ") || !strings.Contains(line, " "+account+" ") {
		t.Fatalf("SASL EXTERNAL: want 900 naming %s, got %q\n%s", account, line, strings.Join(c.Transcript(), "\n"))
	}
	c.Expect(t, wait, " 903 ")
	c.Send(t, "CAP END")
	c.Expect(t, wait, " 001 certfpnick ")
	// The server agrees: WHOIS shows the account and the fingerprint.
	c.Send(t, "WHOIS certfpnick")
	var sawAccount, sawFP bool
	for {
		l := c.Expect(t, wait, "")
		sawAccount = sawAccount || strings.Contains(l, " 330 certfpnick certfpnick "+account+" ")
		sawFP = sawFP || (strings.Contains(l, " 276 ") && strings.Contains(l, cert.FP))
		if strings.Contains(l, " 318 ") {
			break
		}
	}
	if !sawAccount || !sawFP {
		t.Errorf("WHOIS: account shown %v, fingerprint %s shown %v\n%s", sawAccount, cert.FP, sawFP, strings.Join(c.Transcript(), "\n"))
	}
	c.Send(t, "QUIT :done")
}
