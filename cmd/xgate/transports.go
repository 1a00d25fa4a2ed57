package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"xgate/config"
	"xgate/store"
	"xgate/transports"
)

// builtTransport is one enabled transport with its component settings.
type builtTransport struct {
	common    config.Component
	transport transports.Transport
}

// deps is what a transport builder may use: the whole config (for http.public_url
// and xmpp.domain), the store, the metrics registry, a logger, the operator HTTP mux for webhooks, and
// this process's lease owner id.
type deps struct {
	cfg   *config.Config
	st    store.Store
	reg   prometheus.Registerer
	log   *slog.Logger
	mux   *http.ServeMux
	owner string
}

// builders make each transport from its config section; each lives in its own
// file (transport_<name>.go). A builder returns nil when its section is absent.
func builders() []func(d deps) (*builtTransport, error) {
	return []func(d deps) (*builtTransport, error){buildIRC, buildSMS, buildEmail, buildWebhook}
}

// enabledTransports names the transports whose sections are present.
func enabledTransports(cfg *config.Config) string {
	var names []string
	for _, sec := range cfg.Transports.Enabled() {
		names = append(names, sec.Name)
	}
	return strings.Join(names, ",")
}

// buildTransports makes every enabled transport and mounts its HTTP handlers.
func buildTransports(d deps) ([]builtTransport, error) {
	var out []builtTransport
	for _, build := range builders() {
		b, err := build(d)
		if err != nil {
			return nil, err
		}
		if b != nil {
			out = append(out, *b)
		}
	}
	return out, nil
}

// notImplemented is the answer of a transport whose package has not landed yet.
func notImplemented(name string) error {
	return fmt.Errorf("transports.%s: this transport is not implemented in xgate %s yet; remove the section", name, version)
}
