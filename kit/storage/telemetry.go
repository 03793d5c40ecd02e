package storage

import (
	"context"
	"errors"
	"reflect"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

type opName int

const (
	opRead opName = iota
	opWrite
	opStat
	opDelete
	opList
	opCopy
	opSign
	numOps
)

var opNames = [numOps]string{"read", "write", "stat", "delete", "list", "copy", "signed_url"}

// Outcomes of an operation, the storage.result attribute.
const (
	resultOK = iota
	resultNotExist
	resultExist
	resultError
	numResults
)

var resultNames = [numResults]string{"ok", "not_exist", "exist", "error"}

const scope = "github.com/stackkit/stackkit/kit/storage"

// telemetry records, per operation, backend and result, an operation count and a duration
// histogram, and the bytes read and written; spans only inside recording parents. Attribute
// sets are built once, so a recorded operation allocates nothing for them.
type telemetry struct {
	tracer     trace.Tracer
	ops        metric.Int64Counter
	duration   metric.Float64Histogram
	bytes      metric.Int64Counter
	addOpts    [numOps][numResults][]metric.AddOption
	recordOpts [numOps][numResults][]metric.RecordOption
	bytesOpts  [numOps][]metric.AddOption
	spanAttr   [numOps]trace.SpanStartOption
}

func newTelemetry(cfg *config, backend string) *telemetry {
	t := &telemetry{}
	tp := cfg.tracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	t.tracer = tp.Tracer(scope)
	be := attribute.String("storage.backend", backend)
	for op := range numOps {
		t.spanAttr[op] = trace.WithAttributes(be, attribute.String("storage.operation", opNames[op]))
	}
	mp := cfg.meterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if metricsOff(mp) {
		return t
	}
	m := mp.Meter(scope)
	var err error
	if t.ops, err = m.Int64Counter("storage.operations", metric.WithUnit("{operation}"),
		metric.WithDescription("Storage operations, by operation, backend and result (ok, not_exist, exist, error).")); err != nil {
		otel.Handle(err)
		t.ops = nil
	}
	if t.duration, err = m.Float64Histogram("storage.operation.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of storage operations (a read or write lasts until its Close), by operation, backend and result."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30)); err != nil {
		otel.Handle(err)
		t.duration = nil
	}
	if t.bytes, err = m.Int64Counter("storage.bytes", metric.WithUnit("By"),
		metric.WithDescription("Bytes read and written, by operation (read, write) and backend.")); err != nil {
		otel.Handle(err)
		t.bytes = nil
	}
	for op := range numOps {
		for res := range numResults {
			set := attribute.NewSet(be, attribute.String("storage.operation", opNames[op]), attribute.String("storage.result", resultNames[res]))
			t.addOpts[op][res] = []metric.AddOption{metric.WithAttributeSet(set)}
			t.recordOpts[op][res] = []metric.RecordOption{metric.WithAttributeSet(set)}
		}
		t.bytesOpts[op] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(be, attribute.String("storage.operation", opNames[op])))}
	}
	return t
}

// metricsOff reports whether mp records nothing: a no-op provider, or OpenTelemetry's global
// placeholder before an SDK is installed (install it before opening storages to get metrics).
func metricsOff(mp metric.MeterProvider) bool {
	switch mp.(type) {
	case metricnoop.MeterProvider, *metricnoop.MeterProvider:
		return true
	}
	t := reflect.TypeOf(mp)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.PkgPath() == "go.opentelemetry.io/otel/internal/global"
}

// opState is one operation under way.
type opState struct {
	op    opName
	start time.Time
	span  trace.Span
}

// start begins an operation: a span only inside a recording parent.
func (s *Storage) start(ctx context.Context, op opName) opState {
	st := opState{op: op, start: time.Now()}
	if trace.SpanFromContext(ctx).IsRecording() {
		_, st.span = s.tel.tracer.Start(ctx, "storage."+opNames[op], s.tel.spanAttr[op], trace.WithSpanKind(trace.SpanKindClient))
	}
	return st
}

// finish records an operation's outcome and the bytes it moved.
func (s *Storage) finish(ctx context.Context, st opState, err error, n int64) {
	res := resultOK
	switch {
	case err == nil:
	case errors.Is(err, ErrNotExist):
		res = resultNotExist
	case errors.Is(err, ErrExist):
		res = resultExist
	default:
		res = resultError
	}
	t := s.tel
	if t.ops != nil {
		t.ops.Add(ctx, 1, t.addOpts[st.op][res]...)
	}
	if t.duration != nil {
		t.duration.Record(ctx, time.Since(st.start).Seconds(), t.recordOpts[st.op][res]...)
	}
	if t.bytes != nil && n > 0 {
		t.bytes.Add(ctx, n, t.bytesOpts[st.op]...)
	}
	if st.span != nil {
		if res == resultError {
			st.span.RecordError(err)
			st.span.SetStatus(codes.Error, err.Error())
		}
		st.span.SetAttributes(attribute.String("storage.result", resultNames[res]))
		if st.op == opRead || st.op == opWrite {
			st.span.SetAttributes(attribute.Int64("storage.bytes", n))
		}
		st.span.End()
	}
}
