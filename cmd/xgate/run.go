package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"xgate/component"
	"xgate/config"
	"xgate/store"
	"xgate/transports"
)

// errConfig marks run errors that come from the configuration (exit code 2).
var errConfig = errors.New("configuration")

// drainTimeout bounds the graceful shutdown: in-flight deliveries finish, the
// streams close, the HTTP server stops.
const drainTimeout = 15 * time.Second

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// instanceID names this process as a lease owner in the store's queues.
func instanceID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// run wires the store, the transports and one gateway per enabled domain, serves
// /metrics and /healthz, and runs until ctx ends; then it drains.
func run(ctx context.Context, cfg *config.Config, logw io.Writer) error {
	log := newLogger(cfg.Log, logw)
	log.Info("xgate starting", "version", version, "server", cfg.XMPP.Server, "transports", enabledTransports(cfg))

	st, err := store.Open(ctx, cfg.Store.Driver, cfg.Store.DSN)
	if err != nil {
		return fmt.Errorf("open store (%s): %w", cfg.Store.Driver, err)
	}
	defer st.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cmetrics := component.NewMetrics(reg)
	wmetrics := transports.NewMetrics(reg)

	mux := http.NewServeMux()
	owner := instanceID()
	built, err := buildTransports(deps{cfg: cfg, st: st, reg: reg, log: log, mux: mux, owner: owner})
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}

	var gateways []*component.Gateway
	for _, b := range built {
		g, err := component.NewGateway(component.GatewayConfig{
			Domain:           b.common.Domain,
			ServerDomain:     cfg.XMPP.Domain,
			Secret:           []byte(b.common.Secret),
			Server:           cfg.XMPP.Server,
			Keepalive:        cfg.XMPP.Keepalive,
			KeepaliveTimeout: cfg.XMPP.KeepaliveTimeout,
			ReconnectMax:     cfg.XMPP.ReconnectMax,
			MaxStanzaSize:    cfg.XMPP.MaxStanzaSize,
			Allow:            allowList(b.common.Allow, cfg.XMPP.Domain),
			Admins:           b.common.Admins,
			Version:          version,
			GiveUpAfter:      cfg.Delivery.GiveUpAfter,
			RetryMin:         cfg.Delivery.RetryMin,
			RetryMax:         cfg.Delivery.RetryMax,
			Workers:          cfg.Delivery.Workers,
			Lease:            cfg.Delivery.Lease,
			HandleTimeout:    cfg.Delivery.HandleTimeout,
			Owner:            owner,
			Logger:           log.With("transport", b.transport.Name()), // the gateway adds the domain
			Metrics:          cmetrics,
			WorkerMetrics:    wmetrics,
		}, b.transport, st)
		if err != nil {
			return fmt.Errorf("%s: %w", b.common.Domain, err)
		}
		gateways = append(gateways, g)
	}

	mux.Handle("GET /metrics", promhttpHandler(reg))
	mux.Handle("GET /healthz", healthz(st, gateways))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen %s: %w", cfg.HTTP.Listen, err)
	}
	log.Info("http listening", "addr", ln.Addr().String())

	var wg sync.WaitGroup
	errc := make(chan error, len(gateways)+1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	gctx, cancelGateways := context.WithCancel(ctx)
	defer cancelGateways()
	for _, g := range gateways {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.Run(gctx); err != nil {
				errc <- fmt.Errorf("%s: %w", g.Domain(), err)
			}
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: draining in-flight work")
	case runErr = <-errc:
		log.Error("stopping after a fatal error", "err", runErr)
	}
	cancelGateways()
	shutCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		log.Info("stopped")
	case <-shutCtx.Done():
		log.Warn("shutdown timed out; unfinished work stays queued", "timeout", drainTimeout)
	}
	return runErr
}

// allowList is a transport's access list: what the operator listed, or the XMPP
// server's own domain.
func allowList(allow []string, serverDomain string) []string {
	if len(allow) > 0 {
		return allow
	}
	return []string{serverDomain}
}

// healthz answers 200 only when every stream is up and the store answers.
func healthz(st store.Store, gateways []*component.Gateway) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var problems []string
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			problems = append(problems, "store: not answering")
		}
		for _, g := range gateways {
			if !g.Up() {
				problems = append(problems, g.Domain()+": stream down")
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if len(problems) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, strings.Join(problems, "\n"))
			return
		}
		fmt.Fprintln(w, "ok")
	})
}

// migrate creates or upgrades the schema and says what it did. `xgate run`
// migrates by itself; this is for operators who upgrade the schema first.
func migrate(ctx context.Context, cfg *config.Config, out io.Writer) error {
	st, err := store.OpenWith(ctx, cfg.Store.Driver, cfg.Store.DSN, store.OpenOptions{NoMigrate: true})
	if err != nil {
		return err
	}
	defer st.Close()
	from, to, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	if from == to {
		fmt.Fprintf(out, "database schema is up to date (%s, version %d)\n", cfg.Store.Driver, to)
		return nil
	}
	fmt.Fprintf(out, "database schema migrated from version %d to %d (%s)\n", from, to, cfg.Store.Driver)
	return nil
}
