package component

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"xgate/store"
	"xgate/transports"
)

// fakeTransport is a Transport that is also a Registrar, AddressChecker,
// Prompter and Commander. Its contacts are E.164 numbers.
type fakeTransport struct {
	mu           sync.Mutex
	fields       []transports.Field
	registerErr  error
	unregistered []transports.Registration
	delivered    chan transports.Message
	deliverErr   func(transports.Message) error
	commands     []transports.Command
	up           chan transports.Uplink
	receipts     bool
}

func newFakeTransport() *fakeTransport {
	return &fakeTransport{
		fields: []transports.Field{
			{Var: "phone", Label: "Phone number", Required: true, Legacy: "phone", Desc: "Your number in E.164"},
			{Var: "password", Label: "Password", Type: "text-private", Legacy: "password"},
			{Var: "mode", Label: "Mode", Type: "list-single", Options: []string{"sms", "mms"}},
		},
		delivered: make(chan transports.Message, 16),
		up:        make(chan transports.Uplink, 1),
	}
}

func (f *fakeTransport) Name() string { return "sms" }
func (f *fakeTransport) Identity() transports.Identity {
	return transports.Identity{Category: "gateway", Type: "sms", Name: "SMS gateway"}
}

func (f *fakeTransport) Run(ctx context.Context, up transports.Uplink) error {
	f.up <- up
	<-ctx.Done()
	return nil
}

func (f *fakeTransport) Deliver(ctx context.Context, m transports.Message) error {
	if f.deliverErr != nil {
		if err := f.deliverErr(m); err != nil {
			return err
		}
	}
	f.delivered <- m
	return nil
}

func (f *fakeTransport) RegistrationFields() []transports.Field { return f.fields }

func (f *fakeTransport) Register(ctx context.Context, user string, values map[string]string, prev *transports.Registration) (transports.Registration, error) {
	if f.registerErr != nil {
		return transports.Registration{}, f.registerErr
	}
	if !strings.HasPrefix(values["phone"], "+") {
		return transports.Registration{}, &transports.FieldError{Field: "phone", Reason: "must start with +"}
	}
	settings := map[string]string{}
	for k, v := range values {
		settings[k] = v
	}
	return transports.Registration{User: user, RemoteID: values["phone"], Settings: settings}, nil
}

func (f *fakeTransport) Unregister(ctx context.Context, r transports.Registration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unregistered = append(f.unregistered, r)
	return nil
}

func (f *fakeTransport) CheckAddress(local string) error {
	if len(local) < 2 || local[0] != '+' {
		return fmt.Errorf("%s is not a phone number in international format (+15551234567)", local)
	}
	for _, c := range local[1:] {
		if c < '0' || c > '9' {
			return fmt.Errorf("%s is not a phone number in international format (+15551234567)", local)
		}
	}
	return nil
}

func (f *fakeTransport) Prompt() (string, string) {
	return "Enter the phone number of the contact", "Phone number"
}

func (f *fakeTransport) Translate(input string) (string, error) {
	s := strings.ReplaceAll(input, " ", "")
	if strings.HasPrefix(s, "0") && len(s) == 10 {
		return "+33" + s[1:], nil
	}
	if err := f.CheckAddress(s); err != nil {
		return "", err
	}
	return s, nil
}

func (f *fakeTransport) Commands() []transports.Command { return f.commands }

func (f *fakeTransport) SendsReceipts() bool { return f.receipts }

// plainTransport has none of the optional interfaces.
type plainTransport struct{}

func (plainTransport) Name() string                                            { return "webhook" }
func (plainTransport) Identity() transports.Identity                           { return transports.Identity{} }
func (plainTransport) Run(ctx context.Context, up transports.Uplink) error     { <-ctx.Done(); return nil }
func (plainTransport) Deliver(ctx context.Context, m transports.Message) error { return nil }

// fakeStore is an in-memory store.Store, good enough for the component's
// tests: registrations, and two queues with leases, per-key ordering and
// remote-id deduplication.
type fakeStore struct {
	mu     sync.Mutex
	regs   map[string]store.Registration // transport|user
	outbox *fakeQueue
	inbox  *fakeQueue
	fail   error // returned by every registration call when set
}

func newFakeStore() *fakeStore {
	return &fakeStore{regs: map[string]store.Registration{}, outbox: &fakeQueue{}, inbox: &fakeQueue{}}
}

func (s *fakeStore) Ping(ctx context.Context) error { return nil }
func (s *fakeStore) Close() error                   { return nil }

func (s *fakeStore) PutRegistration(ctx context.Context, r store.Registration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return false, s.fail
	}
	if r.RemoteID != "" {
		for _, o := range s.regs {
			if o.Transport == r.Transport && o.RemoteID == r.RemoteID && o.User != r.User {
				return false, &store.ConflictError{Transport: r.Transport, RemoteID: r.RemoteID, Owner: o.User}
			}
		}
	}
	k := r.Transport + "|" + r.User
	old, exists := s.regs[k]
	if exists {
		r.Created = old.Created
	}
	s.regs[k] = r
	return !exists, nil
}

func (s *fakeStore) GetRegistration(ctx context.Context, transport, user string) (store.Registration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return store.Registration{}, s.fail
	}
	r, ok := s.regs[transport+"|"+user]
	if !ok {
		return store.Registration{}, store.ErrNotFound
	}
	return r, nil
}

func (s *fakeStore) FindRegistration(ctx context.Context, transport, remoteID string) (store.Registration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.regs {
		if r.Transport == transport && r.RemoteID == remoteID {
			return r, nil
		}
	}
	return store.Registration{}, store.ErrNotFound
}

func (s *fakeStore) ListRegistrations(ctx context.Context, transport string) ([]store.Registration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Registration
	for _, r := range s.regs {
		if r.Transport == transport {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].User < out[j].User })
	return out, nil
}

func (s *fakeStore) DeleteRegistration(ctx context.Context, transport, user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := transport + "|" + user
	if _, ok := s.regs[k]; !ok {
		return store.ErrNotFound
	}
	delete(s.regs, k)
	return nil
}

func (s *fakeStore) PutContact(ctx context.Context, c store.Contact) error { return nil }
func (s *fakeStore) GetContact(ctx context.Context, transport, user, remote string) (store.Contact, error) {
	return store.Contact{}, store.ErrNotFound
}
func (s *fakeStore) ListContacts(ctx context.Context, transport, user string) ([]store.Contact, error) {
	return nil, nil
}
func (s *fakeStore) DeleteContact(ctx context.Context, transport, user, remote string) error {
	return nil
}
func (s *fakeStore) PutIDMapping(ctx context.Context, m store.IDMapping) error { return nil }
func (s *fakeStore) IDByRemote(ctx context.Context, transport, remoteID string) (store.IDMapping, error) {
	return store.IDMapping{}, store.ErrNotFound
}
func (s *fakeStore) IDByStanza(ctx context.Context, transport, user, stanzaID string) (store.IDMapping, error) {
	return store.IDMapping{}, store.ErrNotFound
}
func (s *fakeStore) PruneIDMappings(ctx context.Context, before time.Time) (int64, error) {
	return 0, nil
}
func (s *fakeStore) Outbox() store.Queue { return s.outbox }
func (s *fakeStore) Inbox() store.Queue  { return s.inbox }

type fakeItem struct {
	store.QueueItem
	done       bool
	owner      string
	leaseUntil time.Time
}

type fakeQueue struct {
	mu    sync.Mutex
	items []*fakeItem
	fail  error // returned by Enqueue when set
}

func (q *fakeQueue) Enqueue(ctx context.Context, it store.QueueItem) (int64, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return 0, false, q.fail
	}
	if it.RemoteID != "" {
		for _, o := range q.items {
			if o.Transport == it.Transport && o.RemoteID == it.RemoteID {
				return o.ID, false, nil
			}
		}
	}
	it.ID = int64(len(q.items) + 1)
	q.items = append(q.items, &fakeItem{QueueItem: it})
	return it.ID, true, nil
}

func (q *fakeQueue) Claim(ctx context.Context, transport, owner string, now time.Time, lease time.Duration, limit int) ([]store.QueueItem, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	seen := map[string]bool{}
	var out []store.QueueItem
	for _, it := range q.items {
		if it.done || it.Transport != transport || seen[it.Key] {
			continue
		}
		seen[it.Key] = true // only the oldest unfinished item of a key
		if it.NextAttempt.After(now) || it.leaseUntil.After(now) || len(out) >= limit {
			continue
		}
		it.owner, it.leaseUntil = owner, now.Add(lease)
		out = append(out, it.QueueItem)
	}
	return out, nil
}

func (q *fakeQueue) find(id int64) (*fakeItem, error) {
	for _, it := range q.items {
		if it.ID == id {
			return it, nil
		}
	}
	return nil, store.ErrNotFound
}

func (q *fakeQueue) Complete(ctx context.Context, id int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, err := q.find(id)
	if err != nil {
		return err
	}
	it.done = true
	return nil
}

func (q *fakeQueue) Retry(ctx context.Context, id int64, next time.Time, lastErr string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, err := q.find(id)
	if err != nil {
		return err
	}
	it.Attempts++
	it.NextAttempt = next
	it.LastError = lastErr
	it.leaseUntil = time.Time{}
	return nil
}

func (q *fakeQueue) Extend(ctx context.Context, owner string, ids []int64, until time.Time) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, id := range ids {
		if it, err := q.find(id); err == nil && !it.done && owner != "" && it.owner == owner && !it.leaseUntil.IsZero() {
			it.leaseUntil = until
			n++
		}
	}
	return n, nil
}

func (q *fakeQueue) Depth(ctx context.Context, transport string) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, it := range q.items {
		if !it.done && (transport == "" || it.Transport == transport) {
			n++
		}
	}
	return n, nil
}

func (q *fakeQueue) Prune(ctx context.Context, before time.Time) (int64, error) { return 0, nil }

// all returns copies of every item, done or not.
func (q *fakeQueue) all() []store.QueueItem {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]store.QueueItem, len(q.items))
	for i, it := range q.items {
		out[i] = it.QueueItem
	}
	return out
}

var errStoreDown = errors.New("fake store: down")

func storeItem(transport, key string, payload []byte) store.QueueItem {
	return store.QueueItem{Transport: transport, Key: key, Payload: payload}
}
