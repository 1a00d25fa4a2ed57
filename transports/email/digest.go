package email

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"xgate/mapping"
	"xgate/store"
	"xgate/transports"
)

// Deliver buffers m in the digest of (sender, recipient); the flusher sends
// the digest when it is due. It is idempotent for one outbox item: a second
// call with the same message while it is still buffered stores nothing.
func (t *Transport) Deliver(ctx context.Context, m transports.Message) error {
	user := bareJID(m.From)
	peer := localOf(m.To)
	if user == "" || peer == "" {
		return transports.Permanent("item-not-found", "write to an address like bob\\40example.com@"+t.cfg.Domain,
			fmt.Errorf("email: deliver: from %q to %q", m.From, m.To))
	}
	if _, err := mapping.LocalToEmail(peer); err != nil {
		return transports.Permanent("jid-malformed", err.Error(), err)
	}
	if m.Stamp.IsZero() {
		m.Stamp = t.now()
	}
	payload, err := transports.EncodeMessage(m)
	if err != nil {
		return transports.Permanent("internal-server-error", "the message could not be stored", err)
	}
	// Writing to an address makes it a contact: replies from it are let in.
	if err := t.st.PutContact(ctx, store.Contact{Transport: Name, User: user, Remote: peer}); err != nil {
		return transports.Temporary("the gateway could not store the message", err)
	}
	sum := sha256.Sum256([]byte(user + "\x00" + peer + "\x00" + m.ID + "\x00" + m.Stamp.UTC().Format(time.RFC3339Nano) + "\x00" + m.Body))
	if _, err := t.st.AppendDigest(ctx, store.DigestEntry{
		Transport: Name, User: user, Peer: peer, Dedup: hex.EncodeToString(sum[:16]),
		Payload: payload, Created: m.Stamp,
	}); err != nil {
		return transports.Temporary("the gateway could not store the message", err)
	}
	t.wake()
	return nil
}

// runFlusher seals the due digests every Flush, and when Deliver wakes it.
func (t *Transport) runFlusher(ctx context.Context) error {
	tick := time.NewTicker(t.cfg.Flush)
	defer tick.Stop()
	failing := false
	for {
		err := t.FlushDue(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			failing = true
			t.log.Warn("digest flush failed", "err", err)
		case err == nil && failing:
			failing = false
			t.log.Info("digest flush works again")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-t.wakeFlush:
		}
	}
}

// due reports whether a buffer must be sent now under s.
func due(g store.DigestGroup, s Settings, now time.Time) bool {
	return s.Quiet <= 0 || now.Sub(g.Newest) >= s.Quiet || now.Sub(g.Oldest) >= s.MaxAge || g.Count >= s.MaxMessages
}

// FlushDue seals every digest that is due and returns how many it sealed
// (errors of single digests are logged; the first is returned after all were
// tried).
func (t *Transport) FlushDue(ctx context.Context) error {
	groups, err := t.st.DigestGroups(ctx, Name)
	if err != nil {
		return err
	}
	now := t.now()
	settings := map[string]Settings{}
	var first error
	sealed := 0
	for _, g := range groups {
		s, ok := settings[g.User]
		if !ok {
			if s, err = t.settingsFor(ctx, g.User); err != nil {
				return err
			}
			settings[g.User] = s
		}
		if !due(g, s, now) {
			continue
		}
		if err := t.seal(ctx, g.User, g.Peer, s, now); err != nil {
			if errors.Is(err, store.ErrDigestChanged) {
				continue // another process sealed it
			}
			t.log.Warn("digest seal failed", "user", g.User, "peer", g.Peer, "err", err)
			if first == nil {
				first = err
			}
			continue
		}
		sealed++
	}
	if sealed > 0 {
		t.wakeSender()
	}
	return first
}

// wakeSender makes the digest sender claim at once.
func (t *Transport) wakeSender() {
	t.mu.Lock()
	s := t.sender
	t.mu.Unlock()
	if s != nil {
		s.Wake()
	}
}

// conversation is what is remembered of a (user, peer) conversation between
// digests (store state "conv <user> <peer>").
type conversation struct {
	Refs   []string `json:"refs,omitempty"`   // our Message-IDs, oldest first (capped)
	Thread string   `json:"thread,omitempty"` // the XMPP thread replies go to
}

func convKey(user, peer string) string { return "conv " + user + " " + peer }

func (t *Transport) loadConversation(ctx context.Context, user, peer string) (conversation, error) {
	var c conversation
	v, err := t.st.GetState(ctx, Name, convKey(user, peer))
	if errors.Is(err, store.ErrNotFound) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	_ = json.Unmarshal([]byte(v), &c) // a damaged record starts a new chain
	return c, nil
}

func (t *Transport) saveConversation(ctx context.Context, user, peer string, c conversation) error {
	if n := len(c.Refs); n > maxReferences {
		c.Refs = c.Refs[n-maxReferences:]
	}
	b, _ := json.Marshal(c)
	return t.st.PutState(ctx, Name, convKey(user, peer), string(b))
}

// sealedDigest is the outbox payload of a digest ready to send.
type sealedDigest struct {
	User      string `json:"user"`
	Peer      string `json:"peer"`
	From      string `json:"from"` // envelope sender: the routing address
	To        string `json:"to"`   // the recipient's address
	MessageID string `json:"message_id"`
	Raw       []byte `json:"raw"`
	// Messages are the chats in the digest, for errors back to the user.
	Messages []transports.Message `json:"messages"`
}

// idPayload is the IDMapping payload of a digest's Message-ID.
type idPayload struct {
	Thread string `json:"thread,omitempty"`
}

// seal builds the digest of (user, peer) from its oldest entries and queues it.
func (t *Transport) seal(ctx context.Context, user, peer string, s Settings, now time.Time) error {
	entries, err := t.st.DigestEntries(ctx, Name, user, peer, s.MaxMessages)
	if err != nil || len(entries) == 0 {
		return err
	}
	to, err := mapping.LocalToEmail(peer)
	if err != nil {
		return fmt.Errorf("email: seal: recipient %q: %w", peer, err) // Deliver checked it
	}
	ids := make([]int64, 0, len(entries))
	msgs := make([]transports.Message, 0, len(entries))
	failMsgs := make([]transports.Message, 0, len(entries))
	for _, e := range entries {
		ids = append(ids, e.ID)
		m, err := transports.DecodeMessage(e.Payload)
		if err != nil {
			t.log.Warn("dropping an undecodable digest entry", "user", user, "err", err)
			continue
		}
		msgs = append(msgs, m)
		failMsgs = append(failMsgs, transports.Message{ID: m.ID, OriginID: m.OriginID, From: m.From, To: m.To, Type: m.Type, Thread: m.Thread})
	}
	from, err := t.routeAddress(ctx, user)
	if err != nil {
		return err
	}
	conv, err := t.loadConversation(ctx, user, peer)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.Thread != "" {
			conv.Thread = m.Thread
		}
	}
	msgID := t.newMessageID()
	if conv.Thread == "" {
		conv.Thread = "email-" + localOf(msgID)
	}
	name := s.Name
	if name == "" {
		name = localOf(user)
	}
	raw, err := compose(digestMail{
		FromName: name, FromAddr: from, User: user, To: to,
		Subject:   digestSubject(user, msgs),
		MessageID: msgID, References: conv.Refs, Date: now, Messages: msgs,
	})
	if err != nil {
		return err
	}
	payload, err := json.Marshal(sealedDigest{User: user, Peer: peer, From: from, To: to, MessageID: msgID, Raw: raw, Messages: failMsgs})
	if err != nil {
		return fmt.Errorf("email: seal: %w", err)
	}
	// The mapping first: a reply can only come after the digest went out.
	var lastID string
	if len(msgs) > 0 {
		lastID = msgs[len(msgs)-1].ID
	}
	idp, _ := json.Marshal(idPayload{Thread: conv.Thread})
	if err := t.st.PutIDMapping(ctx, store.IDMapping{Transport: Name, User: user, StanzaID: lastID, RemoteID: msgID,
		Peer: peer, Payload: idp, Created: now}); err != nil {
		return err
	}
	if _, err := t.st.SealDigest(ctx, Name, user, peer, ids, store.QueueItem{
		Transport: DigestQueue, Key: user + " " + peer, RemoteID: msgID, Payload: payload,
		NextAttempt: now, Deadline: now.Add(t.cfg.GiveUpAfter), Created: now,
	}); err != nil {
		return err
	}
	conv.Refs = append(conv.Refs, msgID)
	if err := t.saveConversation(ctx, user, peer, conv); err != nil {
		// The digest is queued; only the next one's threading suffers.
		t.log.Warn("could not save the conversation's references", "user", user, "err", err)
	}
	t.log.Debug("digest sealed", "user", user, "to", to, "messages", len(msgs), "message_id", msgID)
	return nil
}
