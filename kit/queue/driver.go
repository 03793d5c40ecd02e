package queue

import (
	"context"
	"iter"
	"time"
)

// Driver is what a queue backend implements: storage, delivery and acknowledgement. The portable
// [Queue] validates subjects, names and options, runs the consume loop (concurrency, backoff, dead
// letters, draining, ack-wait extension), propagates trace context and records telemetry; a driver
// only does I/O. Drivers must be safe for concurrent use, and every method honours ctx.
//
// Delivery semantics a driver provides (queuetest checks them):
//
//   - A message is stored once Publish returns nil; a message with an ID already stored within
//     the de-duplication window is dropped silently.
//   - Each message on a subject is delivered to one durable consumer whose subject matches
//     (work-queue semantics), and within it to one subscription at a time; it is removed when
//     acknowledged.
//   - A delivered message not acknowledged, nak'd or extended within AckWait is delivered again,
//     with its delivery count incremented.
type Driver interface {
	// Capabilities describes the backend to the portable type.
	Capabilities() Capabilities
	// Publish stores m on m.Subject; m.ID (if set) de-duplicates, m.Header is already validated
	// and canonical. m and its Header are copies the driver may keep or modify.
	Publish(ctx context.Context, m *Message) error
	// Subscribe creates the durable consumer c.Name, or updates it to c, and returns a
	// subscription to it. A subject overlapping another consumer's is ErrConflict.
	Subscribe(ctx context.Context, c ConsumerConfig) (Subscription, error)
	// DeleteConsumer removes the durable consumer and its delivery state (not its messages);
	// ErrNotFound if there is none.
	DeleteConsumer(ctx context.Context, name string) error
	// Purge removes the stored messages whose subject matches subject (wildcards allowed) and
	// returns how many.
	Purge(ctx context.Context, subject string) (int, error)

	// PublishDead stores m as a dead letter on subject, which the consumer's DeadLetterSubject option
	// chose; m already carries the Kit-Dead-* headers, its original ID (which DeadLetters must give
	// back) and Seq (its position in the queue, which may de-duplicate a repeated dead-lettering of
	// the same message). m is a copy the driver may keep or modify.
	PublishDead(ctx context.Context, subject string, m *Message) error
	// DeadLetters yields the dead letters stored for consumer (on its dead-letter subject), oldest
	// first, with Seq set to their position in the dead-letter store. It may yield dead letters
	// of other consumers sharing that subject; the portable type filters on Kit-Dead-Consumer.
	DeadLetters(ctx context.Context, consumer string) iter.Seq2[*Message, error]
	// DeleteDead removes the dead letter at seq and reports whether it was there.
	DeleteDead(ctx context.Context, seq uint64) (bool, error)
	// DefaultDeadLetter returns the dead-letter subject of a consumer that did not choose one.
	DefaultDeadLetter(consumer string) string

	// Stats counts what the backend holds: stored messages and dead letters, and each durable
	// consumer's pending, ack-pending and redelivered messages and dead letters (see [Stats] for
	// what each count means; queuetest checks them exactly). It must create nothing. Backend is
	// filled in by the portable type.
	Stats(ctx context.Context) (*Stats, error)

	// Ping checks that the backend answers.
	Ping(ctx context.Context) error
	// Close releases the backend. Subscriptions still open end.
	Close() error
}

// ConsumerConfig is a durable consumer as the portable type asks a driver for it.
type ConsumerConfig struct {
	Name       string        // durable name: letters, digits, '-' and '_'
	Subject    string        // filter; may hold wildcards
	DeadLetter string        // subject of its dead letters
	AckWait    time.Duration // redeliver a message not acked, nak'd or extended within this
	// MaxAckPending bounds the messages delivered and not yet acknowledged, across every
	// subscription to the consumer (0: the backend's default).
	MaxAckPending int
	// InactiveThreshold, when positive, has the backend remove the consumer once it has had no
	// subscription for this long (0: the consumer stays until DeleteConsumer).
	InactiveThreshold time.Duration
}

// Subscription receives deliveries for one consumer.
type Subscription interface {
	// Fetch returns between 1 and max deliveries, waiting for the first; it may return none
	// after a backend-chosen poll interval. When ctx is done it returns ctx's error, and no
	// delivery it got hold of is lost: the driver releases them for redelivery.
	Fetch(ctx context.Context, max int) ([]Delivery, error)
	// Close ends the subscription, releasing deliveries fetched but not returned; the durable
	// consumer and its messages stay.
	Close() error
}

// Delivery is one delivered message.
type Delivery interface {
	// Message returns the message, with Delivery, Published and Seq set and its header
	// canonicalised.
	Message() *Message
	// Ack acknowledges the message; it returns once the backend confirmed, so an acked message
	// is not delivered again.
	Ack(ctx context.Context) error
	// Nak releases the message for redelivery after delay.
	Nak(ctx context.Context, delay time.Duration) error
	// InProgress resets the ack-wait timer: the handler is still working.
	InProgress(ctx context.Context) error
}

// Capabilities tells the portable type about a backend.
type Capabilities struct {
	// Name is the backend's name for telemetry and messages: "memory", "nats".
	Name string
	// DedupWindow is how long a message ID is remembered for de-duplication.
	DedupWindow time.Duration
}
