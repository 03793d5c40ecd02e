package queue

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

const scope = "github.com/stackkit/stackkit/kit/queue"

// outcomeKind is what became of a delivered message.
type outcomeKind int

const (
	outcomeAcked outcomeKind = iota
	outcomeRetried
	outcomeDead
	outcomePaused // handed back by a paused consumer; not counted toward MaxDeliveries
)

func (o outcomeKind) String() string {
	switch o {
	case outcomeAcked:
		return "acked"
	case outcomeRetried:
		return "retried"
	case outcomePaused:
		return "handed_back"
	default:
		return "dead_lettered"
	}
}

// telemetry holds the queue's instruments. Metric attributes are the backend, and the subject
// (publishing) or consumer name (consuming): keep subjects few, as metric series are per subject.
type telemetry struct {
	backend   attribute.KeyValue
	tracer    trace.Tracer
	published metric.Int64Counter
	delivered metric.Int64Counter
	acked     metric.Int64Counter
	retried   metric.Int64Counter
	dead      metric.Int64Counter
	redrive   metric.Int64Counter
	handed    metric.Int64Counter
	duration  metric.Float64Histogram
	paused    metric.Int64UpDownCounter
	pauses    metric.Int64Counter
}

func newTelemetry(cfg *config, backend string) *telemetry {
	tp := cfg.tracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	mp := cfg.meterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(scope)
	t := &telemetry{backend: attribute.String("messaging.system", backend), tracer: tp.Tracer(scope)}
	counter := func(name, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit("{message}"), metric.WithDescription(desc))
		if err != nil {
			otel.Handle(err)
		}
		return c
	}
	t.published = counter("queue.messages.published", "Messages published, by subject and result (ok, error).")
	t.delivered = counter("queue.messages.delivered", "Messages delivered to a consumer.")
	t.acked = counter("queue.messages.acked", "Messages handled successfully and acknowledged.")
	t.retried = counter("queue.messages.retried", "Failed deliveries released for a retry after the backoff.")
	t.dead = counter("queue.messages.dead_lettered", "Messages moved to the dead letters.")
	t.redrive = counter("queue.messages.redriven", "Dead letters published again by Redrive.")
	t.handed = counter("queue.messages.handed_back", "Deliveries handed back by a consumer paused by an outage of its handler's downstream; they do not count toward MaxDeliveries.")
	var perr error
	t.pauses, perr = m.Int64Counter("queue.consumer.pauses", metric.WithUnit("{pause}"),
		metric.WithDescription("Times a consumer paused because its handler's downstream was unavailable."))
	if perr != nil {
		otel.Handle(perr)
	}
	t.paused, perr = m.Int64UpDownCounter("queue.consumer.paused", metric.WithUnit("{consumer}"),
		metric.WithDescription("Consumers paused now because their handler's downstream is unavailable (1 while paused)."))
	if perr != nil {
		otel.Handle(perr)
	}
	var err error
	t.duration, err = m.Float64Histogram("queue.handler.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of handler calls, by consumer and outcome (acked, retried, dead_lettered)."),
		metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300))
	if err != nil {
		otel.Handle(err)
	}
	return t
}

// propagator returns the configured propagator, or the global one as it is now (main may set it
// after opening the queue).
func (q *Queue) propagator() propagation.TextMapPropagator {
	if q.prop != nil {
		return q.prop
	}
	return otel.GetTextMapPropagator()
}

func (q *Queue) inject(ctx context.Context, h Header) { q.propagator().Inject(ctx, carrier(h)) }

func (q *Queue) extract(ctx context.Context, h Header) context.Context {
	if h == nil {
		return ctx
	}
	return q.propagator().Extract(ctx, carrier(h))
}

var (
	kindProducer = trace.WithSpanKind(trace.SpanKindProducer)
	kindConsumer = trace.WithSpanKind(trace.SpanKindConsumer)
)

// startPublish starts the publish span; attributes are built only for a span that records.
func (t *telemetry) startPublish(ctx context.Context, m *Message) (context.Context, trace.Span) {
	ctx, span := t.tracer.Start(ctx, "publish "+m.Subject, kindProducer)
	if span.IsRecording() {
		span.SetAttributes(t.backend, attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", m.Subject))
		if m.ID != "" {
			span.SetAttributes(attribute.String("messaging.message.id", m.ID))
		}
	}
	return ctx, span
}

func (t *telemetry) endPublish(ctx context.Context, span trace.Span, m *Message, err error) {
	result := "ok"
	if err != nil {
		result = "error"
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
	if t.published != nil {
		t.published.Add(ctx, 1, metric.WithAttributes(t.backend,
			attribute.String("messaging.destination.name", m.Subject), attribute.String("queue.result", result)))
	}
}

// processOp is one delivery being handled.
type processOp struct {
	span     trace.Span
	consumer attribute.KeyValue
}

// startProcess starts the handler's span as a child of the publisher's (ctx carries the extracted
// remote span context) and counts the delivery.
func (t *telemetry) startProcess(ctx context.Context, name string, m *Message) (context.Context, processOp) {
	op := processOp{consumer: attribute.String("messaging.consumer.group.name", name)}
	ctx, op.span = t.tracer.Start(ctx, "process "+m.Subject, kindConsumer)
	if op.span.IsRecording() {
		op.span.SetAttributes(t.backend, op.consumer,
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", m.Subject),
			attribute.String("messaging.message.id", m.ID),
			attribute.Int("queue.delivery", m.Delivery))
	}
	if t.delivered != nil {
		t.delivered.Add(ctx, 1, metric.WithAttributes(t.backend, op.consumer))
	}
	return ctx, op
}

func (t *telemetry) endProcess(ctx context.Context, op processOp, outcome outcomeKind, elapsed time.Duration, herr, settleErr error) {
	attrs := metric.WithAttributes(t.backend, op.consumer)
	var c metric.Int64Counter
	switch outcome {
	case outcomeAcked:
		c = t.acked
	case outcomeRetried:
		c = t.retried
	case outcomePaused:
		c = t.handed
	default:
		c = t.dead
	}
	if settleErr == nil && c != nil {
		c.Add(ctx, 1, attrs)
	}
	if elapsed > 0 && t.duration != nil {
		t.duration.Record(ctx, elapsed.Seconds(), metric.WithAttributes(t.backend, op.consumer, attribute.String("queue.outcome", outcome.String())))
	}
	if op.span.IsRecording() {
		op.span.SetAttributes(attribute.String("queue.outcome", outcome.String()))
	}
	if herr != nil {
		op.span.RecordError(herr)
		op.span.SetStatus(codes.Error, herr.Error())
	}
	if settleErr != nil {
		op.span.RecordError(settleErr)
		op.span.SetStatus(codes.Error, settleErr.Error())
	}
	op.span.End()
}

func (t *telemetry) redriven(ctx context.Context, consumer string) {
	if t.redrive != nil {
		t.redrive.Add(ctx, 1, metric.WithAttributes(t.backend, attribute.String("messaging.consumer.group.name", consumer)))
	}
}

// pauseChanged counts a consumer pausing or resuming.
func (t *telemetry) pauseChanged(consumer string, paused bool) {
	ctx := context.Background()
	attrs := metric.WithAttributes(t.backend, attribute.String("messaging.consumer.group.name", consumer))
	n := int64(-1)
	if paused {
		n = 1
		if t.pauses != nil {
			t.pauses.Add(ctx, 1, attrs)
		}
	}
	if t.paused != nil {
		t.paused.Add(ctx, n, attrs)
	}
}
