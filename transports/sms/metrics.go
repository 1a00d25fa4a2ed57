package sms

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts what the SMS transport sends and receives. A nil Registerer
// gives working, unregistered collectors.
type metrics struct {
	sends    *prometheus.CounterVec // by result
	segments prometheus.Counter
	refusals *prometheus.CounterVec // by reason, before any API call
	inbound  *prometheus.CounterVec // webhook requests by kind and result
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xgate_sms_sends_total",
			Help: "Twilio message creations by result: accepted, temporary_error, permanent_error.",
		}, []string{"result"}),
		segments: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xgate_sms_segments_total",
			Help: "SMS segments accepted by Twilio (what the operator pays for).",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xgate_sms_refused_total",
			Help: "Messages refused before sending, by reason: daily_cap, country, too_long.",
		}, []string{"reason"}),
		inbound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xgate_sms_webhooks_total",
			Help: "Twilio webhook requests by kind (incoming, status, media) and result.",
		}, []string{"kind", "result"}),
	}
	if reg != nil {
		m.sends = register(reg, m.sends)
		m.segments = register(reg, m.segments)
		m.refusals = register(reg, m.refusals)
		m.inbound = register(reg, m.inbound)
	}
	return m
}

// register registers c or returns the identical collector registered before.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
	}
	return c
}

func (m *metrics) sent(result string, segments int) {
	m.sends.WithLabelValues(result).Inc()
	m.segments.Add(float64(segments))
}

func (m *metrics) refused(reason string) { m.refusals.WithLabelValues(reason).Inc() }

func (m *metrics) webhook(kind, result string) { m.inbound.WithLabelValues(kind, result).Inc() }
