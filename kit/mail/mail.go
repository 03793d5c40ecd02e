// Package mail is Stackkit's email: a Message type that renders correct MIME (attachments,
// inline images, Unicode names and domains, no header injection, no Bcc in headers), and one
// portable Mailer over SMTP with a connection pool, the console, files, an in-memory outbox for
// tests, and a queue (kit/queue) that a Worker drains, retrying temporary failures and
// dead-lettering permanent ones.
//
//	m, err := mail.Open(ctx, "smtps://app:secret@smtp.example.com?max_conns=4")
//	err = m.Send(ctx, &mail.Message{
//		From: "Shop <shop@example.com>", To: []string{"Jörg <joerg@bücher.example>"},
//		Subject: "Your receipt", Text: "Thanks!", HTML: "<p>Thanks!</p>",
//	})
//	if mail.IsTemporary(err) { /* 4xx or a connection failure: try again later */ }
//
// Schemes: smtp:// (STARTTLS), smtps:// (implicit TLS), console://, file://DIR, memory://, and
// queue+<queue URL> (queue+nats://host:4222, queue+memory://) for queued sending.
package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/registry"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// DefaultURL is the mailer used when none is configured: messages are printed, not sent.
const DefaultURL = "console://"

var drivers = registry.New[Driver]("mail")

// Register makes a backend available under a URL scheme; backends call it from init. It panics
// if the scheme is taken or open is nil.
func Register(scheme string, open registry.Opener[Driver]) { drivers.Register(scheme, open) }

// Schemes returns the registered URL schemes, sorted, with a queue+ form for every scheme
// kit/queue has registered (queue+memory, and queue+nats once kit/queue/nats is imported).
func Schemes() []string {
	out := drivers.Schemes()
	for _, s := range queue.Schemes() {
		out = append(out, "queue+"+s)
	}
	slices.Sort(out)
	return out
}

// Option configures a Mailer. In [Open], options in the URL override these.
type Option func(*config)

type config struct {
	defaultFrom    string
	idDomain       string
	logger         *slog.Logger
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	now            func() time.Time
}

// WithDefaultFrom sets the From of messages that have none (Django's DEFAULT_FROM_EMAIL); URL
// option default_from.
func WithDefaultFrom(addr string) Option { return func(c *config) { c.defaultFrom = addr } }

// WithMessageIDDomain sets the domain of generated Message-IDs; the default is the From
// address's domain. URL option message_id_domain.
func WithMessageIDDomain(domain string) Option { return func(c *config) { c.idDomain = domain } }

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

// Mailer is the portable mailer. It is safe for concurrent use.
type Mailer struct {
	d      Driver
	caps   Capabilities
	rc     renderConfig
	logger *slog.Logger
	tel    *telemetry
	closed atomic.Bool
}

// Open opens the mailer at rawURL; an empty URL opens DefaultURL. Portable URL options:
// default_from, message_id_domain; the rest belong to the backend (see the README's table).
func Open(ctx context.Context, rawURL string, opts ...Option) (*Mailer, error) {
	if rawURL == "" {
		rawURL = DefaultURL
	}
	var fromURL []Option
	readPortable := func(o *registry.Options) {
		if o.Has("default_from") {
			fromURL = append(fromURL, WithDefaultFrom(o.String("default_from", "")))
		}
		if o.Has("message_id_domain") {
			fromURL = append(fromURL, WithMessageIDDomain(o.String("message_id_domain", "")))
		}
	}
	var d Driver
	var err error
	if inner, ok := queuedURL(rawURL); ok {
		d, err = openQueued(ctx, rawURL, inner, readPortable)
	} else {
		d, err = drivers.Open(ctx, rawURL, readPortable)
	}
	if err != nil {
		return nil, err
	}
	m, err := newMailer(d, append(opts, fromURL...))
	if err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("mail: open %q: %w", registry.Redact(rawURL), err)
	}
	return m, nil
}

// New returns a Mailer over a driver; Open is New for a URL. The Mailer owns the driver:
// closing the Mailer closes it. New panics on an invalid option (a default From that does not
// parse); Open returns that as an error.
func New(d Driver, opts ...Option) *Mailer {
	m, err := newMailer(d, opts)
	if err != nil {
		panic(err)
	}
	return m
}

func newMailer(d Driver, opts []Option) (*Mailer, error) {
	cfg := config{logger: slog.Default(), now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if cfg.defaultFrom != "" {
		a, err := ParseAddress(cfg.defaultFrom)
		if err == nil {
			err = checkEnvelopeAddr("address", a.Addr)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: default From: %w", ErrInvalidOption, err)
		}
	}
	if cfg.idDomain != "" {
		if _, err := normalizeMessageID("x@" + cfg.idDomain); err != nil {
			return nil, fmt.Errorf("%w: Message-ID domain %q", ErrInvalidOption, cfg.idDomain)
		}
	}
	caps := d.Capabilities()
	return &Mailer{
		d: d, caps: caps, logger: cfg.logger,
		rc:  renderConfig{defaultFrom: cfg.defaultFrom, idDomain: cfg.idDomain, now: cfg.now},
		tel: newTelemetry(&cfg, caps.Name),
	}, nil
}

// Driver returns the backend, for what the portable API does not cover (the memory outbox:
// m.Driver().(*mail.Memory)).
func (m *Mailer) Driver() Driver { return m.d }

// Backend names the backend ("smtp", "memory", "file", "console", "queue").
func (m *Mailer) Backend() string { return m.caps.Name }

// Queued reports whether Send hands messages to a queue instead of delivering them.
func (m *Mailer) Queued() bool { return m.caps.Queued }

// Render validates msg and renders it as the Mailer would send it, with a Message-ID (a new
// random one each call when msg has none). Errors wrap ErrInvalidMessage, ErrInvalidHeader or
// ErrInvalidAddress.
func (m *Mailer) Render(msg *Message) (*Envelope, error) { return render(msg, &m.rc) }

// Send renders and sends each message. Every message is tried: the error joins one
// *MessageError per failed message (nil when all went), and a message that fails validation is
// not sent while the others are. Check a single message's failure with IsTemporary, or
// errors.Is against the sentinels.
func (m *Mailer) Send(ctx context.Context, msgs ...*Message) error {
	return m.sendEach(ctx, len(msgs), func(i int) (*Envelope, error) { return render(msgs[i], &m.rc) })
}

// SendEnvelope sends rendered messages as they are (after checking their envelope), with
// Send's error joining.
func (m *Mailer) SendEnvelope(ctx context.Context, envs ...*Envelope) error {
	return m.sendEach(ctx, len(envs), func(i int) (*Envelope, error) { return envs[i], envs[i].validate() })
}

// sendEach sends the n envelopes that prepare gives (rendered or checked), trying every one, and
// joins one *MessageError per failure.
func (m *Mailer) sendEach(ctx context.Context, n int, prepare func(i int) (*Envelope, error)) error {
	var errs []error
	for i := range n {
		env, err := prepare(i)
		if err == nil {
			err = m.send(ctx, env)
		}
		if err != nil {
			id := ""
			if env != nil {
				id = env.MessageID
			}
			errs = append(errs, &MessageError{Index: i, MessageID: id, Err: err})
		}
	}
	return errors.Join(errs...)
}

func (m *Mailer) send(ctx context.Context, env *Envelope) error {
	if m.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, op := m.tel.start(ctx, env)
	err := m.d.Send(ctx, env)
	if err != nil && m.closed.Load() && !errors.Is(err, ErrClosed) {
		err = errors.Join(ErrClosed, err)
	}
	m.tel.end(ctx, op, err)
	var re *RecipientsError
	switch {
	case errors.As(err, &re):
		m.logger.LogAttrs(ctx, slog.LevelWarn, "mail: sent, but the server refused some recipients for good", slog.String("backend", m.caps.Name),
			slog.String("message_id", env.MessageID), slog.Int("accepted", re.Accepted), slog.Any("refused", re.Recipients()), slog.Any("error", err))
	case err != nil:
		m.logger.LogAttrs(ctx, slog.LevelWarn, "mail: send failed", slog.String("backend", m.caps.Name),
			slog.String("message_id", env.MessageID), slog.Int("recipients", len(env.To)),
			slog.Bool("temporary", IsTemporary(err)), slog.Any("error", err))
	default:
		m.logger.LogAttrs(ctx, slog.LevelDebug, "mail: sent", slog.String("backend", m.caps.Name),
			slog.String("message_id", env.MessageID), slog.Int("recipients", len(env.To)))
	}
	return err
}

// SendOnCommit renders msgs now, so an invalid message fails the caller (and its transaction),
// and sends them when register runs its callback: pass kit/db's OnCommit to send only once the
// transaction has committed, and nothing if it rolls back.
//
//	err := db.InTx(ctx, bunDB, func(ctx context.Context, tx bun.Tx) error {
//		if _, err := tx.NewInsert().Model(order).Exec(ctx); err != nil {
//			return err
//		}
//		return mailer.SendOnCommit(ctx, db.OnCommit, receipt(order))
//	})
//
// With a queued Mailer the callback only publishes, so a commit is not held up by SMTP, and a
// failed publish surfaces as the transaction's after-commit error (kit/db's ErrAfterCommit).
// Give the messages stable Message-IDs ([StableMessageID]) so a retried commit hook cannot
// enqueue the same mail twice.
func (m *Mailer) SendOnCommit(ctx context.Context, register func(context.Context, func(context.Context) error) error, msgs ...*Message) error {
	if register == nil {
		return fmt.Errorf("%w: SendOnCommit: nil register function", ErrInvalidOption)
	}
	envs := make([]*Envelope, 0, len(msgs))
	var errs []error
	for i, msg := range msgs {
		env, err := render(msg, &m.rc)
		if err != nil {
			errs = append(errs, &MessageError{Index: i, Err: err})
			continue
		}
		envs = append(envs, env)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return register(ctx, func(ctx context.Context) error { return m.SendEnvelope(ctx, envs...) })
}

// Ping checks that the backend answers: an SMTP server's NOOP on a pooled connection, the
// queue's ping for a queued Mailer; in-process backends always answer.
func (m *Mailer) Ping(ctx context.Context) error {
	if m.closed.Load() {
		return ErrClosed
	}
	if p, ok := m.d.(Pinger); ok {
		if err := p.Ping(ctx); err != nil {
			return fmt.Errorf("mail %s: ping: %w", m.caps.Name, err)
		}
	}
	return nil
}

// Check returns a readiness check for kit/http/health.
func (m *Mailer) Check() func(context.Context) error { return m.Ping }

// Close closes the backend (an SMTP pool sends QUIT on its idle connections). Sends after Close
// return ErrClosed.
func (m *Mailer) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	return m.d.Close()
}
