package cache

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

type opName int

// reads reports whether op reads: its outcome is a hit or a miss, and under fail-open a failing
// backend makes it a miss.
func (op opName) reads() bool { return op == opGet || op == opGetMany || op == opHas || op == opTTL }

const (
	opGet opName = iota
	opGetMany
	opSet
	opSetMany
	opAdd
	opReplace
	opDelete
	opDeleteMany
	opIncr
	opTouch
	opHas
	opTTL
	opClear
	numOps
)

var opNames = [numOps]string{"get", "get_many", "set", "set_many", "add", "replace", "delete", "delete_many", "incr", "touch", "has", "ttl", "clear"}

// Outcomes of an operation, the cache.result attribute.
const (
	resultHit = iota
	resultMiss
	resultOK
	resultError
	resultSkipped // fail-open turned an error into a miss or a skipped write
	numResults
)

var resultNames = [numResults]string{"hit", "miss", "ok", "error", "skipped"}

const scope = "github.com/stackkit/stackkit/kit/cache"

// telemetry records a duration histogram per operation and result (hits and misses are its
// counts), and spans inside recording parents. The measurement options are built once, so a
// recorded operation allocates nothing for them.
type telemetry struct {
	tracer   trace.Tracer
	duration metric.Float64Histogram
	record   [numOps][numResults][]metric.RecordOption
	spanAttr [numOps]trace.SpanStartOption
	decode   metric.Int64Counter
	decodeOp []metric.AddOption
}

func newTelemetry(cfg *config, backend string) *telemetry {
	t := &telemetry{}
	tp := cfg.tracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	t.tracer = tp.Tracer(scope)
	mp := cfg.meterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if metricsOff(mp) {
		return t
	}
	m := mp.Meter(scope)
	var err error
	t.duration, err = m.Float64Histogram("cache.operation.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of cache operations, by operation, backend and result (hit, miss, ok, error, skipped)."),
		metric.WithExplicitBucketBoundaries(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1))
	if err != nil {
		otel.Handle(err)
		t.duration = nil
	}
	t.decode, err = m.Int64Counter("cache.decode.errors", metric.WithDescription("Stored values that could not be decoded (treated as misses and deleted)."))
	if err != nil {
		otel.Handle(err)
		t.decode = nil
	}
	be := attribute.String("cache.backend", backend)
	for op := range numOps {
		t.spanAttr[op] = trace.WithAttributes(be, attribute.String("cache.operation", opNames[op]))
		for res := range numResults {
			set := attribute.NewSet(be, attribute.String("cache.operation", opNames[op]), attribute.String("cache.result", resultNames[res]))
			t.record[op][res] = []metric.RecordOption{metric.WithAttributeSet(set)}
		}
	}
	t.decodeOp = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(be))}
	return t
}

// metricsOff reports whether mp records nothing: a no-op provider, or OpenTelemetry's global
// placeholder before an SDK is installed (install it before opening caches to get metrics).
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

// start begins an operation: a span only inside a recording parent, a clock only with metrics.
func (c *Cache) start(ctx context.Context, op opName) opState {
	s := opState{op: op}
	if c.tel.duration != nil {
		s.start = time.Now()
	}
	if trace.SpanFromContext(ctx).IsRecording() {
		_, s.span = c.tel.tracer.Start(ctx, "cache."+opNames[op], c.tel.spanAttr[op], trace.WithSpanKind(trace.SpanKindClient))
	}
	return s
}

// finish records the operation's outcome.
func (c *Cache) finish(ctx context.Context, s opState, err error, ok bool) {
	res := resultOK
	switch {
	case errors.Is(err, ErrNotFound):
		res = resultMiss
	case err != nil:
		res = resultError
	case s.op.reads():
		res = resultHit
		if !ok {
			res = resultMiss
		}
	}
	c.end(ctx, s, res, err)
}

func (c *Cache) end(ctx context.Context, s opState, res int, err error) {
	if c.tel.duration != nil {
		c.tel.duration.Record(ctx, time.Since(s.start).Seconds(), c.tel.record[s.op][res]...)
	}
	if s.span != nil {
		if res == resultError {
			s.span.RecordError(err)
			s.span.SetStatus(codes.Error, err.Error())
		}
		s.span.SetAttributes(attribute.String("cache.result", resultNames[res]))
		s.span.End()
	}
}

// bound limits an operation to the fail-open timeout.
func (c *Cache) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if !c.failOpen {
		return ctx, noCancel
	}
	return context.WithTimeout(ctx, c.failWait)
}

func noCancel() {}

// failsOpen reports whether err, from an operation called with ctx, is a backend failure that
// fail-open absorbs: not a miss, not a bad key or TTL, and not the caller's own cancellation.
func (c *Cache) failsOpen(ctx context.Context, err error) bool {
	return c.failOpen && err != nil && ctx.Err() == nil && !c.closed.Load() &&
		!errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalidKey) && !errors.Is(err, ErrInvalidTTL) &&
		!errors.Is(err, ErrNotSupported) && !errors.Is(err, ErrNotInteger)
}

// finishRead ends a read: with fail-open, a backend failure becomes a miss.
func (c *Cache) finishRead(ctx context.Context, s opState, err error) error {
	if c.failsOpen(ctx, err) {
		c.failures.note(c, s.op, err)
		c.end(ctx, s, resultSkipped, err)
		return ErrNotFound
	}
	err = c.closedErr(err)
	c.finish(ctx, s, err, err == nil)
	return err
}

// do runs one driver call as operation op: a span and metrics where they record, the fail-open
// time bound, and the fail-open outcome when the backend fails — a miss (ErrNotFound) for a
// read, a skipped write (nil) otherwise.
func do[T any](ctx context.Context, c *Cache, op opName, call func(context.Context) (T, error)) (T, error) {
	s := c.start(ctx, op)
	bctx, cancel := c.bound(ctx)
	v, err := call(bctx)
	cancel()
	if op.reads() {
		return v, c.finishRead(ctx, s, err)
	}
	return v, c.finishWrite(ctx, s, err)
}

// closedErr marks an error that happened because the cache was closed under the call.
func (c *Cache) closedErr(err error) error {
	if err != nil && c.closed.Load() {
		return errors.Join(ErrClosed, err)
	}
	return err
}

// finishWrite ends a write: with fail-open, a backend failure is logged and skipped.
func (c *Cache) finishWrite(ctx context.Context, s opState, err error) error {
	if c.failsOpen(ctx, err) {
		c.failures.note(c, s.op, err)
		c.end(ctx, s, resultSkipped, err)
		return nil
	}
	err = c.closedErr(err)
	c.finish(ctx, s, err, true)
	return err
}

// failLog rate-limits fail-open logging to one record every 10 seconds, with the count of the
// failures in between.
type failLog struct {
	mu      sync.Mutex
	last    time.Time
	skipped int
}

func (f *failLog) note(c *Cache, op opName, err error) {
	f.mu.Lock()
	now := time.Now()
	if now.Sub(f.last) < 10*time.Second {
		f.skipped++
		f.mu.Unlock()
		return
	}
	skipped := f.skipped
	f.last, f.skipped = now, 0
	f.mu.Unlock()
	c.logger.Warn("cache: backend failing; failing open (reads miss, writes skipped)",
		"backend", c.caps.Name, "operation", opNames[op], "error", err, "suppressed", skipped)
}

// decodeFailed counts a stored value that could not be decoded.
func (c *Cache) decodeFailed(ctx context.Context) {
	if c.tel.decode != nil {
		c.tel.decode.Add(ctx, 1, c.tel.decodeOp...)
	}
}
