package email

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/emersion/go-smtp"
)

// listener is the inbound SMTP or LMTP server.
type listener struct {
	t   *Transport
	ln  net.Listener
	srv *smtp.Server
}

// listen opens the inbound listener (so that a port in use fails Run at once).
func (t *Transport) listen() (*listener, error) {
	ln, err := net.Listen("tcp", t.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("email: listen %s: %w", t.cfg.Listen, err)
	}
	l := &listener{t: t, ln: ln}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{t: t}, nil
	}))
	srv.Domain = t.cfg.MailDomain
	srv.LMTP = t.cfg.LMTP
	srv.MaxMessageBytes = int64(t.cfg.MaxMessageSize)
	srv.MaxRecipients = 50
	srv.ReadTimeout = 5 * time.Minute
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = slogLogger{t.log}
	l.srv = srv
	t.log.Info("email listener ready", "addr", ln.Addr().String(), "lmtp", t.cfg.LMTP)
	return l, nil
}

// Addr is where the listener listens (tests use port 0).
func (l *listener) Addr() net.Addr { return l.ln.Addr() }

func (l *listener) run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- l.srv.Serve(l.ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := l.srv.Shutdown(sctx); err != nil {
			_ = l.srv.Close()
		}
		<-errc
		return nil
	case err := <-errc:
		if errors.Is(err, smtp.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// session is one SMTP transaction at a time. go-smtp calls it from the
// connection's goroutine only.
type session struct {
	t     *Transport
	from  string
	users []string // one per accepted RCPT
}

func (s *session) Reset()        { s.from, s.users = "", nil }
func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	user, err := s.t.recipientUser(ctx, to)
	if err != nil {
		return err
	}
	s.users = append(s.users, user)
	return nil
}

// Data reads the mail (go-smtp answers 552 past MaxMessageBytes) and delivers
// it to every recipient before answering 250.
func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err // ErrDataTooLarge is a 552
	}
	up := s.t.uplink()
	if up == nil {
		return errTryLater
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, u := range s.users {
		if err := s.t.deliverMail(ctx, up, u, s.from, raw); err != nil {
			var se *smtp.SMTPError
			if errors.As(err, &se) {
				return se
			}
			s.t.log.Warn("inbound mail not stored", "user", u, "err", err)
			return errTryLater
		}
	}
	return nil
}

// slogLogger adapts slog to go-smtp's logger.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Printf(format string, v ...any) { s.l.Debug("smtp: " + fmt.Sprintf(format, v...)) }
func (s slogLogger) Println(v ...any)               { s.l.Debug("smtp: " + fmt.Sprint(v...)) }
