// Package queue is Stackkit's durable work queue: publish messages to subjects, consume them with
// named durable consumers, retry failures on a backoff schedule and move what cannot be processed to
// a dead-letter subject, where an operator lists, re-drives or purges it. One API runs over
// memory:// (built in: tests and single-process use) and NATS JetStream (kit/queue/nats: a server,
// or an embedded one persisted in a local directory).
//
//	import _ "github.com/stackkit/stackkit/kit/queue/nats"
//
//	q, err := queue.Open(ctx, "nats://127.0.0.1:4222?stream=KIT&subjects=kit.>")
//	err = q.Publish(ctx, &queue.Message{Subject: "kit.mail", ID: "order-42", Data: body})
//	err = q.Consume(ctx, "mailer", "kit.mail", func(ctx context.Context, m *queue.Message) error {
//		return send(ctx, m.Data) // nil acks; an error retries; queue.Permanent(err) dead-letters
//	}, queue.Concurrency(8))
//
// Delivery is at least once: a handler must tolerate seeing a message again (after a crash, or an
// ack lost with its connection). Publish de-duplicates by Message.ID within the backend's window.
// Trace context travels in message headers, so a handler's span continues the publisher's trace.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stackkit/stackkit/kit/registry"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// DefaultURL is the queue used when none is configured. Services that import kit/queue/nats use
// its embedded default (nats.DefaultURL) instead, which survives restarts.
const DefaultURL = "memory://"

var drivers = registry.New[Driver]("queue")

// Register makes a backend available under a URL scheme; backends call it from init. It panics if
// the scheme is taken or open is nil.
func Register(scheme string, open registry.Opener[Driver]) { drivers.Register(scheme, open) }

// Schemes returns the registered URL schemes, sorted.
func Schemes() []string { return drivers.Schemes() }

// Option configures a Queue.
type Option func(*config)

type config struct {
	logger         *slog.Logger
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	propagator     propagation.TextMapPropagator
	create         *bool // WithCreate, when given
}

// WithCreate(false) opens the queue without creating or changing anything in the backend: no
// stream, dead-letter stream, consumer or directory; what the URL names must exist, or Open fails
// with an error wrapping ErrNotFound that names what is missing. It is the URL option create=false
// (which it sets, overriding the URL's), for every backend: operators' read-only commands (stats,
// listing dead letters) use it, so a mistyped stream name is an error instead of a new empty
// stream. WithCreate(true) is the default: open creates what it needs, or updates it to the URL.
// Only [Open] reads it; its errors show the URL as given, without the create option it added.
func WithCreate(create bool) Option { return func(c *config) { c.create = &create } }

// WithLogger sets the logger; the default is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithTracerProvider sets the tracer provider; the default is the OpenTelemetry global one.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tracerProvider = tp }
}

// WithMeterProvider sets the meter provider; the default is the OpenTelemetry global one.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.meterProvider = mp }
}

// WithPropagator sets how trace context is written to and read from message headers; the default
// is the OpenTelemetry global propagator (set it to W3C trace context and baggage in main).
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.propagator = p }
}

// Message is one message. On Publish, Subject is required and ID, Header and Data are optional;
// on delivery every field is set by the queue.
type Message struct {
	// ID, when set on Publish, makes the publish idempotent: the backend drops a second message
	// with the same ID within its de-duplication window (JetStream's Nats-Msg-Id).
	ID      string
	Subject string
	Header  Header
	Data    []byte

	// Delivery counts deliveries of this message: 1 on the first.
	Delivery int
	// Published is when the backend stored the message.
	Published time.Time
	// Seq is the message's position in the backend (the JetStream stream sequence).
	Seq uint64
}

// Handler processes one message. Returning nil acknowledges it; any other error retries it after
// the consumer's backoff for m.Delivery until MaxDeliveries, then dead-letters it; an error made
// with [Permanent] dead-letters it at once, and one made with [RetryAfter] retries after the given
// delay. A panic is recovered and treated as a retryable error. ctx is cancelled only when the
// handler's Timeout passes; a consumer being stopped lets its handlers finish.
type Handler func(ctx context.Context, m *Message) error

// Queue is the portable queue. It is safe for concurrent use.
type Queue struct {
	d       Driver
	caps    Capabilities
	logger  *slog.Logger
	prop    propagation.TextMapPropagator
	tel     *telemetry
	closed  atomic.Bool
	closing chan struct{} // closed by Close: running consumers drain and return ErrClosed
	running sync.WaitGroup
	closeMu sync.Mutex // serialises Close calls; held while Close waits for running consumers
	// runMu orders Consume's running.Add against Close setting closed: a Consume that sees the
	// queue open adds itself before Close can start waiting, so Wait never races an Add at zero.
	// Close holds it only to set closed, never while waiting, so a handler calling Consume during
	// Close gets ErrClosed rather than blocking it.
	runMu sync.Mutex
}

// Open opens the queue at rawURL; an empty URL opens DefaultURL. The URL's options belong to the
// backend (see its README).
func Open(ctx context.Context, rawURL string, opts ...Option) (*Queue, error) {
	if rawURL == "" {
		rawURL = DefaultURL
	}
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.create != nil {
		if _, err := registry.Parse(rawURL); err != nil {
			return nil, fmt.Errorf("queue: %w", err)
		}
		opened := withOption(rawURL, "create", strconv.FormatBool(*cfg.create))
		d, err := drivers.Open(ctx, opened)
		if err != nil {
			return nil, asWritten(err, opened, rawURL)
		}
		return New(d, opts...), nil
	}
	d, err := drivers.Open(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	return New(d, opts...), nil
}

// New returns a Queue over a driver; Open is New for a URL. The Queue owns the driver: closing
// the Queue closes it.
func New(d Driver, opts ...Option) *Queue {
	cfg := config{logger: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	q := &Queue{d: d, caps: d.Capabilities(), logger: cfg.logger, closing: make(chan struct{})}
	q.prop = cfg.propagator
	q.tel = newTelemetry(&cfg, q.caps.Name)
	return q
}

// Driver returns the backend, for what the portable API does not cover.
func (q *Queue) Driver() Driver { return q.d }

// Backend names the backend ("memory", "nats").
func (q *Queue) Backend() string { return q.caps.Name }

// Ping checks that the backend answers.
func (q *Queue) Ping(ctx context.Context) error {
	if q.closed.Load() {
		return ErrClosed
	}
	if err := q.d.Ping(ctx); err != nil {
		return fmt.Errorf("queue %s: ping: %w", q.caps.Name, err)
	}
	return nil
}

// Check returns a readiness check for kit/http/health.
func (q *Queue) Check() func(context.Context) error { return q.Ping }

// Close stops running consumers (they drain as on cancellation, and return ErrClosed), then closes
// the backend. Every method called after Close returns ErrClosed.
func (q *Queue) Close() error {
	q.closeMu.Lock()
	defer q.closeMu.Unlock()
	q.runMu.Lock()
	already := q.closed.Swap(true)
	if !already {
		close(q.closing)
	}
	q.runMu.Unlock()
	if already {
		return nil
	}
	q.running.Wait()
	return q.d.Close()
}

// Publish stores m for delivery to the consumer of m.Subject, with the caller's trace context
// added to its headers (m itself is not modified). A message whose ID was published within the backend's
// de-duplication window is dropped, and Publish returns nil. Publish honours ctx: against an
// unreachable backend it fails once ctx is done (or the backend's own timeout passes).
func (q *Queue) Publish(ctx context.Context, m *Message) error {
	if q.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if m == nil {
		return fmt.Errorf("%w: nil message", ErrInvalidMessage)
	}
	if err := ValidateSubject(m.Subject, false); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	if err := m.Header.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	ctx, op := q.tel.startPublish(ctx, m)
	out := *m
	out.Header = m.Header.Canonical()
	if out.Header == nil {
		out.Header = make(Header, 2)
	}
	q.inject(ctx, out.Header)
	err := q.d.Publish(ctx, &out)
	if err != nil {
		err = q.wrap("publish "+m.Subject, err)
	}
	q.tel.endPublish(ctx, op, m, err)
	return err
}

// wrap adds the backend and operation to a driver error, and ErrClosed when the queue was closed
// under it.
func (q *Queue) wrap(op string, err error) error {
	if q.closed.Load() && !errors.Is(err, ErrClosed) {
		err = errors.Join(ErrClosed, err)
	}
	return fmt.Errorf("queue %s: %s: %w", q.caps.Name, op, err)
}

// ValidateSubject checks a subject: dot-separated non-empty tokens without spaces or control
// characters. Wildcards ("*" for one token, ">" for the rest as the last token) are allowed when
// pattern is true (consumer subjects), never in a published message's subject.
func ValidateSubject(s string, pattern bool) error {
	if s == "" {
		return errors.New("empty subject")
	}
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		if t == "" {
			return fmt.Errorf("subject %q has an empty token", s)
		}
		if strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return fmt.Errorf("subject %q has a space or control character", s)
		}
		if t == "*" || t == ">" {
			if !pattern {
				return fmt.Errorf("subject %q has a wildcard; a message goes to one subject", s)
			}
			if t == ">" && i != len(tokens)-1 {
				return fmt.Errorf("subject %q has \">\" before its last token", s)
			}
			continue
		}
		if strings.ContainsAny(t, "*>") {
			return fmt.Errorf("subject %q has a wildcard inside a token", s)
		}
	}
	return nil
}

// withOption returns rawURL with the query option name set to value: any name already there is
// dropped and name=value appended, and the rest is kept byte for byte. (Going through url.URL
// would re-encode the query and turn memory://?x=1 into memory:?x=1.)
func withOption(rawURL, name, value string) string {
	rest, fragment, hasFragment := strings.Cut(rawURL, "#")
	base, query, _ := strings.Cut(rest, "?")
	var kept []string
	for p := range strings.SplitSeq(query, "&") {
		key, _, _ := strings.Cut(p, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		if p != "" && key != name {
			kept = append(kept, p)
		}
	}
	out := base + "?" + strings.Join(append(kept, url.QueryEscape(name)+"="+url.QueryEscape(value)), "&")
	if hasFragment {
		out += "#" + fragment
	}
	return out
}

// openedAs is an error from opening a URL rewritten by [withOption], with that URL shown as the
// caller wrote it: the rewritten one is not what they typed, nor what they can fix.
type openedAs struct {
	msg string
	err error
}

func (e *openedAs) Error() string { return e.msg }
func (e *openedAs) Unwrap() error { return e.err }

// asWritten returns err with the URL opened (in the form kit/registry quotes it, redacted)
// replaced by the URL written (redacted too).
func asWritten(err error, opened, written string) error {
	u, perr := url.Parse(opened)
	if perr != nil {
		return err
	}
	shown := strconv.Quote(registry.Redact(written))
	msg := err.Error()
	for _, o := range []string{registry.RedactURL(u), registry.Redact(opened)} {
		msg = strings.ReplaceAll(msg, strconv.Quote(o), shown)
	}
	return &openedAs{msg: msg, err: err}
}
