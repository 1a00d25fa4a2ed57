package email

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-smtp"

	"xgate/transports"
)

// IMAP watcher timing: how long the watcher idles before it looks at the
// mailbox anyway (Transport.imapRescan, default imapRescanEvery: a missed
// notification costs at most this), and the reconnection backoff.
const (
	imapRescanEvery = 5 * time.Minute
	imapBackoffMin  = time.Second
	imapBackoffMax  = 5 * time.Minute
)

// errIMAPTemporary marks a mail that could not be stored now: the watcher
// reconnects (with backoff) and tries it again.
var errIMAPTemporary = errors.New("temporary failure")

// runIMAP watches the catch-all mailbox until ctx ends: connect, LOGIN,
// SELECT, handle the mail not handled yet, IDLE until the server reports new
// mail, and again. A lost connection is re-established with exponential
// backoff.
func (t *Transport) runIMAP(ctx context.Context, up transports.Uplink) error {
	backoff := imapBackoffMin
	for {
		started := time.Now()
		err := t.imapSession(ctx, up)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > 2*imapBackoffMax {
			backoff = imapBackoffMin // it ran for a while: start over
		}
		t.log.Warn("imap: connection ended, reconnecting", "addr", t.cfg.IMAP.Addr, "err", err, "in", backoff)
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
		backoff = min(backoff*2, imapBackoffMax)
	}
}

// imapStateKeys are the transport_state names of the mailbox's UIDVALIDITY
// and the last UID handled (per account and mailbox).
func (t *Transport) imapStateKeys() (validity, last string) {
	k := "imap:" + strings.ToLower(t.cfg.IMAP.Username) + "@" + t.cfg.IMAP.Addr + "/" + t.imapMailbox()
	return k + ":uidvalidity", k + ":last_uid"
}

func (t *Transport) imapMailbox() string {
	if t.cfg.IMAP.Mailbox == "" {
		return "INBOX"
	}
	return t.cfg.IMAP.Mailbox
}

// imapDial connects with the configured TLS mode (implicit by default),
// verifying certificates unless told not to.
func (t *Transport) imapDial(notify chan<- struct{}) (*imapclient.Client, error) {
	host, _, err := net.SplitHostPort(t.cfg.IMAP.Addr)
	if err != nil {
		return nil, fmt.Errorf("imap addr %q: %w", t.cfg.IMAP.Addr, err)
	}
	opts := &imapclient.Options{
		TLSConfig: &tls.Config{ServerName: host, InsecureSkipVerify: t.cfg.IMAP.InsecureSkipVerify, MinVersion: tls.VersionTLS12},
		Dialer:    &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil { // EXISTS: new mail
					select {
					case notify <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	switch t.cfg.IMAP.TLS {
	case TLSNone:
		return imapclient.DialInsecure(t.cfg.IMAP.Addr, opts)
	case TLSStartTLS:
		return imapclient.DialStartTLS(t.cfg.IMAP.Addr, opts)
	default:
		return imapclient.DialTLS(t.cfg.IMAP.Addr, opts)
	}
}

// imapSession is one connection: it returns when the connection fails, a
// mail cannot be stored yet, or ctx ends.
func (t *Transport) imapSession(ctx context.Context, up transports.Uplink) error {
	notify := make(chan struct{}, 1)
	c, err := t.imapDial(notify)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	// The client has no contexts: closing the connection unblocks it.
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()

	if err := c.Login(t.cfg.IMAP.Username, t.cfg.IMAP.Password).Wait(); err != nil {
		return fmt.Errorf("login as %s: %w", t.cfg.IMAP.Username, err)
	}
	mbox := t.imapMailbox()
	sel, err := c.Select(mbox, nil).Wait()
	if err != nil {
		return fmt.Errorf("select %s: %w", mbox, err)
	}
	last, err := t.imapLoadState(ctx, sel.UIDValidity)
	if err != nil {
		return err
	}
	t.log.Info("imap: watching", "addr", t.cfg.IMAP.Addr, "mailbox", mbox, "uidvalidity", sel.UIDValidity, "last_uid", last)
	canIdle := c.Caps().Has(imap.CapIdle) || c.Caps().Has(imap.CapIMAP4rev2)
	for {
		if last, err = t.imapScan(ctx, c, up, sel.UIDValidity, last); err != nil {
			return err
		}
		if err := t.imapWait(ctx, c, notify, canIdle); err != nil {
			return err
		}
	}
}

// imapLoadState returns the last UID handled in the mailbox with this
// UIDVALIDITY: 0 (rescan the unseen mail; the inbox's dedup on Message-ID
// keeps what was delivered already from coming again) when the mailbox is
// new to us or its UIDVALIDITY changed.
func (t *Transport) imapLoadState(ctx context.Context, validity uint32) (imap.UID, error) {
	kv, kl := t.imapStateKeys()
	v, err := t.st.GetState(ctx, Name, kv)
	if err == nil && v == strconv.FormatUint(uint64(validity), 10) {
		l, err := t.st.GetState(ctx, Name, kl)
		if err == nil {
			if n, perr := strconv.ParseUint(l, 10, 32); perr == nil {
				return imap.UID(n), nil
			}
		}
	}
	if err == nil {
		t.log.Warn("imap: UIDVALIDITY changed: rescanning the unseen mail", "stored", v, "now", validity)
	}
	if err := t.st.PutState(ctx, Name, kl, "0"); err != nil {
		return 0, err
	}
	if err := t.st.PutState(ctx, Name, kv, strconv.FormatUint(uint64(validity), 10)); err != nil {
		return 0, err
	}
	return 0, nil
}

// imapWait idles (or, without IDLE, polls with NOOP) until the server reports
// new mail, imapRescanEvery passed, or the connection ends.
func (t *Transport) imapWait(ctx context.Context, c *imapclient.Client, notify <-chan struct{}, canIdle bool) error {
	timer := time.NewTimer(t.imapRescan)
	defer timer.Stop()
	if !canIdle {
		tick := time.NewTicker(30 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-notify:
				return nil
			case <-timer.C:
				return nil
			case <-tick.C:
				if err := c.Noop().Wait(); err != nil {
					return fmt.Errorf("noop: %w", err)
				}
			}
		}
	}
	idle, err := c.Idle()
	if err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	select {
	case <-ctx.Done():
	case <-c.Closed():
	case <-notify:
	case <-timer.C:
	}
	if err := idle.Close(); err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	if err := idle.Wait(); err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	return ctx.Err()
}

// imapScan handles every mail after last (or, when last is 0, every unseen
// mail), in UID order, and returns the new last UID. Each mail is handed to
// the Uplink first and flagged \Seen (or moved to the done mailbox) after;
// the last UID is stored after that.
func (t *Transport) imapScan(ctx context.Context, c *imapclient.Client, up transports.Uplink, validity uint32, last imap.UID) (imap.UID, error) {
	crit := &imap.SearchCriteria{}
	if last == 0 {
		crit.NotFlag = []imap.Flag{imap.FlagSeen}
	} else {
		var set imap.UIDSet
		set.AddRange(last+1, 0) // last+1:*
		crit.UID = []imap.UIDSet{set}
	}
	res, err := c.UIDSearch(crit, nil).Wait()
	if err != nil {
		return last, fmt.Errorf("search: %w", err)
	}
	uids := res.AllUIDs()
	slices.Sort(uids)
	_, kl := t.imapStateKeys()
	for _, uid := range uids {
		if uid <= last { // "n:*" always matches the highest UID
			continue
		}
		if err := t.imapHandle(ctx, c, up, uid); err != nil {
			return last, err
		}
		last = uid
		if err := t.st.PutState(ctx, Name, kl, strconv.FormatUint(uint64(uid), 10)); err != nil {
			return last, err
		}
	}
	return last, nil
}

// imapHandle fetches one mail, stores it, and then marks it handled.
func (t *Transport) imapHandle(ctx context.Context, c *imapclient.Client, up transports.Uplink, uid imap.UID) error {
	set := imap.UIDSetNum(uid)
	msgs, err := c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return fmt.Errorf("fetch uid %d: %w", uid, err)
	}
	if len(msgs) == 0 {
		return nil // expunged meanwhile
	}
	log := t.log.With("uid", uid)
	if msgs[0].RFC822Size > int64(t.cfg.MaxMessageSize) {
		log.Warn("imap: ignoring a mail larger than max_message_size", "size", msgs[0].RFC822Size)
	} else {
		msgs, err = c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		if err != nil {
			return fmt.Errorf("fetch uid %d: %w", uid, err)
		}
		if len(msgs) == 0 || len(msgs[0].BodySection) == 0 {
			return nil
		}
		if err := t.imapDeliver(ctx, up, msgs[0].BodySection[0].Bytes); err != nil {
			if errors.Is(err, errIMAPTemporary) {
				return fmt.Errorf("uid %d: %w", uid, err)
			}
			log.Warn("imap: mail not delivered", "err", err)
		}
	}
	if t.cfg.IMAP.DoneMailbox != "" {
		if _, err := c.Move(set, t.cfg.IMAP.DoneMailbox).Wait(); err != nil {
			return fmt.Errorf("move uid %d to %s: %w", uid, t.cfg.IMAP.DoneMailbox, err)
		}
		return nil
	}
	err = c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
	if err != nil {
		return fmt.Errorf("flag uid %d: %w", uid, err)
	}
	return nil
}

// imapDeliver hands one mail from the catch-all to the users it is addressed
// to (as the listener would). It returns nil when the mail is taken care of,
// an error wrapping errIMAPTemporary to try again later, or another error for
// a mail that will never be delivered (refused, malformed, not ours).
func (t *Transport) imapDeliver(ctx context.Context, up transports.Uplink, raw []byte) error {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return errBadMessage
	}
	users, err := t.imapRecipients(ctx, mail.Header{Header: message.Header{Header: h}})
	if err != nil {
		return err
	}
	if len(users) == 0 {
		return errors.New("no recipient at the mail domain names a user")
	}
	envFrom := imapEnvelopeFrom(h)
	for _, u := range users {
		err := t.deliverMail(ctx, up, u, envFrom, raw)
		var se *smtp.SMTPError
		switch {
		case err == nil:
		case errors.As(err, &se) && se.Code >= 500:
			return err
		default:
			return fmt.Errorf("%w: %v", errIMAPTemporary, err)
		}
	}
	return nil
}

// imapRecipientHeaders carry the envelope recipient (added by the MTA or the
// delivery agent) or, failing that, the addressees.
var imapRecipientHeaders = []string{"Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To", "Cc"}

// imapRecipients returns the users the mail's recipients at the mail domain
// name (in header order, each once).
func (t *Transport) imapRecipients(ctx context.Context, h mail.Header) ([]string, error) {
	var users []string
	for _, name := range imapRecipientHeaders {
		for _, v := range h.Values(name) {
			var addrs []string
			if list, err := mail.ParseAddressList(v); err == nil {
				for _, a := range list {
					addrs = append(addrs, a.Address)
				}
			} else if a := looseAddress(v); a != "" {
				addrs = append(addrs, a)
			}
			for _, a := range addrs {
				u, err := t.recipientUser(ctx, a)
				if errors.Is(err, errTryLater) {
					return nil, fmt.Errorf("%w: recipient %s", errIMAPTemporary, a)
				}
				if err == nil && !slices.Contains(users, u) {
					users = append(users, u)
				}
			}
		}
	}
	return users, nil
}

// imapEnvelopeFrom is the envelope sender recorded in Return-Path ("" for a
// bounce); a mail without Return-Path (appended by hand) counts as sent by its
// From.
func imapEnvelopeFrom(h textproto.Header) string {
	if !h.Has("Return-Path") {
		if a := looseAddress(h.Get("From")); a != "" {
			return a
		}
		return "unknown"
	}
	return strings.Trim(strings.TrimSpace(h.Get("Return-Path")), "<>")
}
