package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

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
// are not retried, as a retry would duplicate the mail to the others. A temporary failure (4xx reply, connection error)
// and any failure not known to be permanent is retried on the consumer's backoff, up to its
// MaxDeliveries, then dead-lettered. A permanent failure (5xx reply, invalid message) is
// dead-lettered at once with the error as the reason, which holds the server's reply.
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
	// queue.AckWait, queue.Timeout, queue.DeadLetterSubject. The Worker adds queue.Ready
	// itself: wait on [Worker.Ready].
	Options []queue.ConsumeOption
	// Logger receives a line per permanent failure, partial delivery and redelivery (default
	// slog.Default()).
	Logger *slog.Logger

	once      sync.Once
	ready     chan struct{}
	readyOnce sync.Once
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
	opts := append(slices.Clone(w.Options), queue.Ready(func() { w.readyOnce.Do(func() { close(w.ready) }) }))
	return w.Queue.Consume(ctx, w.consumer(), w.subject(), w.Handle, opts...)
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
		w.logger().LogAttrs(ctx, slog.LevelInfo, "mail: redelivered message; it may have been sent already",
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
	default:
		return err
	}
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
