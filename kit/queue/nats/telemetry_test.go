package nats_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/queue/queuetest"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestTelemetry checks, with the OpenTelemetry SDK, that the handler's span is a child of the
// publisher's across NATS (W3C traceparent in the message headers), and that the counters and the
// handler duration are recorded: for memory:// and for an embedded NATS server.
func TestTelemetry(t *testing.T) {
	for _, url := range []string{"memory://", "nats+embedded://" + t.TempDir() + "?stream=TEL&subjects=tel.>"} {
		t.Run(url[:4], func(t *testing.T) { testTelemetry(t, url) })
	}
}

func testTelemetry(t *testing.T, url string) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	q := openURL(t, url, queue.WithTracerProvider(tp), queue.WithMeterProvider(mp),
		queue.WithPropagator(propagation.TraceContext{}))
	subject := "tel." + queuetest.Space()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// One message acked, one retried then dead-lettered.
	root, span := tp.Tracer("test").Start(ctx, "request")
	if err := q.Publish(root, &queue.Message{Subject: subject, Data: []byte("ok")}); err != nil {
		t.Fatal(err)
	}
	span.End()
	if err := q.Publish(ctx, &queue.Message{Subject: subject, Data: []byte("fail")}); err != nil {
		t.Fatal(err)
	}
	handlerSpan := make(chan trace.SpanContext, 1)
	cctx, stop := context.WithCancel(ctx)
	err := q.Consume(cctx, "tel", subject, func(ctx context.Context, m *queue.Message) error {
		if string(m.Data) == "ok" {
			handlerSpan <- trace.SpanContextFromContext(ctx)
			return nil
		}
		if m.Delivery == 2 {
			stop()
		}
		return errors.New("nope")
	}, queue.MaxDeliveries(2), queue.Backoff(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	hs := <-handlerSpan

	var publish, process sdktrace.ReadOnlySpan
	for _, s := range spans.GetSpans().Snapshots() {
		switch {
		case s.Name() == "publish "+subject && s.Parent().SpanID() == span.SpanContext().SpanID():
			publish = s
		case s.Name() == "process "+subject && s.SpanContext().SpanID() == hs.SpanID():
			process = s
		}
	}
	if publish == nil || process == nil {
		t.Fatalf("spans: publish %v process %v", publish != nil, process != nil)
	}
	if publish.SpanKind() != trace.SpanKindProducer || process.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("span kinds %s, %s", publish.SpanKind(), process.SpanKind())
	}
	if process.Parent().SpanID() != publish.SpanContext().SpanID() || !process.Parent().IsRemote() {
		t.Errorf("the handler's span is not a child of the publish span through the headers")
	}
	if process.SpanContext().TraceID() != span.SpanContext().TraceID() {
		t.Errorf("the handler's span is in another trace")
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	sums := map[string]int64{}
	var durations uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range data.DataPoints {
					sums[m.Name] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range data.DataPoints {
					durations += p.Count
				}
			}
		}
	}
	want := map[string]int64{
		"queue.messages.published": 2, "queue.messages.delivered": 3, "queue.messages.acked": 1,
		"queue.messages.retried": 1, "queue.messages.dead_lettered": 1,
	}
	for name, n := range want {
		if sums[name] != n {
			t.Errorf("%s = %d, want %d", name, sums[name], n)
		}
	}
	if durations != 3 {
		t.Errorf("queue.handler.duration has %d observations, want 3", durations)
	}
}
