package queue

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// Stats is what a queue holds, as its backend counts it: the answer to "is the backlog
// draining?". Counts are a snapshot; on a busy queue they move while they are read.
type Stats struct {
	// Backend names the backend ("memory", "nats").
	Backend string `json:"backend"`
	// Name is the queue's name in the backend (the JetStream work stream), "" when it has none.
	Name string `json:"name,omitempty"`
	// Subjects are the subjects the queue stores, when the backend restricts them.
	Subjects []string `json:"subjects,omitempty"`
	// Messages counts the stored messages: waiting, delivered and not yet acknowledged (on a
	// work-queue stream an acknowledged message is removed).
	Messages uint64 `json:"messages"`
	// Bytes is the storage they take as the backend counts it (JetStream counts subjects,
	// headers and data), or -1 when the backend cannot tell.
	Bytes int64 `json:"bytes"`
	// DeadLetters counts the stored dead letters, of every consumer.
	DeadLetters uint64 `json:"dead_letters"`
	// DeadBytes is the dead letters' storage, or -1 when the backend cannot tell.
	DeadBytes int64 `json:"dead_bytes"`
	// Consumers are the durable consumers, by name.
	Consumers []ConsumerStats `json:"consumers"`
}

// ConsumerStats is one durable consumer's backlog.
type ConsumerStats struct {
	// Name is the consumer's durable name.
	Name string `json:"name"`
	// Subject is the subject it consumes (it may hold wildcards).
	Subject string `json:"subject"`
	// DeadLetterSubject is where its dead letters go.
	DeadLetterSubject string `json:"dead_letter_subject"`
	// Pending counts the messages on its subject never delivered yet: its backlog.
	Pending uint64 `json:"pending"`
	// AckPending counts the messages delivered and not yet acknowledged: held by a handler, or
	// waiting to be delivered again after a failure (a retry's backoff) or a lost process.
	AckPending uint64 `json:"ack_pending"`
	// Redelivered counts, among those, the messages delivered more than once.
	Redelivered uint64 `json:"redelivered"`
	// DeadLetters counts the dead letters stored on its dead-letter subject (shared with any
	// other consumer that chose the same subject).
	DeadLetters uint64 `json:"dead_letters"`
}

// Stats reports what the queue holds: its messages and dead letters, and each durable consumer's
// backlog. It reads and creates nothing; open the queue with WithCreate(false) (or the URL
// option create=false) to create nothing on open either.
func (q *Queue) Stats(ctx context.Context) (*Stats, error) {
	if q.closed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := q.d.Stats(ctx)
	if err != nil {
		return nil, q.wrap("stats", err)
	}
	s.Backend = q.caps.Name
	if s.Consumers == nil {
		s.Consumers = []ConsumerStats{}
	}
	slices.SortFunc(s.Consumers, func(a, b ConsumerStats) int { return cmp.Compare(a.Name, b.Name) })
	return s, nil
}

// ConsumerStats reports the backlog of the durable consumer name, or an error wrapping ErrNotFound
// that names it when the backend has no such consumer.
func (q *Queue) ConsumerStats(ctx context.Context, name string) (*ConsumerStats, error) {
	if err := ValidateName(name); err != nil {
		return nil, fmt.Errorf("queue: consumer stats: %w: %w", ErrInvalidOption, err)
	}
	s, err := q.Stats(ctx)
	if err != nil {
		return nil, err
	}
	for i := range s.Consumers {
		if s.Consumers[i].Name == name {
			return &s.Consumers[i], nil
		}
	}
	return nil, q.notFound(s, name)
}

// notFound is the error for a consumer s does not have.
func (q *Queue) notFound(s *Stats, name string) error {
	where := "in the " + q.caps.Name + " queue"
	if s.Name != "" {
		where = "on stream " + s.Name
	}
	return fmt.Errorf("queue %s: %w: consumer %s does not exist %s", q.caps.Name, ErrNotFound, name, where)
}
