package component

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"

	"xgate/store"
	"xgate/transports"
)

// Defaults for the zero values of GatewayConfig.
const (
	DefaultMaxStanzaSize = 64 << 10
	DefaultGiveUpAfter   = 24 * time.Hour
)

const (
	// inlineTimeout bounds the store calls a handler makes on the reader
	// goroutine.
	inlineTimeout = 10 * time.Second
	// asyncTimeout bounds one request handled off the reader goroutine
	// (registration, commands): the transport's call and the answer.
	asyncTimeout = 30 * time.Second
	// maxAsync caps the requests handled off the reader goroutine at once;
	// past it requests are refused with resource-constraint.
	maxAsync = 32
)

// GatewayConfig configures one domain: its stream, who may use it, and its
// durable workers.
type GatewayConfig struct {
	// Domain is the component domain (sms.gw.example.org); ServerDomain the
	// XMPP server's own domain (config xmpp.domain). Empty ServerDomain: the
	// parent of Domain.
	Domain, ServerDomain string
	// Secret is the component secret; never logged.
	Secret []byte
	// Server is host:port of the server's component listener.
	Server string
	// Stream tuning (see StreamConfig); zero values use its defaults.
	Keepalive, KeepaliveTimeout, ReconnectMax time.Duration
	// MaxStanzaSize caps, in bytes, the text of a message (body, subject and
	// OOB URLs) and, with some slack for addressing, any stanza. Zero:
	// DefaultMaxStanzaSize.
	MaxStanzaSize int
	// Allow lists bare JIDs and domains that may use the domain; empty means
	// [ServerDomain]. Admins are bare JIDs that see admin commands.
	Allow, Admins []string
	// Version is announced in XEP-0092.
	Version string
	// GiveUpAfter is how long an outbound message is retried before its
	// sender gets an error (zero: DefaultGiveUpAfter). RetryMin and RetryMax
	// bound the retry backoff, Workers the concurrent deliveries (zero values
	// use the worker's defaults).
	GiveUpAfter, RetryMin, RetryMax time.Duration
	Workers                         int
	// Lease is how long a claimed queue item is reserved for this process
	// (renewed while it lives: after a crash, items come back after at most
	// Lease); HandleTimeout bounds one delivery attempt. Zero values use the
	// worker's defaults (30s and 2m).
	Lease, HandleTimeout time.Duration
	// Owner names this process in queue leases; empty: hostname-pid.
	Owner string
	// Dial opens the TCP connection to Server; nil uses a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger defaults to discarding; Metrics and WorkerMetrics may be nil.
	Logger        *slog.Logger
	Metrics       *Metrics
	WorkerMetrics *transports.Metrics
}

// Gateway serves one domain: it owns the domain's Stream, routes what the
// server sends (HandleXMPP), is the transport's Uplink, and runs the outbox
// worker (users → network) and the inbox worker (network → users).
//
// Goroutine safety: Up, Domain and the Uplink methods are safe from any
// goroutine; HandleXMPP is called by the Stream's reader; Run is called once.
type Gateway struct {
	cfg          GatewayConfig
	t            transports.Transport
	st           store.Store
	log          *slog.Logger
	m            *Metrics
	domain       jid.JID
	serverDomain string
	identity     transports.Identity
	access       accessList
	admins       map[string]struct{}
	maxEnvelope  int

	// Optional interfaces of t, resolved once.
	registrar transports.Registrar
	checker   transports.AddressChecker
	prompter  transports.Prompter
	commander transports.Commander
	receipts  bool

	mux      *mux.ServeMux
	stream   *Stream
	out      sender // the stream; tests replace it
	outbox   *transports.Worker
	inbox    *transports.Worker
	sessions *commandSessions
	help     helpLimiter

	// Work handed off the reader goroutine.
	life     context.Context
	stopLife context.CancelFunc
	asyncSem chan struct{}
	asyncWG  sync.WaitGroup
	asyncMu  sync.Mutex // orders asyncWG.Add against the drain's Wait
	draining bool       // guarded by asyncMu: no new async work

	// stopping ends when Run's context does: waits that would hold up the
	// drain watch it. Set by Run before the workers start.
	stopping context.Context

	// Hooks for tests: clock, ids, what happens after an Enqueue, and the
	// wait for the stream.
	now        func() time.Time
	newID      func() string
	wakeOutbox func()
	wakeInbox  func()
	waitUp     func(context.Context) error

	running atomic.Bool
}

// sender is what the Gateway needs to write stanzas off the reader goroutine.
type sender interface {
	Send(ctx context.Context, r xml.TokenReader) error
}

// NewGateway checks cfg and builds the Gateway of t's domain on st. Nothing
// connects before Run.
func NewGateway(cfg GatewayConfig, t transports.Transport, st store.Store) (*Gateway, error) {
	if t == nil || st == nil {
		return nil, errors.New("component: gateway needs a transport and a store")
	}
	domain, err := jid.Parse(cfg.Domain)
	if err != nil || domain.Localpart() != "" || domain.Resourcepart() != "" {
		return nil, fmt.Errorf("component: domain %q: not a valid domain", cfg.Domain)
	}
	cfg.Domain = domain.String()
	if cfg.ServerDomain == "" {
		_, parent, ok := strings.Cut(domain.Domainpart(), ".")
		if !ok || parent == "" {
			return nil, fmt.Errorf("component: %s: no server domain (set xmpp.domain)", cfg.Domain)
		}
		cfg.ServerDomain = parent
	}
	server, err := jid.Parse(cfg.ServerDomain)
	if err != nil || server.Localpart() != "" || server.Resourcepart() != "" {
		return nil, fmt.Errorf("component: %s: server domain %q: not a valid domain", cfg.Domain, cfg.ServerDomain)
	}
	if cfg.MaxStanzaSize <= 0 {
		cfg.MaxStanzaSize = DefaultMaxStanzaSize
	}
	if cfg.GiveUpAfter <= 0 {
		cfg.GiveUpAfter = DefaultGiveUpAfter
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		cfg.Owner = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	allow := cfg.Allow
	if len(allow) == 0 {
		allow = []string{server.Domainpart()}
	}
	access, err := newAccessList(allow)
	if err != nil {
		return nil, fmt.Errorf("component: %s: allow: %w", cfg.Domain, err)
	}
	admins := map[string]struct{}{}
	for _, a := range cfg.Admins {
		j, err := jid.Parse(a)
		if err != nil || j.Localpart() == "" {
			return nil, fmt.Errorf("component: %s: admin %q: not a bare JID", cfg.Domain, a)
		}
		admins[j.Bare().String()] = struct{}{}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	g := &Gateway{
		cfg:          cfg,
		t:            t,
		st:           st,
		log:          logger.With("domain", cfg.Domain),
		m:            cfg.Metrics,
		domain:       domain,
		serverDomain: server.Domainpart(),
		identity:     t.Identity(),
		access:       access,
		admins:       admins,
		maxEnvelope:  cfg.MaxStanzaSize + envelopeSlack,
		sessions:     newCommandSessions(),
		asyncSem:     make(chan struct{}, maxAsync),
		now:          time.Now,
		newID:        randomID,
	}
	g.life, g.stopLife = context.WithCancel(context.Background())
	g.registrar, _ = t.(transports.Registrar)
	g.checker, _ = t.(transports.AddressChecker)
	g.prompter, _ = t.(transports.Prompter)
	g.commander, _ = t.(transports.Commander)
	if ra, ok := t.(ReceiptAnnouncer); ok {
		g.receipts = ra.SendsReceipts()
	}
	if g.identity.Category == "" {
		g.identity.Category = "gateway"
	}
	if g.identity.Type == "" {
		g.identity.Type = t.Name()
	}
	g.mux = g.newMux()

	g.stream = NewStream(StreamConfig{
		Server:           cfg.Server,
		Domain:           cfg.Domain,
		ServerDomain:     cfg.ServerDomain,
		Secret:           cfg.Secret,
		Keepalive:        cfg.Keepalive,
		KeepaliveTimeout: cfg.KeepaliveTimeout,
		ReconnectMax:     cfg.ReconnectMax,
		Dial:             cfg.Dial,
		Logger:           logger,
		Metrics:          cfg.Metrics,
	}, g)
	g.out = g.stream
	g.waitUp = g.stream.WaitUp

	workerLog := g.log
	g.outbox = &transports.Worker{
		Queue:         st.Outbox(),
		Transport:     t.Name(),
		QueueName:     "outbox",
		Owner:         cfg.Owner,
		Handle:        transports.DeliverFunc(t),
		OnGiveUp:      g.outboxGiveUp,
		RetryMin:      cfg.RetryMin,
		RetryMax:      cfg.RetryMax,
		Concurrency:   cfg.Workers,
		Lease:         cfg.Lease,
		HandleTimeout: cfg.HandleTimeout,
		Logger:        workerLog,
		Metrics:       cfg.WorkerMetrics,
	}
	if rk, ok := t.(transports.RateKeyer); ok {
		g.outbox.RateKey = transports.RateKeyFunc(rk)
	}
	g.inbox = &transports.Worker{
		Queue:         st.Inbox(),
		Transport:     t.Name(),
		QueueName:     "inbox",
		Owner:         cfg.Owner,
		Handle:        g.deliverInbound,
		OnGiveUp:      g.inboxGiveUp,
		RetryMin:      cfg.RetryMin,
		RetryMax:      min(cfg.RetryMax, inboxRetryMax),
		Concurrency:   cfg.Workers,
		Lease:         cfg.Lease,
		HandleTimeout: cfg.HandleTimeout,
		Logger:        workerLog,
		Metrics:       cfg.WorkerMetrics,
	}
	if cfg.RetryMax <= 0 {
		g.inbox.RetryMax = inboxRetryMax
	}
	g.wakeOutbox = g.outbox.Wake
	g.wakeInbox = g.inbox.Wake
	return g, nil
}

// Domain is the component domain this Gateway serves.
func (g *Gateway) Domain() string { return g.cfg.Domain }

// Up reports whether the domain's stream is up.
func (g *Gateway) Up() bool { return g.stream.Up() }

// Stream is the domain's stream (for health checks and tests).
func (g *Gateway) Stream() *Stream { return g.stream }

// Run runs the domain until ctx ends: the stream (reconnecting as needed), the
// transport's inbound side with the Gateway as its Uplink, the outbox and
// inbox workers, and a watcher that wakes the inbox whenever the stream comes
// up. When ctx ends, the transport and the workers stop and drain their
// in-flight work (which may still write to the stream), requests being
// handled off the reader goroutine finish, and only then is the stream
// closed. It returns an error when a part cannot run at all (a bad stream
// configuration, a transport that fails to start); the other parts are then
// stopped the same way.
func (g *Gateway) Run(ctx context.Context) error {
	if !g.running.CompareAndSwap(false, true) {
		return fmt.Errorf("component: %s: Run called twice", g.cfg.Domain)
	}
	defer g.stopLife()

	// The stream outlives ctx until the drain is over.
	streamCtx, stopStream := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStream()
	streamDone := make(chan error, 1)
	go func() { streamDone <- g.stream.Run(streamCtx) }()

	g.stopping = ctx
	workCtx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
		stopWork()
	}
	start := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(workCtx); err != nil && workCtx.Err() == nil {
				fail(fmt.Errorf("component: %s: %s: %w", g.cfg.Domain, name, err))
			}
		}()
	}
	start("transport "+g.t.Name(), func(ctx context.Context) error { return g.t.Run(ctx, g) })
	start("outbox", g.outbox.Run)
	start("inbox", g.inbox.Run)
	start("stream watch", g.watchStream)

	streamEnded := false
	select {
	case <-workCtx.Done():
	case err := <-streamDone:
		streamEnded = true
		if err == nil {
			err = errors.New("stream stopped")
		}
		fail(err)
	}
	wg.Wait()
	g.asyncMu.Lock()
	g.draining = true
	g.asyncMu.Unlock()
	g.asyncWG.Wait()
	stopStream()
	if !streamEnded {
		<-streamDone
	}
	errMu.Lock()
	defer errMu.Unlock()
	return firstErr
}

// watchStream wakes the inbox (and the outbox, whose give-up notices need
// the stream) every time the stream comes up.
func (g *Gateway) watchStream(ctx context.Context) error {
	for {
		up, changed := g.stream.Watch()
		if up {
			g.wakeInbox()
			g.wakeOutbox()
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		}
	}
}

// inlineContext bounds the store calls of a handler on the reader goroutine.
func (g *Gateway) inlineContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(g.life, inlineTimeout)
}

// async runs f off the reader goroutine with a bounded context, and reports
// false when too many requests are already being handled or Run is draining
// (the caller then answers resource-constraint). Run waits for these before
// closing the stream.
func (g *Gateway) async(f func(ctx context.Context)) bool {
	g.asyncMu.Lock()
	defer g.asyncMu.Unlock()
	if g.draining {
		return false
	}
	select {
	case g.asyncSem <- struct{}{}:
	default:
		return false
	}
	g.asyncWG.Add(1)
	go func() {
		defer g.asyncWG.Done()
		defer func() { <-g.asyncSem }()
		ctx, cancel := context.WithTimeout(g.life, asyncTimeout)
		defer cancel()
		f(ctx)
	}()
	return true
}

// send writes a stanza from off the reader goroutine and logs a failure: the
// answers sent this way have nobody else to report to.
func (g *Gateway) send(ctx context.Context, r xml.TokenReader) {
	if err := g.out.Send(ctx, r); err != nil {
		g.m.Error(g.cfg.Domain, "reply")
		g.log.Debug("could not send reply", "err", err)
	}
}

// checkAddress applies the transport's AddressChecker, if any.
func (g *Gateway) checkAddress(local string) error {
	if g.checker == nil {
		return nil
	}
	return g.checker.CheckAddress(local)
}

// isAdmin reports whether from is one of the configured admins.
func (g *Gateway) isAdmin(from jid.JID) bool {
	_, ok := g.admins[from.Bare().String()]
	return ok
}

// sendAll sends stanzas in order from off the reader goroutine, one Send per
// stanza (Send writes one element).
func (g *Gateway) sendAll(ctx context.Context, stanzas ...xml.TokenReader) {
	for _, r := range stanzas {
		g.send(ctx, r)
	}
}
