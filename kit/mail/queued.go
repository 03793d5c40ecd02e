package mail

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/stackkit/stackkit/kit/queue"
	"github.com/stackkit/stackkit/kit/registry"
)

// DefaultSubject is the queue subject queued mail is published to and a Worker consumes.
const DefaultSubject = "kit.mail"

// Headers of a queued message. Its data is the RFC 5322 message itself (an .eml as the
// recipient will get it), its queue ID the Message-ID; the envelope travels in these headers,
// because the Bcc recipients are in no header of the message.
const (
	HeaderQueueFrom   = "Kit-Mail-From"   // the envelope sender
	HeaderQueueTo     = "Kit-Mail-To"     // one value per envelope recipient
	HeaderQueueFormat = "Kit-Mail-Format" // "rfc5322"
)

const queueFormat = "rfc5322"

// Queued is the driver of a queued Mailer: Send publishes each message to a kit/queue subject
// for a [Worker] to deliver. Capabilities().Queued is true.
type Queued struct {
	q       *queue.Queue
	subject string
	owned   bool // opened from a queue+ URL: Close closes the queue
}

// NewQueued returns a Mailer that publishes messages to subject on q (DefaultSubject when
// empty) instead of sending them; a Worker consuming that subject sends them. The caller keeps
// q: closing the Mailer does not close it.
//
// A message is published with its Message-ID as the queue message ID, so publishing it twice
// within the queue's de-duplication window (2 minutes by default) stores it once: give
// messages stable IDs ([StableMessageID]) where a retry could enqueue them again.
func NewQueued(q *queue.Queue, subject string, opts ...Option) (*Mailer, error) {
	d, err := newQueuedDriver(q, subject, false)
	if err != nil {
		return nil, err
	}
	return newMailer(d, opts)
}

func newQueuedDriver(q *queue.Queue, subject string, owned bool) (*Queued, error) {
	if q == nil {
		return nil, fmt.Errorf("%w: NewQueued: nil queue", ErrInvalidOption)
	}
	if subject == "" {
		subject = DefaultSubject
	}
	if err := queue.ValidateSubject(subject, false); err != nil {
		return nil, fmt.Errorf("%w: queue subject: %w", ErrInvalidOption, err)
	}
	return &Queued{q: q, subject: subject, owned: owned}, nil
}

// Queue returns the queue messages are published to.
func (d *Queued) Queue() *queue.Queue { return d.q }

// Subject returns the subject messages are published to.
func (d *Queued) Subject() string { return d.subject }

// Capabilities implements Driver.
func (*Queued) Capabilities() Capabilities { return Capabilities{Name: "queue", Queued: true} }

// Send implements Driver: it publishes env. A publish that fails for any reason but a closed
// queue or an invalid message is temporary (wraps ErrConnection).
func (d *Queued) Send(ctx context.Context, env *Envelope) error {
	h := make(queue.Header, 3)
	h.Set(HeaderQueueFormat, queueFormat)
	h.Set(HeaderQueueFrom, env.From)
	for _, to := range env.To {
		h.Add(HeaderQueueTo, to)
	}
	err := d.q.Publish(ctx, &queue.Message{ID: env.MessageID, Subject: d.subject, Header: h, Data: env.Data})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, queue.ErrInvalidMessage):
		return fmt.Errorf("%w: enqueue: %w", ErrInvalidMessage, err)
	case errors.Is(err, queue.ErrClosed), ctx.Err() != nil:
		return fmt.Errorf("mail: enqueue: %w", err)
	default:
		return fmt.Errorf("%w: enqueue: %w", ErrConnection, err)
	}
}

// Ping implements Pinger: the queue's ping.
func (d *Queued) Ping(ctx context.Context) error { return d.q.Ping(ctx) }

// Close implements Driver; it closes the queue only when the Mailer opened it from a URL.
func (d *Queued) Close() error {
	if d.owned {
		return d.q.Close()
	}
	return nil
}

// QueuedEnvelope reads the envelope of a message a queued Mailer published (a delivery, or a
// dead letter). An error wraps ErrInvalidMessage.
func QueuedEnvelope(m *queue.Message) (*Envelope, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: nil queue message", ErrInvalidMessage)
	}
	if f := m.Header.Get(HeaderQueueFormat); f != queueFormat {
		return nil, fmt.Errorf("%w: queue message %q has %s %q (want %q): not queued by kit/mail", ErrInvalidMessage, m.ID, HeaderQueueFormat, f, queueFormat)
	}
	env := &Envelope{MessageID: m.ID, From: m.Header.Get(HeaderQueueFrom), To: m.Header.Values(HeaderQueueTo), Data: m.Data}
	// The message's own Message-ID is authoritative: a re-driven message has a new queue ID.
	if h, err := env.Header(); err == nil {
		if id, err := normalizeMessageID(h.Get("Message-Id")); err == nil {
			env.MessageID = id
		}
	}
	if err := env.validate(); err != nil {
		return nil, fmt.Errorf("queue message %q: %w", m.ID, err)
	}
	return env, nil
}

// queuedURL reports whether rawURL is a queue+<queue URL> and returns the queue URL.
func queuedURL(rawURL string) (string, bool) {
	const prefix = "queue+"
	if len(rawURL) > len(prefix) && strings.EqualFold(rawURL[:len(prefix)], prefix) {
		return rawURL[len(prefix):], true
	}
	return "", false
}

// queuedOptions are the options of a queue+ URL that belong to the Mailer; the others go to
// the queue.
var queuedOptions = []string{"mail_subject", "default_from", "message_id_domain"}

// openQueued opens queue+<queue URL>: the queue at the inner URL (options mail_subject,
// default_from and message_id_domain taken out), owned by the driver.
func openQueued(ctx context.Context, rawURL, inner string, portable func(*registry.Options)) (Driver, error) {
	u, err := registry.Parse(inner)
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	query := u.Query()
	mine := url.Values{}
	for _, k := range queuedOptions {
		if v, ok := query[k]; ok {
			mine[k] = v
			query.Del(k)
		}
	}
	opts := registry.NewOptions(mine)
	portable(opts)
	subject := opts.String("mail_subject", DefaultSubject)
	if err := opts.Err(); err != nil {
		return nil, fmt.Errorf("mail: open %q: %w", registry.Redact(rawURL), err)
	}
	u.RawQuery = query.Encode()
	q, err := queue.Open(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("mail: open %q: %w", registry.Redact(rawURL), registry.Scrub(err, u))
	}
	d, err := newQueuedDriver(q, subject, true)
	if err != nil {
		_ = q.Close()
		return nil, fmt.Errorf("mail: open %q: %w", registry.Redact(rawURL), err)
	}
	return d, nil
}
