package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stackkit/stackkit/kit/queue"
)

// Stats reads the work stream's and the dead-letter stream's state and every consumer's info:
// NumPending, NumAckPending and NumRedelivered, and the dead-letter stream's message count on
// each consumer's dead-letter subject. It only reads: a stream that is not there is ErrNotFound.
func (d *Driver) Stats(ctx context.Context) (*queue.Stats, error) {
	ctx, cancel := withDefaultTimeout(ctx, d.js.Options().DefaultTimeout)
	defer cancel()
	work, err := d.js.Stream(ctx, d.cfg.Stream)
	if err != nil {
		return nil, d.notExist(err, "stream "+d.cfg.Stream)
	}
	wi := work.CachedInfo()
	s := &queue.Stats{
		Name:     d.cfg.Stream,
		Subjects: wi.Config.Subjects,
		Messages: wi.State.Msgs,
		Bytes:    int64(wi.State.Bytes),
	}
	// Per-subject counts of the dead letters: one subject per consumer (or a few shared ones).
	dead, err := d.js.Stream(ctx, d.cfg.DeadStream)
	if err != nil {
		return nil, d.notExist(err, "dead-letter stream "+d.cfg.DeadStream)
	}
	di, err := dead.Info(ctx, jetstream.WithSubjectFilter(">"))
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", d.cfg.DeadStream, d.mapErr(err, ""))
	}
	s.DeadLetters, s.DeadBytes = di.State.Msgs, int64(di.State.Bytes)

	consumers := work.ListConsumers(ctx)
	for ci := range consumers.Info() {
		cfg := ci.Config
		subject := cfg.FilterSubject
		if subject == "" {
			subject = strings.Join(cfg.FilterSubjects, ",")
		}
		deadSubject := deadSubjectIn(cfg)
		if deadSubject == "" {
			deadSubject = d.DefaultDeadLetter(ci.Name)
		}
		s.Consumers = append(s.Consumers, queue.ConsumerStats{
			Name:              ci.Name,
			Subject:           subject,
			DeadLetterSubject: deadSubject,
			Pending:           ci.NumPending,
			AckPending:        uint64(max(ci.NumAckPending, 0)),
			Redelivered:       uint64(max(ci.NumRedelivered, 0)),
			DeadLetters:       di.State.Subjects[deadSubject],
		})
	}
	if err := consumers.Err(); err != nil {
		return nil, fmt.Errorf("consumers of stream %s: %w", d.cfg.Stream, d.mapErr(err, ""))
	}
	return s, nil
}

// notExist maps the error of looking up what, naming it.
func (d *Driver) notExist(err error, what string) error {
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("%w: %s does not exist", queue.ErrNotFound, what)
	}
	return fmt.Errorf("%s: %w", what, d.mapErr(err, ""))
}

// deadSubjectIn returns the dead-letter subject a consumer's configuration records, or "".
func deadSubjectIn(cfg jetstream.ConsumerConfig) string {
	if s := cfg.Metadata[metaDeadLetter]; s != "" {
		return s
	}
	if s, ok := strings.CutPrefix(cfg.Description, descDeadLetter); ok && s != "" {
		return s
	}
	return ""
}
