package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/stackkit/stackkit/kit/queue"
)

// DefaultConsumer is the durable consumer name of a Worker.
const DefaultConsumer = "mailer"

// Worker sends the mail a queued Mailer published: it consumes Subject on Queue and sends each
// message through Mailer (SMTP, typically).
//
//	w := &mail.Worker{Queue: q, Mailer: smtpMailer,
//		Options: []queue.ConsumeOption{queue.Concurrency(8), queue.Backoff(time.Second, time.Minute)}}
//	err := w.Run(ctx) // until ctx is done; in-flight sends finish first
//
// Outcomes: a sent message is acknowledged, and so is a partial delivery ([*RecipientsError]:
// some recipients refused for good), whose refused recipients are logged at warn level; they
// are not retried, as a retry would duplicate the mail to the others. A mail server that cannot
// be reached or talked to ([ErrConnection]: refused, timed out, TLS failure, connection dropped)
// or that replies 421 (service not available) is an outage, not the message's failure: Handle
// returns it as [queue.Unavailable], and the consumer pauses, probing the server with
// [Mailer.Ping] until it answers (see [Worker.Paused]); the outage costs no message its
// deliveries. Another temporary failure (a 4xx reply) and any failure not known to be permanent
// is retried on the consumer's backoff, up to its MaxDeliveries, then dead-lettered. A permanent
// failure (5xx reply, invalid message) is dead-lettered at once with the error as the reason,
// which holds the server's reply.
//
// Delivery is at least once: a worker that dies mid-send leaves the message unacknowledged, and
// it is delivered again after the queue's ack wait. The Message-ID does not change, so a
// recipient (or a test) can recognise the duplicate.
type Worker struct {
	// Queue is the queue to consume; required.
	Queue *queue.Queue
	// Mailer sends the messages; required, and not a queued Mailer.
	Mailer *Mailer
	// Subject is the subject to consume (default DefaultSubject).
	Subject string
	// Consumer is the durable consumer name (default DefaultConsumer). Workers with the same
	// name, in this process or others, share the work.
	Consumer string
	// Options are the consume options: queue.Concurrency, queue.Backoff, queue.MaxDeliveries,
	// queue.AckWait, queue.Timeout, queue.DeadLetterSubject, queue.ProbeBackoff. The Worker
	// adds queue.Ready (wait on [Worker.Ready]), queue.OnPause (see [Worker.Paused]) and
	// queue.Probe(Mailer.Ping) itself; a queue.Probe given here replaces its probe.
	Options []queue.ConsumeOption
	// Logger receives a line per permanent failure, partial delivery and redelivery (default
	// slog.Default()).
	Logger *slog.Logger

	once      sync.Once
	ready     chan struct{}
	readyOnce sync.Once

	pauseMu     sync.Mutex
	pauseReason error
	pausedAt    time.Time
}

func (w *Worker) init() {
	w.once.Do(func() { w.ready = make(chan struct{}) })
}

// Ready returns a channel closed once Run has subscribed and messages flow.
func (w *Worker) Ready() <-chan struct{} {
	w.init()
	return w.ready
}

// Run consumes until ctx is done, then drains: it stops taking messages, lets sends in flight
// finish and records their outcome, and returns nil. It returns an error for a bad
// configuration, when the consumer cannot be created, or queue.ErrClosed when the queue is
// closed under it. Ready stays closed after a first Run; run a Worker value once.
func (w *Worker) Run(ctx context.Context) error {
	w.init()
	if w.Queue == nil || w.Mailer == nil {
		return fmt.Errorf("%w: mail.Worker needs a Queue and a Mailer", ErrInvalidOption)
	}
	if w.Mailer.Queued() {
		return fmt.Errorf("%w: mail.Worker's Mailer is a queued one: it would publish every message back to the queue", ErrInvalidOption)
	}
	opts := append([]queue.ConsumeOption{queue.Probe(w.Mailer.Ping)}, w.Options...)
	opts = append(slices.Clip(opts),
		queue.Ready(func() { w.readyOnce.Do(func() { close(w.ready) }) }),
		queue.OnPause(w.setPaused))
	err := w.Queue.Consume(ctx, w.consumer(), w.subject(), w.Handle, opts...)
	w.setPaused(nil)
	return err
}

func (w *Worker) setPaused(reason error) {
	w.pauseMu.Lock()
	defer w.pauseMu.Unlock()
	if reason != nil && w.pauseReason == nil {
		w.pausedAt = time.Now()
	}
	w.pauseReason = reason
}

// Paused returns nil while the Worker consumes, and an error naming the cause while it is paused
// because the mail server is unreachable: it fetches nothing and probes the server with a
// backoff until it answers. A service's readiness check reports it (services/mailer's /readyz
// is 503 meanwhile).
func (w *Worker) Paused() error {
	w.pauseMu.Lock()
	defer w.pauseMu.Unlock()
	if w.pauseReason == nil {
		return nil
	}
	return fmt.Errorf("paused for %s, sending nothing until the mail server answers: %w",
		time.Since(w.pausedAt).Round(time.Second), w.pauseReason)
}

func (w *Worker) subject() string {
	if w.Subject == "" {
		return DefaultSubject
	}
	return w.Subject
}

func (w *Worker) consumer() string {
	if w.Consumer == "" {
		return DefaultConsumer
	}
	return w.Consumer
}

func (w *Worker) logger() *slog.Logger {
	if w.Logger == nil {
		return slog.Default()
	}
	return w.Logger
}

// Handle sends one queued message: the queue.Handler that Run consumes with, for a consumer of
// your own.
func (w *Worker) Handle(ctx context.Context, m *queue.Message) error {
	env, err := QueuedEnvelope(m)
	if err != nil {
		w.logger().LogAttrs(ctx, slog.LevelError, "mail: dead-lettering a queue message that is not queued mail",
			slog.String("queue_id", m.ID), slog.Any("error", err))
		return queue.Permanent(err)
	}
	if m.Delivery > 1 {
		// An earlier delivery may have sent it (a worker killed after the send, an ack lost), or
		// been handed back unsent while the mail server was down: the worker cannot tell which.
		w.logger().LogAttrs(ctx, slog.LevelInfo, "mail: redelivered message; an earlier delivery may have sent it, or was handed back during an outage",
			slog.String("message_id", env.MessageID), slog.Int("delivery", m.Delivery))
	}
	err = w.Mailer.send(ctx, env)
	var re *RecipientsError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re):
		// Delivered to the accepted recipients: a redelivery would send it to them again.
		w.logger().LogAttrs(ctx, slog.LevelWarn, "mail: sent, but the server refused some recipients for good; not retrying them",
			slog.String("message_id", env.MessageID), slog.Int("accepted", re.Accepted),
			slog.Any("refused", re.Recipients()), slog.Any("error", err))
		return nil
	case IsPermanent(err):
		w.logger().LogAttrs(ctx, slog.LevelWarn, "mail: permanent failure; dead-lettering",
			slog.String("message_id", env.MessageID), slog.Any("error", err))
		return queue.Permanent(err)
	case isOutage(err):
		return queue.Unavailable(err)
	default:
		return err
	}
}

// isOutage reports whether err says the mail server cannot be used rather than that it refused
// this message: a connection failure, 421 ("service not available, closing transmission
// channel", RFC 5321 4.2.3) to any command, or a TLS certificate that fails verification (an
// expired or replaced certificate on the relay fails every message alike; the probe, over the
// same TLS, keeps the worker paused until it is fixed).
func isOutage(err error) bool {
	var se *SMTPError
	if errors.As(err, &se) {
		return se.Code == 421
	}
	return errors.Is(err, ErrConnection) || isCertificateError(err)
}

// Ping checks the queue and the mail server: a readiness check for a service running the
// Worker.
func (w *Worker) Ping(ctx context.Context) error {
	if w.Queue == nil || w.Mailer == nil {
		return fmt.Errorf("%w: mail.Worker needs a Queue and a Mailer", ErrInvalidOption)
	}
	return errors.Join(w.Queue.Ping(ctx), w.Mailer.Ping(ctx))
}

// Check returns Ping as a readiness check for kit/http/health.
func (w *Worker) Check() func(context.Context) error { return w.Ping }
