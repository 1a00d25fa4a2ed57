package component

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsNilIsSafe(t *testing.T) {
	var m *Metrics
	m.StanzaIn("d")
	m.StanzaOut("d")
	m.Error("d", "k")
	m.StreamUp("d", true)
	m.Reconnect("d", "r")
	m.PingRTT("d", time.Second)
}

func TestMetricsSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.StanzaIn("irc.example.org")
	m.StanzaIn("irc.example.org")
	m.StanzaOut("irc.example.org")
	m.StreamUp("irc.example.org", true)
	m.StreamUp("sms.example.org", false)
	m.Reconnect("irc.example.org", reasonKeepalive)
	m.Error("irc.example.org", "write")
	m.PingRTT("irc.example.org", 3*time.Millisecond)

	want := `
# HELP xgate_stanzas_total Stanzas read from (in) and written to (out) the XMPP server, per component domain.
# TYPE xgate_stanzas_total counter
xgate_stanzas_total{direction="in",domain="irc.example.org"} 2
xgate_stanzas_total{direction="out",domain="irc.example.org"} 1
# HELP xgate_stream_up 1 while the component stream of the domain is up, 0 otherwise.
# TYPE xgate_stream_up gauge
xgate_stream_up{domain="irc.example.org"} 1
xgate_stream_up{domain="sms.example.org"} 0
# HELP xgate_stream_reconnects_total Reconnections scheduled after a failed attempt or a lost stream, by reason.
# TYPE xgate_stream_reconnects_total counter
xgate_stream_reconnects_total{domain="irc.example.org",reason="keepalive"} 1
# HELP xgate_errors_total Errors by kind, per component domain.
# TYPE xgate_errors_total counter
xgate_errors_total{domain="irc.example.org",kind="write"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"xgate_stanzas_total", "xgate_stream_up", "xgate_stream_reconnects_total", "xgate_errors_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.pingRTT); n != 1 {
		t.Errorf("keepalive_rtt series = %d, want 1", n)
	}
}

// A second NewMetrics on the same registry shares the series instead of
// panicking.
func TestMetricsRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := NewMetrics(reg)
	b := NewMetrics(reg)
	a.StanzaIn("d")
	b.StanzaIn("d")
	if v := testutil.ToFloat64(a.stanzas.WithLabelValues("d", "in")); v != 2 {
		t.Errorf("shared counter = %v, want 2", v)
	}
}

func TestStreamInitialisesUpGauge(t *testing.T) {
	m := NewMetrics(nil)
	NewStream(StreamConfig{Server: "x:1", Domain: "sms.example.org", Secret: []byte("x"), Metrics: m}, nil)
	if n := testutil.CollectAndCount(m.up); n != 1 {
		t.Errorf("stream_up series = %d before Run, want 1 (at 0)", n)
	}
}
