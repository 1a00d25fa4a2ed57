// Package transports defines the contract between the XMPP side of xgate (package
// component) and the remote networks (transports/irc, transports/sms,
// transports/email, transports/webhook), the neutral Message that crosses it, the
// classification of delivery errors, and the durable delivery machinery (outbox and
// inbox workers) that every store-and-forward transport shares.
//
// Nothing here dials the XMPP server: a transport talks to users only through the
// Uplink the component hands it.
package transports

import (
	"context"
	"encoding/xml"
	"time"
)

// Identity is the XEP-0030 identity a transport's domain announces,
// for example {Category: "gateway", Type: "sms", Name: "SMS gateway"}.
type Identity struct {
	Category string
	Type     string
	Name     string
}

// Message is the network-neutral form of a chat message, in either direction.
//
// Outbound (XMPP user → network): From is the user's full JID, To the contact's
// JID on the transport's domain (for example "+15551234567@sms.gw.example.org").
// Inbound (network → XMPP user): From is the contact's JID on the domain, To the
// user's bare or full JID.
//
// Message is stored as JSON in the outbox and inbox, so field names are part of
// the on-disk format: add fields, never rename them.
type Message struct {
	// ID is the stanza id the sender gave (or the one xgate gave an inbound message).
	// Errors and receipts refer to it.
	ID string `json:"id,omitempty"`
	// OriginID is the XEP-0359 origin-id, when the sender set one.
	OriginID string `json:"origin_id,omitempty"`
	From     string `json:"from"`
	To       string `json:"to"`
	// Type is the XMPP message type: "chat" (default), "normal", "groupchat".
	Type    string   `json:"type,omitempty"`
	Body    string   `json:"body,omitempty"`
	Subject string   `json:"subject,omitempty"`
	Thread  string   `json:"thread,omitempty"`
	OOB     []string `json:"oob,omitempty"` // XEP-0066 URLs
	// WantReceipt is set when the sender asked for a XEP-0184 receipt.
	WantReceipt bool `json:"want_receipt,omitempty"`
	// RemoteID is the network's id for an inbound message (Twilio SID, Message-ID);
	// the inbox deduplicates on it.
	RemoteID string `json:"remote_id,omitempty"`
	// Stamp is when xgate accepted the message. Inbound messages delivered late
	// carry it as a XEP-0203 delay.
	Stamp time.Time `json:"stamp"`
	// Notice, on an inbox message, makes it a notice about the earlier outbound
	// message whose stanza id is ID (a receipt or an error) instead of a chat.
	// Uplink.Receipt and Uplink.Fail queue such notices, so a user is told even
	// when the stream was down at the time.
	Notice *Notice `json:"notice,omitempty"`
}

// Notice kinds.
const (
	NoticeReceipt = "receipt"
	NoticeError   = "error"
)

// Notice is a receipt or an error about an outbound message (see Message.Notice).
type Notice struct {
	Kind      string `json:"kind"`
	Condition string `json:"condition,omitempty"`
	Text      string `json:"text,omitempty"`
	// Wait marks a temporary error (RFC 6120 error type "wait" instead of "cancel").
	Wait bool `json:"wait,omitempty"`
}

// Transport bridges one remote network. The component hands it what users send to
// its domain (through the outbox, see Worker); it hands the component what arrives
// from the network through the Uplink.
type Transport interface {
	// Name is the short, stable name: "irc", "sms", "email", "webhook".
	// It keys the store's rows and the metrics.
	Name() string
	// Identity is announced in disco#info on the domain.
	Identity() Identity
	// Run runs the inbound side (webhook server, IMAP IDLE, IRC readers) until ctx
	// ends. It returns nil when ctx ends and an error only when it cannot run at all.
	Run(ctx context.Context, up Uplink) error
	// Deliver sends one outbound message to the network. It is called by the outbox
	// worker, never concurrently for the same ordering key. Errors are classified
	// with Temporary and Permanent; an unclassified error counts as temporary.
	// Deliver must honour ctx cancellation.
	Deliver(ctx context.Context, m Message) error
}

// Uplink is how a transport reaches XMPP users. Every method is safe to call from
// any goroutine.
type Uplink interface {
	// Receive persists an inbound message in the inbox (deduplicated on
	// m.RemoteID when it is set) and returns once it is durable; the inbox worker
	// delivers it to the user when the stream is up. inserted is false for a
	// duplicate. This is the call a webhook makes before answering 200.
	Receive(ctx context.Context, m Message) (inserted bool, err error)
	// Send writes one raw stanza to the domain's stream now. It fails with
	// ErrStreamDown while the stream is down; live transports (IRC) buffer and retry.
	Send(ctx context.Context, stanza xml.TokenReader) error
	// Receipt queues a XEP-0184 <received/> for the outbound message m (From and
	// To are those of the original, the receipt goes the other way); nothing when
	// m.WantReceipt is false. Durable like Receive: it returns once queued.
	Receipt(ctx context.Context, m Message) error
	// Fail queues for the sender of the outbound message m a message error stanza
	// with err's condition and text (see ErrorOf). Durable like Receive.
	Fail(ctx context.Context, m Message, err error) error
}

// Field describes one XEP-0077/XEP-0004 registration field of a transport.
type Field struct {
	Var      string   // form field var, e.g. "phone"
	Label    string   // human label
	Type     string   // XEP-0004 type: "text-single" (default), "text-private", "text-multi" (lines joined with "\n"), "list-single", "boolean", "hidden"
	Required bool     //
	Options  []string // for list-single
	Desc     string   // <desc/>
	// Legacy is the legacy jabber:iq:register element name ("username",
	// "password", "email", "phone", "nick", ...) for clients without forms; empty
	// means the field is offered in the form only.
	Legacy string
}

// Registration is what a user registered with a transport.
type Registration struct {
	User     string            // bare JID
	RemoteID string            // the identity on the network: number, address, nick
	Settings map[string]string // other form values, transport-defined
}

// Registrar is implemented by transports that take a registration form.
type Registrar interface {
	// RegistrationFields lists the form fields, in order.
	RegistrationFields() []Field
	// Register validates a submitted form for user (bare JID), given the previous
	// registration (nil for a new one), and returns what to store. A bad field is
	// a FieldError; a clash (number owned by someone else) a Permanent error with
	// condition "conflict".
	Register(ctx context.Context, user string, values map[string]string, prev *Registration) (Registration, error)
	// Unregister releases whatever the registration held (a number, connections).
	Unregister(ctx context.Context, r Registration) error
}

// AddressChecker is implemented by transports whose contact localparts have a
// syntax (E.164, escaped email). The component answers jid-malformed with the
// returned error's text before anything is queued.
type AddressChecker interface {
	CheckAddress(localpart string) error
}

// Prompter is implemented by transports that answer XEP-0100 jabber:iq:gateway:
// a user types "0612345678" and gets the JID localpart back.
type Prompter interface {
	// Prompt is the <desc/> and <prompt/> text, e.g. "Phone number".
	Prompt() (desc, prompt string)
	// Translate turns user input into a contact localpart.
	Translate(input string) (localpart string, err error)
}

// RateKeyer is implemented by transports with per-key send rates (per sending
// number). The worker spaces Deliver calls for the same key by Interval.
type RateKeyer interface {
	// RateKey returns the key m counts against and the minimum interval between
	// two deliveries for that key; an empty key means unlimited.
	RateKey(m Message) (key string, interval time.Duration)
}

// Commander is implemented by transports that add XEP-0050 ad-hoc commands to
// their domain, beside the component's own ("status", "unregister").
type Commander interface {
	Commands() []Command
}

// Command is one ad-hoc command. Execute is called for each step: form is nil on
// the first call, then the submitted values. It returns the next form to show, or
// nil with a final note.
type Command struct {
	Node string
	Name string
	// Admin commands are listed to and run by the component's admins only.
	Admin bool
	// Contact, when set, offers the command on the contact JIDs whose
	// localpart it accepts too (XEP-0050 on a contact: "configure" on an
	// IRC network or room, as biboumi does). It returns the values of the
	// command's first form for that contact: the command then starts at
	// step 1 with them.
	Contact func(local string) (values map[string]string, ok bool)
	Execute func(ctx context.Context, user string, step int, form map[string]string) (next *Form, note string, err error)
}

// Form is an XEP-0004 data form shown by an ad-hoc command step.
type Form struct {
	Title        string
	Instructions string
	Fields       []Field
	Values       map[string]string // current values, shown as defaults
}
