package component

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"xgate/transports"
)

// Metrics are the Prometheus series of the XMPP side. One *Metrics is shared
// by every stream and by the router; all methods are safe for concurrent use
// and do nothing on a nil *Metrics, so callers never need to check.
//
// Series (every one labelled by the component domain):
//
//	xgate_stanzas_total{domain,direction}        direction: "in" | "out"
//	xgate_stream_up{domain}                      1 while the stream is up
//	xgate_stream_reconnects_total{domain,reason} one per failed attempt or lost stream
//	xgate_errors_total{domain,kind}              errors by kind (small fixed set per caller)
//	xgate_keepalive_rtt_seconds{domain}          round trip of the XEP-0199 keepalive ping
//
// Label values must come from a small fixed set (reasons and kinds are
// constants in code, domains come from the configuration), never from
// stanzas, so the series count stays bounded.
type Metrics struct {
	stanzas    *prometheus.CounterVec
	up         *prometheus.GaugeVec
	reconnects *prometheus.CounterVec
	errors     *prometheus.CounterVec
	pingRTT    *prometheus.HistogramVec
}

// NewMetrics creates the series and registers them with reg. A nil reg gives
// unregistered metrics (useful in tests). If reg already holds an identical
// collector (a second NewMetrics on the same registry), that one is reused
// rather than failing.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		stanzas: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "xgate",
			Name:      "stanzas_total",
			Help:      "Stanzas read from (in) and written to (out) the XMPP server, per component domain.",
		}, []string{"domain", "direction"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "xgate",
			Name:      "stream_up",
			Help:      "1 while the component stream of the domain is up, 0 otherwise.",
		}, []string{"domain"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "xgate",
			Name:      "stream_reconnects_total",
			Help:      "Reconnections scheduled after a failed attempt or a lost stream, by reason.",
		}, []string{"domain", "reason"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "xgate",
			Name:      "errors_total",
			Help:      "Errors by kind, per component domain.",
		}, []string{"domain", "kind"}),
		pingRTT: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "xgate",
			Name:      "keepalive_rtt_seconds",
			Help:      "Round trip time of the XEP-0199 keepalive ping to the XMPP server.",
			Buckets:   []float64{.001, .005, .01, .05, .1, .5, 1, 5, 15},
		}, []string{"domain"}),
	}
	if reg == nil {
		return m
	}
	m.stanzas = transports.RegisterCollector(reg, m.stanzas)
	m.up = transports.RegisterCollector(reg, m.up)
	m.reconnects = transports.RegisterCollector(reg, m.reconnects)
	m.errors = transports.RegisterCollector(reg, m.errors)
	m.pingRTT = transports.RegisterCollector(reg, m.pingRTT)
	return m
}

// StanzaIn counts one stanza read from the server for domain.
func (m *Metrics) StanzaIn(domain string) {
	if m == nil {
		return
	}
	m.stanzas.WithLabelValues(domain, "in").Inc()
}

// StanzaOut counts one stanza written to the server for domain.
func (m *Metrics) StanzaOut(domain string) {
	if m == nil {
		return
	}
	m.stanzas.WithLabelValues(domain, "out").Inc()
}

// Error counts one error of kind (a short constant such as "write",
// "handler", "queue_full") for domain.
func (m *Metrics) Error(domain, kind string) {
	if m == nil {
		return
	}
	m.errors.WithLabelValues(domain, kind).Inc()
}

// StreamUp sets the stream state gauge of domain.
func (m *Metrics) StreamUp(domain string, up bool) {
	if m == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.up.WithLabelValues(domain).Set(v)
}

// Reconnect counts one scheduled reconnection of domain and why
// (see the reason constants in stream.go).
func (m *Metrics) Reconnect(domain, reason string) {
	if m == nil {
		return
	}
	m.reconnects.WithLabelValues(domain, reason).Inc()
}

// PingRTT records the round trip of one answered keepalive ping.
func (m *Metrics) PingRTT(domain string, d time.Duration) {
	if m == nil {
		return
	}
	m.pingRTT.WithLabelValues(domain).Observe(d.Seconds())
}
