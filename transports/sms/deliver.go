package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"xgate/mapping"
	"xgate/store"
	"xgate/transports"
)

// sentInfo is the IDMapping payload of a sent message: what a status
// callback needs to answer the sender.
type sentInfo struct {
	From        string `json:"from"` // the sender's full JID
	Type        string `json:"type,omitempty"`
	WantReceipt bool   `json:"want_receipt,omitempty"`
}

// RateKey paces a user's messages (one user sends from one number) at Rate
// segments per second: a message of n segments holds the number for n/Rate
// seconds. It does no I/O.
func (t *Transport) RateKey(m transports.Message) (string, time.Duration) {
	segs, _, _ := Segments(m.Body)
	if segs == 0 {
		segs = 1 // media only
	}
	return "sms " + bare(m.From), time.Duration(float64(segs) / t.cfg.Rate * float64(time.Second))
}

// Deliver sends one message through Twilio. See the package comment for what
// is checked and how errors are classified.
func (t *Transport) Deliver(ctx context.Context, m transports.Message) error {
	user := bare(m.From)
	local := localOf(m.To)
	to, err := mapping.LocalToPhone(local)
	if err != nil {
		return transports.Permanent("jid-malformed", err.Error(), err)
	}
	from, err := t.senderNumber(ctx, user)
	if err != nil {
		return err
	}
	region := mapping.PhoneRegion(to)
	if region == "" {
		region = mapping.PhoneRegion(from) // a short code: the sender's country
	}
	if t.allowed != nil && !t.allowed[region] {
		t.m.refused("country")
		return transports.Permanent("policy-violation",
			fmt.Sprintf("this gateway does not send text messages to %s (region %s)", to, orUnknown(region)), nil)
	}
	body := m.Body
	media := m.OOB
	if len(media) > maxMedia {
		return transports.Permanent("not-acceptable", fmt.Sprintf("a message may carry at most %d media URLs, this one has %d", maxMedia, len(media)), nil)
	}
	if len(media) > 0 && slices.Contains(media, body) {
		body = "" // XEP-0066: the body repeats the URL for clients without OOB
	}
	segs, enc, units := Segments(body)
	if segs > t.cfg.MaxSegments {
		t.m.refused("too_long")
		return transports.Permanent("not-acceptable", fmt.Sprintf(
			"the message is too long: %d segments (%d %s characters), the limit is %d segments; split it or shorten it",
			segs, units, enc, t.cfg.MaxSegments), nil)
	}
	if m.ID != "" {
		prev, err := t.cfg.Store.IDByStanza(ctx, Name, user, m.ID)
		switch {
		case err == nil && prev.Peer == local:
			// Sent before a crash or a lost queue update: never twice.
			t.log.Info("message already sent; not sending it again", "user", user, "id", m.ID, "sid", prev.RemoteID)
			return nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return transports.Temporary("the gateway's store is unavailable", fmt.Errorf("sms: id lookup: %w", err))
		}
	}
	day := t.now().UTC().Format(time.DateOnly)
	ok, err := t.guard.reserve(ctx, user, day)
	if err != nil {
		return transports.Temporary("the gateway's store is unavailable", err)
	}
	if !ok {
		t.m.refused("daily_cap")
		return transports.Permanent("policy-violation", fmt.Sprintf(
			"you reached this gateway's limit of %d text messages per day; it resets at midnight UTC", t.cfg.DailyCap), nil)
	}
	cctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	sid, err := t.api.create(cctx, sendParams{From: from, To: to, Body: body, StatusCallback: t.StatusURL(), Media: media})
	cancel()
	if err != nil {
		if rerr := t.guard.release(context.WithoutCancel(ctx), user, day); rerr != nil {
			t.log.Warn("cannot give back the daily count of an unsent message", "user", user, "err", rerr)
		}
		t.m.sent(resultOf(err), 0)
		return err
	}
	t.m.sent("accepted", max(segs, 1))
	if m.ID == "" {
		return nil // nothing to pair: no receipt or error can refer to it
	}
	payload, _ := json.Marshal(sentInfo{From: m.From, Type: m.Type, WantReceipt: m.WantReceipt})
	err = t.cfg.Store.PutIDMapping(ctx, store.IDMapping{
		Transport: Name, User: user, StanzaID: m.ID, RemoteID: sid, Peer: local, Payload: payload, Created: t.now(),
	})
	if err != nil {
		// The text is sent: failing now would send it again. Only the
		// receipt or error for it is lost.
		t.log.Error("cannot record the sent message; its status will not reach the sender", "sid", sid, "err", err)
	}
	return nil
}

// senderNumber is the number user sends from: an assigned one (the first in
// order), else the registered one.
func (t *Transport) senderNumber(ctx context.Context, user string) (string, error) {
	if ns := t.assigned[user]; len(ns) > 0 {
		return ns[0], nil
	}
	r, err := t.cfg.Store.GetRegistration(ctx, Name, user)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && r.RemoteID == ""):
		return "", transports.Permanent("registration-required",
			"you have no number on "+t.cfg.Domain+": register one of the gateway's numbers first", nil)
	case err != nil:
		return "", transports.Temporary("the gateway's store is unavailable", fmt.Errorf("sms: registration lookup: %w", err))
	}
	return r.RemoteID, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func resultOf(err error) string {
	if transports.IsTemporary(err) {
		return "temporary_error"
	}
	return "permanent_error"
}
