package mail

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

const scope = "github.com/stackkit/stackkit/kit/mail"

// telemetry records a span per message sent (or enqueued), and counters of messages sent and
// failed by backend, with a duration histogram. A partial delivery (*RecipientsError) counts
// as sent, and its refused recipients in mail.recipients.refused.
type telemetry struct {
	tracer    trace.Tracer
	spanOpts  []trace.SpanStartOption
	sent      metric.Int64Counter
	failed    metric.Int64Counter
	refused   metric.Int64Counter
	duration  metric.Float64Histogram
	okAttrs   metric.MeasurementOption
	failAttrs [3]metric.MeasurementOption // by errorKind
}

// errorKind classifies a failure for the error.type attribute.
const (
	kindTemporary = iota
	kindPermanent
	kindOther
)

var kindNames = [3]string{"temporary", "permanent", "other"}

func newTelemetry(cfg *config, backend string) *telemetry {
	tp := cfg.tracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	mp := cfg.meterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	be := attribute.String("mail.backend", backend)
	kind := trace.SpanKindClient
	if backend == "queue" {
		kind = trace.SpanKindProducer
	}
	t := &telemetry{
		tracer:   tp.Tracer(scope),
		spanOpts: []trace.SpanStartOption{trace.WithSpanKind(kind), trace.WithAttributes(be)},
		okAttrs:  metric.WithAttributeSet(attribute.NewSet(be)),
	}
	for k, name := range kindNames {
		t.failAttrs[k] = metric.WithAttributeSet(attribute.NewSet(be, attribute.String("error.type", name)))
	}
	m := mp.Meter(scope)
	var err error
	if t.sent, err = m.Int64Counter("mail.messages.sent", metric.WithUnit("{message}"),
		metric.WithDescription("Messages a backend accepted (for queue: enqueued), by backend.")); err != nil {
		otel.Handle(err)
	}
	if t.failed, err = m.Int64Counter("mail.messages.failed", metric.WithUnit("{message}"),
		metric.WithDescription("Messages that failed to send, by backend and error.type (temporary, permanent, other).")); err != nil {
		otel.Handle(err)
	}
	if t.refused, err = m.Int64Counter("mail.recipients.refused", metric.WithUnit("{recipient}"),
		metric.WithDescription("Recipients a server refused for good while it took the message for the others (partial deliveries), by backend.")); err != nil {
		otel.Handle(err)
	}
	if t.duration, err = m.Float64Histogram("mail.send.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of sending one message, by backend."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30)); err != nil {
		otel.Handle(err)
	}
	return t
}

type sendOp struct {
	start time.Time
	span  trace.Span
}

func (t *telemetry) start(ctx context.Context, env *Envelope) (context.Context, sendOp) {
	ctx, span := t.tracer.Start(ctx, "mail.send", t.spanOpts...)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("mail.message_id", env.MessageID),
			attribute.Int("mail.recipients", len(env.To)), attribute.Int("mail.size", len(env.Data)))
	}
	return ctx, sendOp{start: time.Now(), span: span}
}

func (t *telemetry) end(ctx context.Context, op sendOp, err error) {
	elapsed := time.Since(op.start).Seconds()
	var re *RecipientsError
	if errors.As(err, &re) {
		// Sent, to fewer recipients: the span keeps an OK status and records the refusals.
		if t.refused != nil {
			t.refused.Add(ctx, int64(len(re.Refused)), t.okAttrs)
		}
		op.span.RecordError(err)
		op.span.SetAttributes(attribute.Int("mail.recipients.refused", len(re.Refused)))
		err = nil
	}
	if err == nil {
		if t.sent != nil {
			t.sent.Add(ctx, 1, t.okAttrs)
		}
		if t.duration != nil {
			t.duration.Record(ctx, elapsed, t.okAttrs)
		}
		op.span.End()
		return
	}
	k := kindOther
	switch {
	case IsTemporary(err):
		k = kindTemporary
	case IsPermanent(err):
		k = kindPermanent
	}
	if t.failed != nil {
		t.failed.Add(ctx, 1, t.failAttrs[k])
	}
	if t.duration != nil {
		t.duration.Record(ctx, elapsed, t.failAttrs[k])
	}
	op.span.RecordError(err)
	op.span.SetStatus(codes.Error, err.Error())
	op.span.SetAttributes(attribute.String("error.type", kindNames[k]))
	op.span.End()
}
