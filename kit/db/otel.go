package db

import (
	"context"
	"time"

	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// otelHook is a bun query hook that records a client span and a duration measurement per query,
// following the OpenTelemetry database semantic conventions, on the OTel API only.
type otelHook struct {
	tracer    trace.Tracer
	duration  metric.Float64Histogram
	attrs     []attribute.KeyValue
	queryText bool
}

func newOtelHook(cfg *config, system, dbName string) *otelHook {
	h := &otelHook{tracer: cfg.tracer(), queryText: cfg.queryText}
	h.attrs = []attribute.KeyValue{attribute.String("db.system.name", system)}
	if dbName != "" {
		h.attrs = append(h.attrs, attribute.String("db.namespace", dbName))
	}
	var err error
	h.duration, err = cfg.meter().Float64Histogram("db.client.operation.duration",
		metric.WithUnit("s"), metric.WithDescription("Duration of database client operations."),
		metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10))
	if err != nil {
		cfg.logger.Warn("db: cannot create duration histogram; query durations will not be recorded", "error", err)
	}
	return h
}

type spanStarted struct{}

func (h *otelHook) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	op := e.Operation()
	attrs := append(h.attrs[:len(h.attrs):len(h.attrs)], attribute.String("db.operation.name", op))
	if h.queryText && e.QueryTemplate != "" {
		attrs = append(attrs, attribute.String("db.query.text", e.QueryTemplate))
	}
	ctx, _ = h.tracer.Start(ctx, op, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	if e.Stash == nil {
		e.Stash = make(map[any]any, 1)
	}
	e.Stash[spanStarted{}] = true
	return ctx
}

func (h *otelHook) AfterQuery(ctx context.Context, e *bun.QueryEvent) {
	elapsed := time.Since(e.StartTime).Seconds()
	attrs := append(h.attrs[:len(h.attrs):len(h.attrs)], attribute.String("db.operation.name", e.Operation()))
	if e.Err != nil && !isNoRows(e.Err) {
		attrs = append(attrs, attribute.String("error.type", errorType(e.Err)))
	}
	if h.duration != nil {
		h.duration.Record(ctx, elapsed, metric.WithAttributes(attrs...))
	}
	if e.Stash[spanStarted{}] != true {
		return
	}
	span := trace.SpanFromContext(ctx)
	if e.Err != nil && !isNoRows(e.Err) {
		span.RecordError(e.Err)
		span.SetStatus(codes.Error, e.Err.Error())
	}
	span.End()
}
