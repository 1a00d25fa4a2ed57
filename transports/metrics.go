package transports

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of a delivery attempt (label "result").
const (
	resultDelivered = "delivered" // Handle succeeded; the item is done
	resultRetried   = "retried"   // temporary failure; the item is rescheduled
	resultFailed    = "failed"    // the worker gave up; the item is done
)

// Kinds of errors (label "kind").
const (
	kindTemporary = "temporary" // Handle returned a temporary (or unclassified) error
	kindPermanent = "permanent" // Handle returned a permanent error
	kindDeadline  = "deadline"  // a temporary error past the item's deadline (given up)
	kindPanic     = "panic"     // Handle panicked
	kindStore     = "store"     // a store call of the worker failed
)

// Metrics are the delivery workers' Prometheus metrics, shared by every Worker
// of a process (labels tell them apart):
//
//	xgate_queue_depth{transport,queue}                   unfinished items (gauge, refreshed every few seconds)
//	xgate_delivery_attempts_total{transport,queue,result} attempts by result: delivered, retried, failed
//	xgate_delivery_errors_total{transport,queue,kind}     errors: temporary, permanent, deadline, panic, store
//	xgate_delivery_latency_seconds{transport,queue}       enqueue → delivered (histogram)
//
// A nil *Metrics records nothing.
type Metrics struct {
	depth    *prometheus.GaugeVec
	attempts *prometheus.CounterVec
	errors   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics creates the metrics and registers them with reg (none when reg is
// nil). Calling it twice with the same registry returns metrics that share the
// collectors registered first.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "xgate_queue_depth",
			Help: "Unfinished items in a transport's outbox or inbox.",
		}, []string{"transport", "queue"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xgate_delivery_attempts_total",
			Help: "Delivery attempts by result: delivered, retried (temporary failure), failed (given up).",
		}, []string{"transport", "queue", "result"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xgate_delivery_errors_total",
			Help: "Delivery errors by kind: temporary, permanent, deadline, panic, store.",
		}, []string{"transport", "queue", "kind"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "xgate_delivery_latency_seconds",
			Help:    "Time from enqueue to successful delivery.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10), // 10ms … 44min
		}, []string{"transport", "queue"}),
	}
	if reg != nil {
		m.depth = RegisterCollector(reg, m.depth)
		m.attempts = RegisterCollector(reg, m.attempts)
		m.errors = RegisterCollector(reg, m.errors)
		m.latency = RegisterCollector(reg, m.latency)
	}
	return m
}

// RegisterCollector registers c with reg, or returns the identical collector
// registered before (a second NewMetrics on the same registry). Any other
// registration error leaves c unregistered: metric names are fixed in code, so
// that can only come from another collector squatting on them. Every package's
// metrics use it, so none panics on a shared registry.
func RegisterCollector[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if prev, ok := are.ExistingCollector.(C); ok {
			return prev
		}
	}
	return c
}

func (m *Metrics) setDepth(transport, queue string, n int) {
	if m != nil {
		m.depth.WithLabelValues(transport, queue).Set(float64(n))
	}
}

func (m *Metrics) result(transport, queue, result string) {
	if m != nil {
		m.attempts.WithLabelValues(transport, queue, result).Inc()
	}
}

func (m *Metrics) errorKind(transport, queue, kind string) {
	if m != nil {
		m.errors.WithLabelValues(transport, queue, kind).Inc()
	}
}

func (m *Metrics) storeError(transport, queue string) { m.errorKind(transport, queue, kindStore) }

func (m *Metrics) observeLatency(transport, queue string, d time.Duration) {
	if m != nil {
		m.latency.WithLabelValues(transport, queue).Observe(max(d, 0).Seconds())
	}
}
