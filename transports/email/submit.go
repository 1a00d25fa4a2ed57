package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"xgate/transports"
)

// stage names the SMTP step an error happened at: refusals at RCPT and DATA
// are about the recipient or the message (permanent on 5xx); anything before
// is about the relay or our account (retried: the operator can fix it).
type stage int

const (
	stageConnect stage = iota
	stageAuth
	stageMail
	stageRcpt
	stageData
)

// submitError is a failed submission with the SMTP step it failed at.
type submitError struct {
	stage stage
	err   error
}

func (e *submitError) Error() string { return e.err.Error() }
func (e *submitError) Unwrap() error { return e.err }

// submit sends raw from → to through the relay with an explicit go-smtp
// client: STARTTLS (required, not opportunistic), implicit TLS, or plain
// for local relays; AUTH PLAIN or LOGIN when a user name is configured.
func (t *Transport) submit(ctx context.Context, from, to string, raw []byte) error {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	host, _, err := net.SplitHostPort(t.cfg.Relay)
	if err != nil {
		return &submitError{stageConnect, fmt.Errorf("relay %q: %w", t.cfg.Relay, err)}
	}
	tlsConf := &tls.Config{ServerName: host, InsecureSkipVerify: t.cfg.RelayInsecureSkipVerify, MinVersion: tls.VersionTLS12}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.cfg.Relay)
	if err != nil {
		return &submitError{stageConnect, err}
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Closing the connection when ctx ends unblocks any read or write.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	var c *smtp.Client
	switch t.cfg.RelayTLS {
	case TLSImplicit:
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return &submitError{stageConnect, fmt.Errorf("tls: %w", err)}
		}
		c = smtp.NewClient(tc)
	case TLSStartTLS:
		// go-smtp's own STARTTLS entry point greets as "localhost": the
		// exchange up to the upgrade is ours, with the configured name.
		tc, err := startTLS(ctx, conn, t.cfg.Helo, tlsConf)
		if err != nil {
			conn.Close()
			return &submitError{stageConnect, fmt.Errorf("starttls: %w", err)}
		}
		c = smtp.NewClient(tc)
	default:
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	c.CommandTimeout = t.cfg.Timeout
	c.SubmissionTimeout = t.cfg.Timeout
	if err := c.Hello(t.cfg.Helo); err != nil {
		return &submitError{stageConnect, err}
	}
	if t.cfg.RelayUsername != "" {
		var a sasl.Client
		switch {
		case c.SupportsAuth(sasl.Plain):
			a = sasl.NewPlainClient("", t.cfg.RelayUsername, t.cfg.RelayPassword)
		case c.SupportsAuth(sasl.Login):
			a = sasl.NewLoginClient(t.cfg.RelayUsername, t.cfg.RelayPassword)
		default:
			return &submitError{stageAuth, errors.New("the relay offers neither AUTH PLAIN nor LOGIN")}
		}
		if err := c.Auth(a); err != nil {
			return &submitError{stageAuth, err}
		}
	}
	if err := c.Mail(from, nil); err != nil {
		return &submitError{stageMail, err}
	}
	if err := c.Rcpt(to, nil); err != nil {
		return &submitError{stageRcpt, err}
	}
	w, err := c.Data()
	if err != nil {
		return &submitError{stageData, err}
	}
	if _, err := w.Write(raw); err != nil {
		return &submitError{stageData, err}
	}
	if err := w.Close(); err != nil {
		return &submitError{stageData, err}
	}
	_ = c.Quit()
	return nil
}

// startTLS reads the relay's greeting, says EHLO helo, and upgrades conn
// with STARTTLS (required: a relay that does not offer it is an error). The
// returned connection replays a greeting, so that a go-smtp client on it
// starts with EHLO over TLS, as RFC 3207 wants.
func startTLS(ctx context.Context, conn net.Conn, helo string, conf *tls.Config) (net.Conn, error) {
	if strings.ContainsAny(helo, "\r\n") {
		return nil, errors.New("helo name contains a line break")
	}
	tp := textproto.NewConn(conn) // not closed: that would close conn
	if _, _, err := tp.ReadResponse(220); err != nil {
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if err := tp.PrintfLine("EHLO %s", helo); err != nil {
		return nil, err
	}
	_, msg, err := tp.ReadResponse(250)
	if err != nil {
		return nil, fmt.Errorf("ehlo: %w", err)
	}
	offered := false
	for _, l := range strings.Split(msg, "\n")[1:] {
		if strings.EqualFold(strings.TrimSpace(l), "STARTTLS") {
			offered = true
		}
	}
	if !offered {
		return nil, errors.New("the relay does not offer STARTTLS")
	}
	if err := tp.PrintfLine("STARTTLS"); err != nil {
		return nil, err
	}
	if _, _, err := tp.ReadResponse(220); err != nil {
		return nil, err
	}
	tc := tls.Client(conn, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return &greetedConn{Conn: tc, r: io.MultiReader(strings.NewReader("220 STARTTLS done\r\n"), tc)}, nil
}

// greetedConn is a connection whose first line read is a replayed greeting.
type greetedConn struct {
	net.Conn
	r io.Reader
}

func (c *greetedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// classify turns a submission error into a transports error: 5xx at RCPT or
// DATA is permanent (the sender is told the recipient and the server's
// reply), everything else temporary.
func classify(to string, err error) error {
	if err == nil {
		return nil
	}
	var se *submitError
	st := stageConnect
	if errors.As(err, &se) {
		st = se.stage
	}
	var smtpErr *smtp.SMTPError
	if errors.As(err, &smtpErr) {
		reply := smtpReply(smtpErr)
		if smtpErr.Code >= 500 && st >= stageRcpt {
			cond := "not-acceptable"
			if st == stageRcpt {
				cond = "recipient-unavailable"
			}
			return transports.Permanent(cond, fmt.Sprintf("the email to %s was refused by the mail server: %s", to, reply), err)
		}
		return transports.Temporary(fmt.Sprintf("the email to %s could not be sent yet: %s", to, reply), err)
	}
	return transports.Temporary(fmt.Sprintf("the email to %s could not be sent: the mail server is unreachable", to), err)
}

// smtpReply formats a server reply as the server wrote it: "550 5.1.1 text".
func smtpReply(e *smtp.SMTPError) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", e.Code)
	if c := e.EnhancedCode; c != smtp.NoEnhancedCode && c != smtp.EnhancedCodeNotSet {
		fmt.Fprintf(&b, " %d.%d.%d", c[0], c[1], c[2])
	}
	msg := strings.Join(strings.Fields(e.Message), " ")
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	if msg != "" {
		b.WriteString(" " + msg)
	}
	return b.String()
}
