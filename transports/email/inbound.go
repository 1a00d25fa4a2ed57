package email

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-smtp"

	"xgate/store"
	"xgate/transports"
)

// Inbound refusals, answered at SMTP time (and used to decide IMAP handling).
var (
	errNoSuchUser = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	errNotOurs    = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 2}, Message: "This server only accepts mail for its own domain"}
	errBadMessage = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Malformed message"}
	errNotAllowed = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "The recipient does not accept mail from this sender"}
	errTryLater   = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
)

// recipientUser maps a routing address to its user.
func (t *Transport) recipientUser(ctx context.Context, addr string) (string, error) {
	local, dom, ok := strings.Cut(strings.Trim(addr, "<> "), "@")
	if !ok || !strings.EqualFold(dom, t.cfg.MailDomain) {
		return "", errNotOurs
	}
	// Sub-addressing: token+anything.
	local, _, _ = strings.Cut(strings.ToLower(local), "+")
	user, err := t.st.RouteUser(ctx, Name, local)
	if errors.Is(err, store.ErrNotFound) {
		return "", errNoSuchUser
	}
	if err != nil {
		return "", errTryLater
	}
	return user, nil
}

// deliverMail hands one inbound mail for user to the Uplink. It returns nil
// when the mail is taken care of (delivered, or dropped on purpose: loops),
// an *smtp.SMTPError for a refusal, or another error for a temporary failure.
// Nothing is acknowledged before up.Receive returned: the caller answers 250
// (or flags the IMAP message) only on nil.
func (t *Transport) deliverMail(ctx context.Context, up transports.Uplink, user, envFrom string, raw []byte) error {
	m, err := parseMail(raw)
	if err != nil {
		return errBadMessage
	}
	log := t.log.With("user", user, "message_id", m.MessageID)
	if strings.HasSuffix(strings.ToLower(m.MessageID), "@"+strings.ToLower(t.cfg.MailDomain)) {
		log.Info("dropping a mail with our own Message-ID (loop)")
		return nil
	}
	isBounce := envFrom == "" || m.DSN != nil
	if isBounce {
		return t.deliverBounce(ctx, up, user, m, log)
	}
	if (m.AutoSubmitted != "" && m.AutoSubmitted != "no") || m.Precedence == "bulk" || m.Precedence == "junk" || m.Precedence == "list" {
		log.Info("dropping an automatic mail", "auto_submitted", m.AutoSubmitted, "precedence", m.Precedence)
		return nil
	}
	from := m.From
	if from == "" {
		from = envFrom
	}
	contact, err := t.contactJID(from)
	if err != nil {
		log.Info("refusing a mail with an unusable sender", "from", from, "err", err)
		return errBadMessage
	}
	peer := localOf(contact)
	s, err := t.settingsFor(ctx, user)
	if err != nil {
		return err
	}
	if s.Senders != SendersAnyone {
		if _, err := t.st.GetContact(ctx, Name, user, peer); errors.Is(err, store.ErrNotFound) {
			t.tellUnknownSender(ctx, up, user, contact, from)
			log.Info("refusing mail from an unknown sender", "from", from)
			return errNotAllowed
		} else if err != nil {
			return err
		}
	}

	thread := t.threadOf(ctx, user, m)
	body := m.Text
	if body == "" && len(m.Attachments) == 0 {
		body = "(empty email)"
		if m.Subject != "" {
			body = "(empty email) " + m.Subject
		}
	}
	for _, a := range m.Attachments {
		if body != "" {
			body += "\n"
		}
		body += fmt.Sprintf("[attachment: %s, %s]", a.Name, humanSize(a.Size))
	}
	remoteID := m.MessageID
	if remoteID == "" {
		sum := sha256.Sum256(raw)
		remoteID = "sha256:" + hex.EncodeToString(sum[:16])
	}
	subject := ""
	if thread == "" {
		subject = m.Subject // a new conversation: its subject helps
	}
	if _, err := up.Receive(ctx, transports.Message{
		From: contact, To: user, Type: "chat", Body: body, Subject: subject, Thread: thread,
		// One remote id per (mail, user): one mail may go to several users.
		RemoteID: "email:" + user + ":" + remoteID,
	}); err != nil {
		return err
	}
	log.Debug("mail delivered as chat", "from", from, "thread", thread)
	return nil
}

// threadOf finds the XMPP thread of a reply from its In-Reply-To and
// References (newest first), among the digests sent to it.
func (t *Transport) threadOf(ctx context.Context, user string, m *inMail) string {
	ids := append([]string{}, m.InReplyTo...)
	for i := len(m.References) - 1; i >= 0; i-- {
		ids = append(ids, m.References[i])
	}
	for _, id := range ids {
		mp, err := t.st.IDByRemote(ctx, Name, id)
		if err != nil || mp.User != user {
			continue
		}
		var p idPayload
		if json.Unmarshal(mp.Payload, &p) == nil && p.Thread != "" {
			return p.Thread
		}
	}
	return ""
}

// deliverBounce turns a delivery status notification into a message to the
// user from the contact whose address failed.
func (t *Transport) deliverBounce(ctx context.Context, up transports.Uplink, user string, m *inMail, log interface {
	Info(string, ...any)
}) error {
	if m.DSN == nil || m.DSN.Recipient == "" {
		log.Info("dropping a bounce without a readable delivery status")
		return nil
	}
	if m.DSN.Action != "" && m.DSN.Action != "failed" {
		log.Info("ignoring a delivery status that is not a failure", "action", m.DSN.Action)
		return nil
	}
	contact, err := t.contactJID(m.DSN.Recipient)
	if err != nil {
		log.Info("dropping a bounce about an unusable address", "recipient", m.DSN.Recipient)
		return nil
	}
	reason := m.DSN.Diagnostic
	if reason == "" {
		reason = "status " + m.DSN.Status
	}
	body := fmt.Sprintf("⚠ Your email to %s could not be delivered: %s", m.DSN.Recipient, reason)
	remoteID := m.MessageID
	if remoteID == "" {
		remoteID = "dsn:" + m.DSN.Recipient + ":" + m.DSN.Status + ":" + reason
	}
	_, err = up.Receive(ctx, transports.Message{From: contact, To: user, Type: "chat", Body: body,
		Thread: t.threadOf(ctx, user, m), RemoteID: "email:" + user + ":" + remoteID})
	return err
}

// tellUnknownSender tells user, once per sender, that mail from addr was
// refused by their policy.
func (t *Transport) tellUnknownSender(ctx context.Context, up transports.Uplink, user, contact, addr string) {
	_, err := up.Receive(ctx, transports.Message{From: contact, To: user, Type: "chat",
		Body: fmt.Sprintf("%s sent you an email, which was refused because you have not written to this address. "+
			"Write to %s once, or let anyone write to you in the gateway's registration settings.", addr, addr),
		// The same remote id for every notice about this sender: the inbox
		// delivers it once.
		RemoteID: "email-unknown:" + user + ":" + strings.ToLower(addr)})
	if err != nil {
		t.log.Warn("could not tell the user about an unknown sender", "user", user, "err", err)
	}
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f kB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
