package mailer_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpCollector is an OTLP/HTTP receiver: it decodes what the service exports and keeps the span
// and metric names.
type otlpCollector struct {
	mu       sync.Mutex
	spans    []string
	metrics  []string
	services []string
	changed  chan struct{}
}

func newOTLPCollector(t *testing.T) (*otlpCollector, string) {
	c := &otlpCollector{changed: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want protobuf", http.StatusUnsupportedMediaType)
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		switch r.URL.Path {
		case "/v1/traces":
			var req coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(body, &req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			for _, rs := range req.ResourceSpans {
				for _, a := range rs.GetResource().GetAttributes() {
					if a.Key == "service.name" {
						c.services = append(c.services, a.GetValue().GetStringValue())
					}
				}
				for _, ss := range rs.ScopeSpans {
					for _, s := range ss.Spans {
						c.spans = append(c.spans, s.Name)
					}
				}
			}
			_, _ = w.Write(mustMarshal(&coltracepb.ExportTraceServiceResponse{}))
		case "/v1/metrics":
			var req colmetricpb.ExportMetricsServiceRequest
			if err := proto.Unmarshal(body, &req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			for _, rm := range req.ResourceMetrics {
				for _, sm := range rm.ScopeMetrics {
					for _, m := range sm.Metrics {
						c.metrics = append(c.metrics, m.Name)
					}
				}
			}
			_, _ = w.Write(mustMarshal(&colmetricpb.ExportMetricsServiceResponse{}))
		default:
			http.NotFound(w, r)
			return
		}
		close(c.changed)
		c.changed = make(chan struct{})
	}))
	t.Cleanup(srv.Close)
	return c, srv.URL
}

func mustMarshal(m proto.Message) []byte {
	b, _ := proto.Marshal(m)
	return b
}

func (c *otlpCollector) has(spans, metrics []string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range spans {
		if !slices.Contains(c.spans, s) {
			return false
		}
	}
	for _, m := range metrics {
		if !slices.Contains(c.metrics, m) {
			return false
		}
	}
	return true
}

// TestOTLPExport points the standard OTEL_EXPORTER_OTLP_ENDPOINT at a collector: the service's
// spans (a send, the queue's processing) and metrics arrive there over OTLP/HTTP, under the service
// name from OTEL_SERVICE_NAME.
func TestOTLPExport(t *testing.T) {
	tq := newTestQueue(t)
	s := newSMTPServer(t)
	col, endpoint := newOTLPCollector(t)
	tq.publish(t, 3, nil)
	p := startMailer(t, tq.env(s, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
		"OTEL_METRIC_EXPORT_INTERVAL": "200", // ms
		"OTEL_BSP_SCHEDULE_DELAY":     "100", // ms
		"OTEL_SERVICE_NAME":           "mailer-test",
	}))
	s.waitFor("the messages", time.Minute, func(d, _, _ int) bool { return d >= 3 })

	wantSpans := []string{"mail.send"}
	wantMetrics := []string{"mail.messages.sent", "queue.messages.acked"}
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for !col.has(wantSpans, wantMetrics) {
		col.mu.Lock()
		ch := col.changed
		col.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			col.mu.Lock()
			t.Fatalf("collector got spans %q and metrics %q; want %q and %q", col.spans, col.metrics, wantSpans, wantMetrics)
		}
	}
	col.mu.Lock()
	if !slices.Contains(col.services, "mailer-test") {
		t.Errorf("service.name of the exported spans: %q, want mailer-test", col.services)
	}
	col.mu.Unlock()
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestOTLPBadSettings: an exporter or protocol the service cannot speak is a configuration error.
func TestOTLPBadSettings(t *testing.T) {
	for _, env := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER": "zipkin"},
	} {
		env["KIT_QUEUE_URL"] = "memory://"
		p := launch(t, env)
		if code := p.wait(30 * time.Second); code != 2 || !strings.Contains(p.log(), "OTEL_") && !strings.Contains(p.log(), "OTLP") {
			t.Errorf("%v: exit %d, log:\n%s", env, code, p.log())
		}
	}
}
