package queuetest

import (
	"context"
	"testing"

	"github.com/stackkit/stackkit/kit/queue"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// testTrace checks that the trace context of a Publish reaches the handler through the message
// headers (W3C traceparent). It uses only the OpenTelemetry API: the publisher's span context is
// made by hand, and whatever tracer provider is installed, the handler's span is in its trace.
func (s *suite) testTrace(t *testing.T) {
	t.Parallel()
	q, space := s.queue(t, queue.WithPropagator(propagation.TraceContext{}))
	subject := space + ".traced"
	got := make(chan trace.SpanContext, 1)
	consume(t, q, "traced", subject, func(ctx context.Context, m *queue.Message) error {
		if m.Header.Get("Traceparent") == "" {
			t.Errorf("delivered message has no traceparent header: %v", m.Header)
		}
		got <- trace.SpanContextFromContext(ctx)
		return nil
	})
	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithSpanContext(context.Background(), parent)
	if err := q.Publish(ctx, &queue.Message{Subject: subject, Data: []byte("traced")}); err != nil {
		t.Fatal(err)
	}
	sc := receive(t, got, "the traced message")
	if sc.TraceID() != parent.TraceID() {
		t.Errorf("handler's trace ID = %s, want the publisher's %s", sc.TraceID(), parent.TraceID())
	}
	if !sc.IsSampled() {
		t.Errorf("handler's span context lost the sampled flag")
	}
}
