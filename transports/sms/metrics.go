package sms

import (
	"github.com/prometheus/client_golang/prometheus"

	"xgate/transports"
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
		m.sends = transports.RegisterCollector(reg, m.sends)
		m.segments = transports.RegisterCollector(reg, m.segments)
		m.refusals = transports.RegisterCollector(reg, m.refusals)
		m.inbound = transports.RegisterCollector(reg, m.inbound)
	}
	return m
}

func (m *metrics) sent(result string, segments int) {
	m.sends.WithLabelValues(result).Inc()
	m.segments.Add(float64(segments))
}

func (m *metrics) refused(reason string) { m.refusals.WithLabelValues(reason).Inc() }

func (m *metrics) webhook(kind, result string) { m.inbound.WithLabelValues(kind, result).Inc() }
