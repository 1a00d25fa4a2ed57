package component

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"xgate/store"
	"xgate/transports"
)

// delayAfter is how late an inbound message may reach the user before it
// carries a XEP-0203 delay with the time xgate accepted it.
const delayAfter = 5 * time.Second

// inboxWaitUp is how long one inbound delivery attempt waits for a stream
// that is down before it counts as failed (and is retried with backoff).
const inboxWaitUp = 10 * time.Second

// inboxRetryMax caps the inbox's retry backoff: retrying costs nothing but a
// look at our own stream, and a message should reach the user soon after the
// stream is back.
const inboxRetryMax = 30 * time.Second

// The Gateway is its transport's Uplink.
var _ transports.Uplink = (*Gateway)(nil)

// Receive persists an inbound message in the inbox and wakes the inbox
// worker. A message without ID gets one now, and one without Stamp gets the
// current time, so that every delivery attempt writes the same stanza (a
// client can drop a duplicate by its id). The ordering key is the contact and
// the user: messages of one conversation reach the user in order.
func (g *Gateway) Receive(ctx context.Context, m transports.Message) (bool, error) {
	from, err := jid.Parse(m.From)
	if err != nil || from.Domainpart() != g.domain.Domainpart() || from.Localpart() == "" {
		return false, fmt.Errorf("component: %s: receive: from %q is not a contact of this domain", g.cfg.Domain, m.From)
	}
	if _, err := jid.Parse(m.To); err != nil {
		return false, fmt.Errorf("component: %s: receive: to %q: %w", g.cfg.Domain, m.To, err)
	}
	now := g.now()
	if m.ID == "" {
		m.ID = g.newID()
	}
	if m.Stamp.IsZero() {
		m.Stamp = now
	}
	payload, err := transports.EncodeMessage(m)
	if err != nil {
		return false, err
	}
	_, inserted, err := g.st.Inbox().Enqueue(ctx, store.QueueItem{
		Transport:   g.t.Name(),
		Key:         transports.OrderKey(m),
		RemoteID:    m.RemoteID,
		Payload:     payload,
		NextAttempt: now,
		Created:     now,
	})
	if err != nil {
		return false, fmt.Errorf("component: %s: inbox: %w", g.cfg.Domain, err)
	}
	if inserted {
		g.wakeInbox()
	}
	return inserted, nil
}

// Send writes a raw stanza to the stream now; transports.ErrStreamDown while
// it is down.
func (g *Gateway) Send(ctx context.Context, r xml.TokenReader) error {
	return g.out.Send(ctx, r)
}

// Receipt queues the XEP-0184 <received/> for the outbound message m, from the
// contact to the user's full JID, in the inbox: it reaches the user even if the
// stream is down now. Nothing is sent when the user did not ask for a receipt
// (XEP-0184 forbids unsolicited ones) or m has no id.
func (g *Gateway) Receipt(ctx context.Context, m transports.Message) error {
	if !m.WantReceipt || m.ID == "" {
		return nil
	}
	return g.queueNotice(ctx, m, &transports.Notice{Kind: transports.NoticeReceipt})
}

// Fail queues, in the inbox, a message error for the sender of the outbound
// message m: the original id, from the contact to the user's full JID, with the
// condition and text of err (transports.ErrorOf).
func (g *Gateway) Fail(ctx context.Context, m transports.Message, cause error) error {
	cond, text := transports.ErrorOf(cause)
	n := &transports.Notice{Kind: transports.NoticeError, Condition: cond, Text: text}
	n.Wait = transports.IsTemporary(cause) && stanza.Condition(cond) == stanza.RemoteServerTimeout
	return g.queueNotice(ctx, m, n)
}

// queueNotice stores a notice about the outbound message m in the inbox,
// deduplicated per (kind, user, stanza id) so that a network repeating its
// status callback tells the user once.
func (g *Gateway) queueNotice(ctx context.Context, m transports.Message, n *transports.Notice) error {
	from, to, err := g.replyAddrs(m)
	if err != nil {
		return err
	}
	note := transports.Message{ID: m.ID, From: from.String(), To: to.String(), Type: m.Type, Notice: n}
	if m.ID != "" {
		note.RemoteID = "xgate-" + n.Kind + ":" + to.Bare().String() + ":" + m.ID
	}
	_, err = g.Receive(ctx, note)
	return err
}

// noticeStanza renders a queued receipt or error notice.
func (g *Gateway) noticeStanza(m transports.Message) (xml.TokenReader, error) {
	from, to, err := msgAddrs(m)
	if err != nil {
		return nil, err
	}
	n := m.Notice
	if n.Kind == transports.NoticeReceipt {
		msg := stanza.Message{XMLName: xml.Name{Local: "message"}, ID: "r-" + m.ID, From: from, To: to, Type: msgType(m.Type)}
		return msg.Wrap(emptyElement(xml.Name{Space: nsReceipts, Local: "received"}, attr("id", m.ID))), nil
	}
	cond := n.Condition
	if cond == "" {
		cond = "undefined-condition"
	}
	e := newError(stanza.Condition(cond), n.Text)
	if n.Wait {
		e.Type = stanza.Wait
	}
	msg := stanza.Message{XMLName: xml.Name{Local: "message"}, ID: m.ID, From: from, To: to, Type: stanza.ErrorMessage}
	return msg.Wrap(e.TokenReader()), nil
}

// msgAddrs are the addresses of the queued message m, as they are.
func msgAddrs(m transports.Message) (from, to jid.JID, err error) {
	if from, err = jid.Parse(m.From); err != nil {
		return from, to, err
	}
	to, err = jid.Parse(m.To)
	return from, to, err
}

// replyAddrs are the addresses of a stanza about the outbound message m:
// from its recipient (the contact) to its sender.
func (g *Gateway) replyAddrs(m transports.Message) (from, to jid.JID, err error) {
	from, err = jid.Parse(m.To)
	if err != nil {
		return from, to, fmt.Errorf("component: %s: contact %q: %w", g.cfg.Domain, m.To, err)
	}
	to, err = jid.Parse(m.From)
	if err != nil {
		return from, to, fmt.Errorf("component: %s: user %q: %w", g.cfg.Domain, m.From, err)
	}
	return from, to, nil
}

func msgType(t string) stanza.MessageType {
	switch stanza.MessageType(t) {
	case stanza.NormalMessage, stanza.GroupChatMessage, stanza.HeadlineMessage:
		return stanza.MessageType(t)
	}
	return stanza.ChatMessage
}

// outboxGiveUp is the outbox worker's OnGiveUp: the sender is told, through
// the inbox, so the notice survives a stream that is down and a restart.
func (g *Gateway) outboxGiveUp(ctx context.Context, it store.QueueItem, cause error) {
	m, err := transports.DecodeMessage(it.Payload)
	if err != nil {
		g.log.Error("gave up on an unreadable outbox item", "id", it.ID, "err", err)
		return
	}
	if err := g.Fail(ctx, m, cause); err != nil {
		g.m.Error(g.cfg.Domain, "fail_notice")
		g.log.Warn("could not tell the sender a message failed", "from", m.From, "to", m.To, "err", err)
	}
}

// inboxGiveUp is the inbox worker's OnGiveUp. Inbox items have no deadline,
// so this only happens for an item that can never be delivered.
func (g *Gateway) inboxGiveUp(_ context.Context, it store.QueueItem, cause error) {
	g.m.Error(g.cfg.Domain, "inbox_dropped")
	g.log.Error("dropped an inbound message that cannot be delivered", "id", it.ID, "err", cause)
}

// deliverInbound is the inbox worker's Handle: the message as a stanza to the
// user. A stream that is down is a temporary failure (the worker retries, and
// is woken when the stream comes up).
func (g *Gateway) deliverInbound(ctx context.Context, it store.QueueItem) error {
	m, err := transports.DecodeMessage(it.Payload)
	if err != nil {
		return transports.Permanent("internal-server-error", "the queued message is unreadable", err)
	}
	var r xml.TokenReader
	if m.Notice != nil {
		r, err = g.noticeStanza(m)
	} else {
		r, err = g.inboundStanza(m)
	}
	if err != nil {
		return transports.Permanent("jid-malformed", "the queued message has a bad address", err)
	}
	toks, err := bufferTokens(r)
	if err != nil {
		return transports.Permanent("internal-server-error", "the queued message cannot be encoded", err)
	}
	err = g.out.Send(ctx, replay(toks))
	if errors.Is(err, transports.ErrStreamDown) {
		// The stream is down: wait for it a little rather than fail at once.
		// A failed attempt is retried only when its backoff is over, which
		// the wake at stream up cannot shorten; waiting here delivers the
		// messages in flight as soon as the stream is back.
		if g.waitStreamUp(ctx) == nil {
			err = g.out.Send(ctx, replay(toks))
		}
	}
	if errors.Is(err, transports.ErrStreamDown) {
		return transports.Temporary("the xmpp stream is down", err)
	}
	return err
}

// waitStreamUp waits until the stream is up, at most inboxWaitUp, and not
// past the start of Run's shutdown.
func (g *Gateway) waitStreamUp(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, inboxWaitUp)
	defer cancel()
	if g.stopping != nil {
		stop := context.AfterFunc(g.stopping, cancel)
		defer stop()
	}
	return g.waitUp(ctx)
}

// inboundStanza is the chat stanza of an inbound message: body, subject,
// thread, one XEP-0066 <x/> per URL, a XEP-0359 stanza-id by the domain, a
// XEP-0203 delay when it reaches the user more than delayAfter after xgate
// accepted it, and a XEP-0333 markable (receipts are not requested: the
// contact's network could not carry them back).
func (g *Gateway) inboundStanza(m transports.Message) (xml.TokenReader, error) {
	from, to, err := msgAddrs(m)
	if err != nil {
		return nil, err
	}
	var parts []xml.TokenReader
	if m.Subject != "" {
		parts = append(parts, textElement(xml.Name{Local: "subject"}, m.Subject))
	}
	if m.Body != "" {
		parts = append(parts, textElement(xml.Name{Local: "body"}, m.Body))
	}
	if m.Thread != "" {
		parts = append(parts, textElement(xml.Name{Local: "thread"}, m.Thread))
	}
	for _, u := range m.OOB {
		parts = append(parts, xmlstream.Wrap(textElement(xml.Name{Local: "url"}, u),
			xml.StartElement{Name: xml.Name{Space: nsOOB, Local: "x"}}))
	}
	parts = append(parts, emptyElement(xml.Name{Space: nsSID, Local: "stanza-id"}, attr("id", m.ID), attr("by", g.cfg.Domain)))
	if !m.Stamp.IsZero() && g.now().Sub(m.Stamp) > delayAfter {
		parts = append(parts, emptyElement(xml.Name{Space: nsDelay, Local: "delay"},
			attr("from", g.cfg.Domain), attr("stamp", m.Stamp.UTC().Format("2006-01-02T15:04:05.000Z"))))
	}
	parts = append(parts, emptyElement(xml.Name{Space: nsMarkers, Local: "markable"}))
	msg := stanza.Message{XMLName: xml.Name{Local: "message"}, ID: m.ID, From: from, To: to, Type: msgType(m.Type)}
	return msg.Wrap(xmlstream.MultiReader(parts...)), nil
}
